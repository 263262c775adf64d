package postgres

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // PostgreSQL's md5 password format, used only when the server asks for it
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// SCRAM-SHA-256 parameters, as PostgreSQL's own defaults
// (scram_iterations = 4096, 16-byte salt).
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// The exact shapes of the two verifier forms. Their alphabets (base64
// without "-_", lowercase hex, and the fixed "SCRAM-SHA-256$4096:" / "md5"
// prefixes) hold no quote, backslash or whitespace.
var (
	scramVerifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)
	md5VerifierRE   = regexp.MustCompile(`^md5[0-9a-f]{32}$`)
)

// scramVerifier computes the SCRAM-SHA-256 verifier of password with salt,
// in PostgreSQL's stored form (RFC 5802 and RFC 7677):
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations), StoredKey
// = SHA-256(HMAC(SaltedPassword, "Client Key")), ServerKey =
// HMAC(SaltedPassword, "Server Key"), all base64 (standard, padded).
// PostgreSQL would first apply SASLprep to the password; callers pass ASCII
// only, for which SASLprep changes nothing.
func scramVerifier(password string, salt []byte) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("pbkdf2: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// md5Verifier is PostgreSQL's md5 form: "md5" + hex(md5(password + user)).
func md5Verifier(user, password string) string {
	sum := md5.Sum([]byte(password + user)) //nolint:gosec // the server's format
	return "md5" + hex.EncodeToString(sum[:])
}

// checkNewPassword rejects passwords that client-side hashing cannot handle
// the way the server and every client would.
func checkNewPassword(password string) error {
	if password == "" {
		return &rotator.FieldError{Field: rotator.FieldPassword, Reason: "is empty", Err: rotator.ErrMissingField}
	}
	for i := 0; i < len(password); i++ {
		switch c := password[i]; {
		case c == 0:
			return &rotator.FieldError{Field: rotator.FieldPassword, Reason: "holds a NUL character", Err: rotator.ErrInvalidField}
		case c >= 0x80:
			// SASLprep (NFKC and RFC 4013's tables) would have to be applied
			// exactly as the server does; ASCII needs none.
			return &rotator.FieldError{Field: rotator.FieldPassword, Reason: "holds non-ASCII characters; the new password is hashed client-side and must be ASCII (generated passwords always are)", Err: rotator.ErrInvalidField}
		}
	}
	return nil
}

// verifierFor returns the stored form of password for role under the
// server's password_encryption.
func verifierFor(passwordEncryption, role, password string) (string, error) {
	switch strings.ToLower(passwordEncryption) {
	case "scram-sha-256":
		salt := make([]byte, scramSaltLen)
		if _, err := rand.Read(salt); err != nil {
			return "", fmt.Errorf("salt: %w", err)
		}
		return scramVerifier(password, salt)
	case "md5", "on": // "on" meant md5 before PostgreSQL 14
		return md5Verifier(role, password), nil
	}
	return "", fmt.Errorf("the server's password_encryption is %q; only scram-sha-256 and md5 can be hashed client-side", passwordEncryption)
}

// verifierFor is the package's verifierFor under the engine's md5 rule:
// an md5 verifier is what md5 authentication checks a login against, so
// whoever reads it (the statement log, anyone on an unverified connection)
// can log in with it; the engine makes one only with WithAllowMD5.
func (e *Engine) verifierFor(passwordEncryption, role, password string) (string, error) {
	if hashName(passwordEncryption) == "md5" && !e.allowMD5 {
		return "", &reasonError{kind: ErrMD5Verifier, reason: "the server's password_encryption is md5; an md5 verifier can be replayed as the password for md5 logins by whoever reads it (the server's statement log, a man in the middle), so the engine sends one only when $" + EnvAllowMD5 + "=true (or WithAllowMD5). Better: set password_encryption = 'scram-sha-256' on the server (RDS: the parameter group) or for the role (ALTER ROLE ... SET password_encryption = 'scram-sha-256')"}
	}
	return verifierFor(passwordEncryption, role, password)
}

// reasonError is a sentinel with the text that explains it.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

var errBadVerifier = errors.New("internal error: the computed verifier does not have the expected form")

// passwordLiteral returns the SQL string literal holding a verifier.
//
// ALTER ROLE / CREATE ROLE ... PASSWORD takes a string literal and never a
// bind parameter (utility statements have no parameters), so the value
// has to be embedded in the statement text. Only a verifier is ever
// embedded, never a password, and it is checked against the exact shape of
// its form first: that alphabet holds no quote or backslash, so the
// literal cannot be broken out of whatever the password was. The error
// does not quote the value.
func passwordLiteral(verifier string) (string, error) {
	if !scramVerifierRE.MatchString(verifier) && !md5VerifierRE.MatchString(verifier) {
		return "", errBadVerifier
	}
	return "'" + verifier + "'", nil
}

// quoteLiteral quotes any string as an escape-string literal (E'...'),
// which means the same whatever standard_conforming_strings says. Used for
// role names and settings values read from the catalogs, never for
// passwords.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}
