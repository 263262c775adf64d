package mysql

import (
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
)

// TestMySQLAuthMatches: the proof of a stranded clone recomputes each
// plugin's authentication string from the pending password and matches
// only the string that password made.
func TestMySQLAuthMatches(t *testing.T) {
	// A MySQL-style salt: 20 bytes, any but NUL and '$' (quotes,
	// backslashes and control bytes included).
	const salt = "a'b\\c\x01\x7f/.Zz09xyzXYZ!"
	if len(salt) != mysqlhash.CachingSHA2SaltLen {
		t.Fatalf("test salt has %d bytes", len(salt))
	}
	sha2 := "$A$005$" + salt + mysqlhash.SHA256Crypt("pending pw", salt, 5000)
	sha2Rounds := "$A$00A$" + salt + mysqlhash.SHA256Crypt("pending pw", salt, 10000)
	fixed, err := mysqlhash.CachingSHA2("pending pw", "./0123456789ABCDEFGH")
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(s string) string { // flips the last character
		last := s[len(s)-1]
		if last == 'A' {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	}
	tests := []struct {
		name, plugin, stored, password string
		want                           bool
	}{
		// MariaDB 10.11: SELECT PASSWORD('password').
		{"native, known answer", pluginNative, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "password", true},
		{"native, another password", pluginNative, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "Password", false},
		{"native, lower-case hex is not what the server stores", pluginNative, strings.ToLower(mysqlhash.Native("password")), "password", false},
		{"native, no password stored", pluginNative, "", "password", false},
		{"native, empty pending password", pluginNative, mysqlhash.Native(""), "", false},
		// MariaDB 10.11: IDENTIFIED VIA ed25519 USING PASSWORD('pwe').
		{"ed25519, known answer", pluginEd25519, "cIHY4EthNtvkqHNA20Baf5D5Q2QK1TyZ3uCknKn3L6U", "pwe", true},
		{"ed25519, another password", pluginEd25519, "cIHY4EthNtvkqHNA20Baf5D5Q2QK1TyZ3uCknKn3L6U", "pwf", false},
		{"caching_sha2, the engine's own salt", pluginCachingSHA2, fixed, "pending pw", true},
		{"caching_sha2, a binary salt", pluginCachingSHA2, sha2, "pending pw", true},
		{"caching_sha2, 10000 rounds", pluginCachingSHA2, sha2Rounds, "pending pw", true},
		{"caching_sha2, another password", pluginCachingSHA2, sha2, "pending pW", false},
		{"caching_sha2, digest changed", pluginCachingSHA2, tamper(sha2), "pending pw", false},
		{"caching_sha2, rounds field changed", pluginCachingSHA2, strings.Replace(sha2, "$A$005$", "$A$006$", 1), "pending pw", false},
		{"caching_sha2, zero rounds", pluginCachingSHA2, "$A$000$" + sha2[7:], "pending pw", false},
		{"caching_sha2, truncated", pluginCachingSHA2, sha2[:len(sha2)-1], "pending pw", false},
		{"caching_sha2, '$' in the salt", pluginCachingSHA2, "$A$005$" + "$" + salt[1:] + sha2[27:], "pending pw", false},
		{"caching_sha2, not a $A$ string", pluginCachingSHA2, "$5$" + sha2[3:], "pending pw", false},
		{"another plugin's string", pluginNative, fixed, "pending pw", false},
		{"a plugin without a password hash", "unix_socket", "", "pending pw", false},
		{"an unknown plugin with a native hash", "pam", mysqlhash.Native("pending pw"), "pending pw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authMatches(tt.plugin, tt.stored, tt.password); got != tt.want {
				t.Errorf("authMatches(%s, ...) = %v, want %v", tt.plugin, got, tt.want)
			}
		})
	}
}
