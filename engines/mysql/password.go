package mysql

import (
	"crypto/subtle"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
)

// Passwords go to the server as the authentication string the account's
// plugin stores, computed here, so the plaintext never reaches the
// server's general, slow or binary log:
//
//   - mysql_native_password: "*" + hex(SHA1(SHA1(password)));
//   - caching_sha2_password (MySQL 8): "$A$005$" + salt + SHA-256-crypt;
//   - ed25519 (MariaDB): the Ed25519 public key derived from the password.
//
// Neither server takes a placeholder in these statements (MariaDB 10.11
// answers a syntax error for ALTER USER ?@?, SET PASSWORD FOR ... = ? and
// IDENTIFIED ... USING ?), so the hash is embedded as a literal after a
// strict check of its shape (hashShapes: no quote, no backslash), and the
// account name is quoted by account().
//
// MariaDB takes it as SET PASSWORD FOR account = 'hash' (which keeps the
// account's plugin and needs no privilege for one's own account), MySQL as
// ALTER USER account IDENTIFIED WITH plugin AS 'hash'. Accounts with any
// other plugin are refused (ErrUnsupportedPlugin): the engine never sends a
// plaintext password to set one. The dual-password statement is the one
// exception, and only on MySQL (see SetPasswordRetainingCurrent).

// Authentication plugin names as the servers store them.
const (
	pluginNative      = "mysql_native_password"
	pluginCachingSHA2 = "caching_sha2_password"
	pluginEd25519     = "ed25519" // MariaDB's server-side name (client_ed25519 on the wire)
)

// The shapes of the authentication strings the engine sends: each alphabet
// holds no quote or backslash, so a checked string is a plain literal
// whatever sql_mode says.
var hashShapes = map[string]*regexp.Regexp{
	pluginNative:      regexp.MustCompile(`^\*[0-9A-F]{40}$`),
	pluginCachingSHA2: regexp.MustCompile(`^\$A\$005\$[./0-9A-Za-z]{63}$`),
	pluginEd25519:     regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`),
}

// authString computes the authentication string of password for plugin.
func authString(server serverInfo, plugin, password string) (string, error) {
	var h string
	switch plugin {
	case pluginNative:
		h = mysqlhash.Native(password)
	case pluginEd25519:
		if !server.mariaDB {
			return "", fmt.Errorf("%w: %q is MariaDB's plugin", ErrUnsupportedPlugin, plugin)
		}
		h = mysqlhash.Ed25519(password)
	case pluginCachingSHA2:
		if server.mariaDB {
			return "", fmt.Errorf("%w: MariaDB has no %s", ErrUnsupportedPlugin, plugin)
		}
		salt, err := mysqlhash.NewSalt(mysqlhash.CachingSHA2SaltLen)
		if err != nil {
			return "", err
		}
		if h, err = mysqlhash.CachingSHA2(password, salt); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("%w: the account authenticates with %q; the engine sets passwords only as hashes it computes itself (%s, %s, MariaDB's %s), never in plaintext",
			ErrUnsupportedPlugin, plugin, pluginNative, pluginCachingSHA2, pluginEd25519)
	}
	if !hashShapes[plugin].MatchString(h) {
		return "", fmt.Errorf("unexpected %s authentication string shape", plugin)
	}
	return h, nil
}

// authMatches reports whether stored, an account's authentication string
// for plugin as mysql.user holds it, was made from password: the
// deterministic hashes (mysql_native_password, ed25519) are recomputed,
// caching_sha2_password's with the salt and iteration count stored in it.
// The comparison takes constant time, and neither value goes anywhere
// else. Any other plugin, an empty password or an empty or malformed
// string does not match.
func authMatches(plugin, stored, password string) bool {
	if password == "" || stored == "" {
		return false
	}
	var want string
	switch plugin {
	case pluginNative:
		want = mysqlhash.Native(password)
	case pluginEd25519:
		want = mysqlhash.Ed25519(password)
	case pluginCachingSHA2:
		// "$A$" + the iteration count / 1000 as 3 hex digits + "$" +
		// a 20-byte salt (any byte but NUL and '$') + 43 digest characters.
		const head = len("$A$000$")
		if len(stored) != head+mysqlhash.CachingSHA2SaltLen+43 || stored[:3] != "$A$" || stored[6] != '$' {
			return false
		}
		n, err := strconv.ParseUint(stored[3:6], 16, 16)
		if err != nil || n == 0 {
			return false
		}
		salt := stored[head : head+mysqlhash.CachingSHA2SaltLen]
		if strings.ContainsAny(salt, "\x00$") {
			return false
		}
		want = stored[:head] + salt + mysqlhash.SHA256Crypt(password, salt, int(n)*1000)
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(stored)) == 1
}

// setPasswordSQL is the statement that gives acct the authentication string
// hash of plugin.
func setPasswordSQL(server serverInfo, acct, plugin, hash string) (string, error) {
	re, ok := hashShapes[plugin]
	if !ok || !re.MatchString(hash) {
		return "", fmt.Errorf("refusing an authentication string that is not a %s hash", plugin)
	}
	if server.mariaDB {
		return "SET PASSWORD FOR " + acct + " = '" + hash + "'", nil
	}
	return "ALTER USER " + acct + " IDENTIFIED WITH " + plugin + " AS '" + hash + "'", nil
}

// createUserSQL creates acct with plugin's authentication string.
func createUserSQL(server serverInfo, acct, plugin, hash string) (string, error) {
	re, ok := hashShapes[plugin]
	if !ok || !re.MatchString(hash) {
		return "", fmt.Errorf("refusing an authentication string that is not a %s hash", plugin)
	}
	if server.mariaDB {
		if plugin == pluginNative {
			return "CREATE USER " + acct + " IDENTIFIED BY PASSWORD '" + hash + "'", nil
		}
		return "CREATE USER " + acct + " IDENTIFIED VIA " + plugin + " USING '" + hash + "'", nil
	}
	return "CREATE USER " + acct + " IDENTIFIED WITH " + plugin + " AS '" + hash + "'", nil
}

// pluginOf reads the authentication plugin from SHOW CREATE USER's text.
// MariaDB prints IDENTIFIED BY PASSWORD '...' for mysql_native_password,
// IDENTIFIED VIA plugin [USING '...'] [OR ...] for others, and nothing for
// an account without a password; MySQL prints IDENTIFIED WITH 'plugin' AS
// '...'. More than one authentication rule (MariaDB's OR) is refused.
func pluginOf(server serverInfo, createUser string) (string, error) {
	toks, ok := tokenize(createUser)
	if !ok {
		return "", fmt.Errorf("cannot read SHOW CREATE USER")
	}
	for i := 0; i < len(toks); i++ {
		if !isWords(toks, i, "IDENTIFIED") {
			continue
		}
		if isWords(toks, i+1, "BY", "PASSWORD") || isWords(toks, i+1, "BY") {
			return pluginNative, nil
		}
		if i+2 >= len(toks) || !(isWords(toks, i+1, "VIA") || isWords(toks, i+1, "WITH")) {
			return "", fmt.Errorf("cannot read the account's authentication")
		}
		plugin := toks[i+2].val
		if toks[i+2].kind == tokWord {
			plugin = strings.ToLower(toks[i+2].text)
		}
		for j := i + 3; j < len(toks); j++ {
			if isWords(toks, j, "OR") {
				return "", fmt.Errorf("%w: the account has several authentication methods (IDENTIFIED VIA ... OR ...); the engine changes accounts with one", ErrUnsupportedPlugin)
			}
			if isWords(toks, j, "REQUIRE") || isWords(toks, j, "WITH") || isWords(toks, j, "PASSWORD") || isWords(toks, j, "ACCOUNT") || isWords(toks, j, "DEFAULT") {
				break
			}
		}
		return plugin, nil
	}
	if server.mariaDB {
		return pluginNative, nil // no password: the default plugin
	}
	return "", fmt.Errorf("cannot read the account's authentication plugin")
}

// sqlString quotes a string literal for a session whose sql_mode may or may
// not have NO_BACKSLASH_ESCAPES: a quote is doubled (valid in both), and a
// backslash is refused, since its meaning depends on the mode. Values the
// engine quotes this way are REQUIRE clause texts it copies.
func sqlString(s string) (string, bool) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", false
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", true
}
