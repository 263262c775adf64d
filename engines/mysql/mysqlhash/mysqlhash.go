package mysqlhash

import (
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // mysql_native_password is SHA-1 by definition
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"filippo.io/edwards25519"
)

// Native returns the mysql_native_password authentication string.
func Native(password string) string {
	h1 := sha1.Sum([]byte(password)) //nolint:gosec // protocol-defined
	h2 := sha1.Sum(h1[:])            //nolint:gosec // protocol-defined
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// Ed25519 returns MariaDB's ed25519 authentication string: the public key
// of the key pair the client derives from the password when it signs the
// server's challenge (auth_ed25519's ref10 crypto_sign_keypair).
func Ed25519(password string) string {
	h := sha512.Sum512([]byte(password))
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic(err) // cannot happen: 32 bytes
	}
	a := (&edwards25519.Point{}).ScalarBaseMult(s)
	return base64.RawStdEncoding.EncodeToString(a.Bytes())
}

// SaltAlphabet is the alphabet of the salts this package draws: the
// crypt(3) alphabet, so that an authentication string holds no quote,
// backslash or '$' beyond its separators and can be a plain SQL literal.
const SaltAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// CachingSHA2SaltLen is the salt length of caching_sha2_password.
const CachingSHA2SaltLen = 20

// cachingSHA2Rounds is the iteration count MySQL's default "005" means
// (5 * 1000).
const cachingSHA2Rounds = 5000

// NewSalt draws a salt of n characters from SaltAlphabet.
func NewSalt(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = SaltAlphabet[int(b[i])%len(SaltAlphabet)] // 256 = 4*64: uniform
	}
	return string(b), nil
}

// CachingSHA2 returns the caching_sha2_password authentication string for
// password with salt (CachingSHA2SaltLen characters, see NewSalt).
func CachingSHA2(password, salt string) (string, error) {
	if len(salt) != CachingSHA2SaltLen {
		return "", errors.New("mysqlhash: caching_sha2_password needs a 20-character salt")
	}
	for i := 0; i < len(salt); i++ {
		if salt[i] == 0 || salt[i] == '$' {
			return "", errors.New("mysqlhash: the salt holds NUL or '$'")
		}
	}
	return "$A$005$" + salt + SHA256Crypt(password, salt, cachingSHA2Rounds), nil
}

// SHA256Crypt is the digest part of Drepper's SHA-256-crypt ("$5$"), with
// a salt of any length (glibc truncates salts to 16 bytes; MySQL does
// not) and the given number of rounds: 43 characters of crypt's base64.
func SHA256Crypt(password, salt string, rounds int) string {
	pw, s := []byte(password), []byte(salt)

	b := sha256.New()
	b.Write(pw)
	b.Write(s)
	b.Write(pw)
	sumB := b.Sum(nil)

	a := sha256.New()
	a.Write(pw)
	a.Write(s)
	for n := len(pw); n > 0; n -= 32 {
		a.Write(sumB[:min(n, 32)])
	}
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(pw)
		}
	}
	sumA := a.Sum(nil)

	dp := sha256.New()
	for range len(pw) {
		dp.Write(pw)
	}
	p := repeatTo(dp.Sum(nil), len(pw))

	ds := sha256.New()
	for range 16 + int(sumA[0]) {
		ds.Write(s)
	}
	sBytes := repeatTo(ds.Sum(nil), len(s))

	c := sumA
	for i := range rounds {
		h := sha256.New()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sBytes)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(nil)
	}

	var out strings.Builder
	b64 := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out.WriteByte(SaltAlphabet[w&0x3f])
			w >>= 6
		}
	}
	b64(c[0], c[10], c[20], 4)
	b64(c[21], c[1], c[11], 4)
	b64(c[12], c[22], c[2], 4)
	b64(c[3], c[13], c[23], 4)
	b64(c[24], c[4], c[14], 4)
	b64(c[15], c[25], c[5], 4)
	b64(c[6], c[16], c[26], 4)
	b64(c[27], c[7], c[17], 4)
	b64(c[18], c[28], c[8], 4)
	b64(c[9], c[19], c[29], 4)
	b64(0, c[31], c[30], 3)
	return out.String()
}

// repeatTo repeats block into n bytes.
func repeatTo(block []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, block[:min(len(block), n-len(out))]...)
	}
	return out
}
