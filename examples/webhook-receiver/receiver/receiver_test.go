package receiver

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// recording wraps the store and remembers every key ever issued, so that
// the suite sees revoked keys too.
type recording struct {
	Store
	mu   sync.Mutex
	all  []keytest.Key
	gone map[string]bool
}

func (r *recording) Create(name string) (Key, error) {
	k, err := r.Store.Create(name)
	if err == nil {
		r.mu.Lock()
		r.all = append(r.all, keytest.Key{ID: k.ID, Name: k.Name, Value: k.Value, Created: k.Created})
		r.mu.Unlock()
	}
	return k, err
}

func (r *recording) Delete(id string) (bool, error) {
	ok, err := r.Store.Delete(id)
	if ok {
		r.mu.Lock()
		r.gone[id] = true
		r.mu.Unlock()
	}
	return ok, err
}

// vendor is the receiver behind an httptest TLS server, with faults.
type vendor struct {
	keytest.Faults
	rc    *Receiver
	store *recording
	url   string
	pool  *x509.CertPool
}

var _ keytest.Vendor = (*vendor)(nil)

func newVendor(t testing.TB) *vendor {
	v := &vendor{store: &recording{Store: &MemoryStore{}, gone: map[string]bool{}}}
	v.rc = &Receiver{Store: v.store, KeysManage: true}
	mux := http.NewServeMux()
	mux.Handle("/rotator/", http.StripPrefix("/rotator", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.Serve(opOf(r), w, r, v.rc.ServeHTTP)
	})))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	v.url = srv.URL + "/rotator"
	v.pool = x509.NewCertPool()
	v.pool.AddCert(srv.Certificate())
	return v
}

func opOf(r *http.Request) keytest.Op {
	switch {
	case r.Method == "POST" && r.URL.Path == "/keys":
		return keytest.OpCreate
	case r.Method == "GET" && r.URL.Path == "/keys":
		return keytest.OpList
	case r.Method == "DELETE":
		return keytest.OpRevoke
	}
	return keytest.OpTest
}

func (v *vendor) Engine(testing.TB) dualkey.Engine {
	return webhook.New(webhook.WithRootCAs(v.pool), webhook.WithTimeout(300*time.Millisecond), webhook.WithRetries(3, time.Millisecond, 5*time.Millisecond))
}

func (v *vendor) NewSecret(t testing.TB, adminARN string) (string, keytest.Key) {
	k, err := v.store.Create("hand-made")
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`{"api_key":%q,"key_id":%q,"endpoint":%q,"service":"billing"`, k.Value, k.ID, v.url)
	if adminARN != "" {
		doc += fmt.Sprintf(`,"adminarn":%q`, adminARN)
	}
	return doc + "}", keytest.Key{ID: k.ID, Name: k.Name, Value: k.Value}
}

func (v *vendor) HandMade(t testing.TB) keytest.Key {
	k, err := v.store.Create("made by a human")
	if err != nil {
		t.Fatal(err)
	}
	return keytest.Key{ID: k.ID, Name: k.Name, Value: k.Value}
}

// NewAdmin: an HMAC signing secret; keys may then no longer manage keys.
func (v *vendor) NewAdmin(testing.TB) string {
	v.rc.SigningSecret = []byte("admin-signing-secret-" + random(16))
	v.rc.KeysManage = false
	return fmt.Sprintf(`{"endpoint":%q,"signing_secret":%q}`, v.url, v.rc.SigningSecret)
}

func (v *vendor) Works(value string) bool {
	keys, _ := v.store.List()
	for _, k := range keys {
		if k.Value == value && value != "" {
			return true
		}
	}
	return false
}

func (v *vendor) Keys() []keytest.Key {
	v.store.mu.Lock()
	defer v.store.mu.Unlock()
	out := make([]keytest.Key, len(v.store.all))
	for i, k := range v.store.all {
		k.Revoked = v.store.gone[k.ID]
		out[i] = k
	}
	return out
}

// Whole rotations against the receiver, through the webhook engine and
// the dual-key strategy: the behaviour suite.
func TestWebhookReceiverBehaviour(t *testing.T) {
	keytest.Run(t, func(t testing.TB) keytest.Vendor { return newVendor(t) })
}

// signed sends a request signed as the engine signs, with a chosen
// timestamp and nonce.
func signed(t *testing.T, v *vendor, secret []byte, method, path string, ts time.Time, nonce string, body []byte) int {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	s := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set(HeaderTimestamp, s)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, webhook.Sign(secret, s, nonce, method, path, body))
	rec := httptest.NewRecorder()
	v.rc.ServeHTTP(rec, req)
	return rec.Code
}

// The receiver refuses stale or future timestamps, replays, bad
// signatures and a missing nonce.
func TestReceiverRefusesReplaysAndSkew(t *testing.T) {
	v := newVendor(t)
	v.NewAdmin(t)
	now := time.Now()
	secret := v.rc.SigningSecret
	tests := []struct {
		name  string
		ts    time.Time
		nonce string
		key   []byte
		want  int
	}{
		{"fresh", now, "00112233445566778899aabbccddeeff", secret, 200},
		{"replayed", now, "00112233445566778899aabbccddeeff", secret, 401},
		{"too old", now.Add(-webhook.MaxSkew - time.Minute), "10112233445566778899aabbccddeeff", secret, 401},
		{"from the future", now.Add(webhook.MaxSkew + time.Minute), "20112233445566778899aabbccddeeff", secret, 401},
		{"wrong secret", now, "30112233445566778899aabbccddeeff", []byte("not the secret"), 401},
		{"short nonce", now, "abc", secret, 401},
	}
	for _, tt := range tests {
		if got := signed(t, v, tt.key, "GET", "/keys", tt.ts, tt.nonce, nil); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	// A signature covers the path: a signed list cannot become a delete.
	k, _ := v.store.Create("victim")
	req := httptest.NewRequest("DELETE", "/keys/"+k.ID, nil)
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, "40112233445566778899aabbccddeeff")
	req.Header.Set(HeaderSignature, webhook.Sign(secret, ts, "40112233445566778899aabbccddeeff", "GET", "/keys", nil))
	rec := httptest.NewRecorder()
	v.rc.ServeHTTP(rec, req)
	if rec.Code != 401 || !v.Works(k.Value) {
		t.Fatalf("a signature for GET /keys deleted a key (status %d)", rec.Code)
	}
}

// A key may not manage keys unless the receiver allows it, and never
// deletes itself; listing never shows key values.
func TestReceiverPermissions(t *testing.T) {
	v := newVendor(t)
	a, _ := v.store.Create("a")
	v.rc.KeysManage = false
	now := time.Now()
	if got := signedByKey(t, v, a, "GET", "/keys", now, "50112233445566778899aabbccddeeff"); got != 403 {
		t.Errorf("a key listed keys without KeysManage: %d", got)
	}
	v.rc.KeysManage = true
	if got := signedByKey(t, v, a, "DELETE", "/keys/"+a.ID, now, "60112233445566778899aabbccddeeff"); got != 409 || !v.Works(a.Value) {
		t.Errorf("a key deleted itself: %d", got)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/keys", nil)
	signInto(req, []byte(a.Value), now, "70112233445566778899aabbccddeeff", a.ID)
	v.rc.ServeHTTP(rec, req)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), a.Value) {
		t.Errorf("listing: status %d, or it shows a key value", rec.Code)
	}
}

func signInto(req *http.Request, secret []byte, now time.Time, nonce, keyID string) {
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderKeyID, keyID)
	req.Header.Set(HeaderSignature, webhook.Sign(secret, ts, nonce, req.Method, req.URL.Path, nil))
}

func signedByKey(t *testing.T, v *vendor, k Key, method, path string, now time.Time, nonce string) int {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	signInto(req, []byte(k.Value), now, nonce, k.ID)
	rec := httptest.NewRecorder()
	v.rc.ServeHTTP(rec, req)
	return rec.Code
}
