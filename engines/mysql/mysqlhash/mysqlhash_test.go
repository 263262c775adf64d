package mysqlhash

import (
	"strings"
	"testing"
)

func TestMySQLHashNative(t *testing.T) {
	tests := []struct{ password, want string }{
		// MariaDB 10.11: SELECT PASSWORD('password'), PASSWORD('pw2').
		{"password", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"},
		{"pw2", "*B27918D2D9402882CEADA0EF687D35FBDC137D72"},
	}
	for _, tt := range tests {
		if got := Native(tt.password); got != tt.want {
			t.Errorf("Native(%q) = %s, want %s", tt.password, got, tt.want)
		}
	}
}

func TestMariaDBHashEd25519(t *testing.T) {
	// MariaDB 10.11: CREATE USER ... IDENTIFIED VIA ed25519 USING PASSWORD('pwe')
	// stored this authentication string.
	if got, want := Ed25519("pwe"), "cIHY4EthNtvkqHNA20Baf5D5Q2QK1TyZ3uCknKn3L6U"; got != want {
		t.Errorf("Ed25519(pwe) = %s, want %s", got, want)
	}
}

func TestMySQLHashSHA256Crypt(t *testing.T) {
	// Drepper's test vectors and glibc's crypt(3) ("$5$"); glibc truncates
	// salts at 16 characters, which the 16-character salts here are.
	tests := []struct {
		password, salt string
		rounds         int
		want           string
	}{
		{"Hello world!", "saltstring", 5000, "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"Hello world!", "saltstringsaltst", 10000, "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{`p'"x y\`, "abcdefghijklmnop", 5000, "VBzuBl8358dTfjxjIstB6wuFaL5V/q6qm14484LD1H1"},
	}
	for _, tt := range tests {
		if got := SHA256Crypt(tt.password, tt.salt, tt.rounds); got != tt.want {
			t.Errorf("SHA256Crypt(%q, %q, %d) = %s, want %s", tt.password, tt.salt, tt.rounds, got, tt.want)
		}
	}
}

func TestMySQLHashCachingSHA2(t *testing.T) {
	salt, err := NewSalt(CachingSHA2SaltLen)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CachingSHA2("secret", salt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "$A$005$"+salt) || len(got) != 7+20+43 {
		t.Fatalf("CachingSHA2 = %q", got)
	}
	for _, c := range got {
		if !strings.ContainsRune(SaltAlphabet+"$", c) {
			t.Fatalf("character %q outside the literal-safe alphabet", c)
		}
	}
	if _, err := CachingSHA2("x", "short"); err == nil {
		t.Fatal("a short salt was accepted")
	}
	if _, err := CachingSHA2("x", "aaaaaaaaaaaaaaaaaaa$"); err == nil {
		t.Fatal("a salt with '$' was accepted")
	}
}
