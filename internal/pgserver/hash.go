package pgserver

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
)

// Deliberately separate from the engine's implementation: the servers that
// test and demonstrate the engine must not depend on the code under test.

var verifierRE = regexp.MustCompile(`^(SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=|md5[0-9a-f]{32})$`)

// hashPassword returns the stored form of password for the server's
// password_encryption setting.
func hashPassword(encryption, user, password string) string {
	if encryption == "md5" || encryption == "on" {
		sum := md5.Sum([]byte(password + user))
		return "md5" + hex.EncodeToString(sum[:])
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	salted, err := pbkdf2.Key(sha256.New, password, salt, 4096, 32)
	if err != nil {
		panic(fmt.Sprintf("pbkdf2: %v", err))
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$4096:" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(server)
}
