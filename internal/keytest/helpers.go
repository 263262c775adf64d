package keytest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// Secret parses a secret's JSON document, failing the test if it is not
// one.
func Secret(t testing.TB, doc string) *rotator.Secret {
	t.Helper()
	s, err := rotator.ParseSecret(doc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RandomHex returns n random bytes in hex (ids and values of fakes).
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Handler is the real rotation handler with the dual-key strategy over e,
// on sm, logging into logs: what a vendor's contract test rotates with.
func Handler(t testing.TB, sm *rotatortest.Server, e dualkey.Engine, logs *rotatortest.LogBuffer) *rotator.Handler {
	t.Helper()
	st, err := dualkey.New(e)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rotator.New(sm.Client(), st, rotator.WithLogger(logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// keyOf is a fake's record of a key: a struct embedding Key.
type keyOf interface{ key() Key }

func (k Key) key() Key { return k }

// KeysOf copies the Key of each of a fake's records (its Keys method,
// under the fake's lock).
func KeysOf[T keyOf](records []T) []Key {
	out := make([]Key, len(records))
	for i, r := range records {
		out[i] = r.key()
	}
	return out
}
