// Package receiver is a complete receiver of Rotator's webhook contract
// (engines/apikey/webhook): the side of your own system that issues,
// lists and deletes its API keys when Rotator rotates them. Copy it,
// replace MemoryStore with your key store, and serve it over HTTPS
// (../main.go).
//
// It uses the standard library only. Its test runs whole rotations
// against it with the real webhook engine and strategy.
package receiver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The contract's headers and limits.
const (
	HeaderTimestamp = "X-Rotator-Timestamp"
	HeaderNonce     = "X-Rotator-Nonce"
	HeaderKeyID     = "X-Rotator-Key-Id"
	HeaderSignature = "X-Rotator-Signature"
	MaxSkew         = 5 * time.Minute
	maxBody         = 64 << 10
)

// Key is one API key of your system.
type Key struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Value is the key itself. Your system needs it to check the
	// signatures of requests signed with it (and your API to check the
	// key); it never leaves in a listing.
	Value string `json:"-"`
}

// Store is where your system keeps its keys.
type Store interface {
	Create(name string) (Key, error)
	List() ([]Key, error)
	// Delete removes a key; ok is false when there was none.
	Delete(id string) (ok bool, err error)
	// Get returns a live key by id.
	Get(id string) (Key, bool, error)
}

// Receiver serves the contract. Set exactly one of SigningSecret and
// BearerToken for an admin credential (the admin secret's
// "signing_secret" or "bearer_token"), and/or KeysManage to let a key
// manage keys with requests signed by itself (an application secret
// without "adminarn").
type Receiver struct {
	Store         Store
	SigningSecret []byte
	BearerToken   string
	KeysManage    bool
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // seen within MaxSkew: replays are refused
}

// caller is who signed a request.
type caller struct {
	admin bool
	keyID string // signed with this key
}

var errAuth = errors.New("unauthorized")

func (rc *Receiver) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

// authenticate checks the timestamp, the nonce and the signature (or the
// bearer token) of a request whose body is body.
func (rc *Receiver) authenticate(r *http.Request, body []byte) (caller, error) {
	ts, nonce := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(nonce) < 16 {
		return caller{}, errAuth
	}
	if d := rc.now().Sub(time.Unix(secs, 0)); d > MaxSkew || d < -MaxSkew {
		return caller{}, errAuth
	}
	var who caller
	switch {
	case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if rc.BearerToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(rc.BearerToken)) != 1 {
			return caller{}, errAuth
		}
		who = caller{admin: true}
	case r.Header.Get(HeaderKeyID) != "":
		k, ok, err := rc.Store.Get(r.Header.Get(HeaderKeyID))
		if err != nil || !ok || !validSignature([]byte(k.Value), ts, nonce, r, body) {
			return caller{}, errAuth
		}
		who = caller{keyID: k.ID}
	case len(rc.SigningSecret) > 0:
		if !validSignature(rc.SigningSecret, ts, nonce, r, body) {
			return caller{}, errAuth
		}
		who = caller{admin: true}
	default:
		return caller{}, errAuth
	}
	// Only now, with a valid signature, remember the nonce: a replay of
	// this request within the window is refused.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.nonces == nil {
		rc.nonces = map[string]time.Time{}
	}
	for n, at := range rc.nonces {
		if rc.now().Sub(at) > 2*MaxSkew {
			delete(rc.nonces, n)
		}
	}
	if _, seen := rc.nonces[nonce]; seen {
		return caller{}, errAuth
	}
	rc.nonces[nonce] = rc.now()
	return who, nil
}

// validSignature checks X-Rotator-Signature: v1=hex(HMAC-SHA256(secret,
// timestamp "\n" nonce "\n" method "\n" path "\n" body)), where path is
// the request's path as sent (escaped, without the query).
func validSignature(secret []byte, ts, nonce string, r *http.Request, body []byte) bool {
	// The path as the client sent it, before any http.StripPrefix.
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		path = u.EscapedPath()
	}
	m := hmac.New(sha256.New, secret)
	for _, part := range []string{ts, nonce, r.Method, path} {
		m.Write([]byte(part))
		m.Write([]byte{'\n'})
	}
	m.Write(body)
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(r.Header.Get(HeaderSignature)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// ServeHTTP routes the contract's four calls. Mount it under the path
// the secret's "endpoint" names (http.StripPrefix).
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		fail(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	who, err := rc.authenticate(r, body)
	if err != nil {
		fail(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	mayManage := who.admin || (rc.KeysManage && who.keyID != "")
	path := "/" + strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/whoami":
		if who.keyID == "" {
			fail(w, http.StatusBadRequest, "sign /whoami with the key to test")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": who.keyID})
	case !mayManage:
		fail(w, http.StatusForbidden, "this credential may not manage keys")
	case r.Method == http.MethodPost && path == "/keys":
		var in struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(body, &in) != nil || in.Name == "" || len(in.Name) > 200 {
			fail(w, http.StatusBadRequest, "name is required")
			return
		}
		k, err := rc.Store.Create(in.Name)
		if err != nil {
			fail(w, http.StatusInternalServerError, "cannot create a key")
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "key": k.Value, "created": k.Created})
	case r.Method == http.MethodGet && path == "/keys":
		keys, err := rc.Store.List()
		if err != nil {
			fail(w, http.StatusInternalServerError, "cannot list keys")
			return
		}
		type item struct {
			ID      string    `json:"id"`
			Name    string    `json:"name"`
			Created time.Time `json:"created"`
			Active  bool      `json:"active"`
		}
		out := make([]item, 0, len(keys))
		for _, k := range keys {
			out = append(out, item{k.ID, k.Name, k.Created, true})
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/keys/"):
		id := strings.TrimPrefix(path, "/keys/")
		if id == who.keyID {
			// A key never deletes itself: that would lock its owner out.
			fail(w, http.StatusConflict, "a key cannot delete itself")
			return
		}
		ok, err := rc.Store.Delete(id)
		switch {
		case err != nil:
			fail(w, http.StatusInternalServerError, "cannot delete the key")
		case !ok:
			fail(w, http.StatusNotFound, "no such key")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		fail(w, http.StatusNotFound, "not found")
	}
}

// MemoryStore keeps keys in memory: replace it with your database.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]Key
}

var _ Store = (*MemoryStore)(nil)

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create issues a key: 32 random bytes.
func (m *MemoryStore) Create(name string) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]Key{}
	}
	k := Key{ID: "key_" + random(9), Name: name, Created: time.Now().UTC(), Value: "sk_" + random(32)}
	m.keys[k.ID] = k
	return k, nil
}

// List returns every key.
func (m *MemoryStore) List() ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Key, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, k)
	}
	return out, nil
}

// Delete removes a key.
func (m *MemoryStore) Delete(id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.keys[id]
	delete(m.keys, id)
	return ok, nil
}

// Get returns a key.
func (m *MemoryStore) Get(id string) (Key, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	return k, ok, nil
}
