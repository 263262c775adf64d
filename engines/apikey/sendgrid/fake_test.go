package sendgrid_test

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/sendgrid"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// fake is a stateful SendGrid: it issues keys with scopes, refuses revoked
// and unknown keys (401) and keys without the scope an endpoint needs
// (403), and refuses to hand out scopes the caller lacks, as SendGrid does.
type fake struct {
	keytest.Faults
	mu    sync.Mutex
	keys  []*fkey
	seq   int
	srv   *httptest.Server
	pool  *x509.CertPool
	calls map[string]int
}

type fkey struct {
	keytest.Key
	scopes []string
}

var manage = []string{"api_keys.create", "api_keys.read", "api_keys.delete"}

var _ keytest.Vendor = (*fake)(nil)

func newFake(t testing.TB) *fake {
	f := &fake{calls: map[string]int{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.pool = x509.NewCertPool()
	f.pool.AddCert(f.srv.Certificate())
	return f
}

func (f *fake) issue(name string, scopes []string) keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	k := &fkey{Key: keytest.Key{ID: fmt.Sprintf("id-%06d", f.seq), Name: name, Value: keytest.RandomValue("SG."), Created: time.Now()}, scopes: scopes}
	f.keys = append(f.keys, k)
	return k.Key
}

func (f *fake) auth(r *http.Request) *fkey {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.Value == v && !k.Revoked {
			return k
		}
	}
	return nil
}

func sgError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"field":null,"message":%q}]}`, msg)
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	var op keytest.Op
	var need string
	switch {
	case r.Method == "POST" && r.URL.Path == "/v3/api_keys":
		op, need = keytest.OpCreate, "api_keys.create"
	case r.Method == "GET" && r.URL.Path == "/v3/api_keys":
		op, need = keytest.OpList, "api_keys.read"
	case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/v3/api_keys/"):
		op, need = keytest.OpRevoke, "api_keys.delete"
	case r.Method == "GET" && r.URL.Path == "/v3/scopes":
		op = keytest.OpTest
	default:
		sgError(w, 404, "not found")
		return
	}
	f.mu.Lock()
	f.calls[string(op)]++
	f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("User-Agent"), "Rotator/") {
		sgError(w, 400, "no User-Agent")
		return
	}
	f.Serve(op, w, r, func(w http.ResponseWriter, r *http.Request) { f.handle(op, need, w, r) })
}

// handle answers a request as SendGrid does.
func (f *fake) handle(op keytest.Op, need string, w http.ResponseWriter, r *http.Request) {
	caller := f.auth(r)
	if caller == nil {
		sgError(w, 401, "authorization required")
		return
	}
	if need != "" && !slices.Contains(caller.scopes, need) {
		sgError(w, 403, "access forbidden")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch op {
	case keytest.OpCreate:
		var in struct {
			Name   string   `json:"name"`
			Scopes []string `json:"scopes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			sgError(w, 400, "name is required")
			return
		}
		for _, s := range in.Scopes {
			if !slices.Contains(caller.scopes, s) {
				sgError(w, 403, "cannot grant a scope the key lacks")
				return
			}
		}
		k := f.issue(in.Name, in.Scopes)
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"api_key": k.Value, "api_key_id": k.ID, "name": k.Name, "scopes": in.Scopes})
	case keytest.OpList:
		type item struct {
			ID   string `json:"api_key_id"`
			Name string `json:"name"`
		}
		out := []item{}
		f.mu.Lock()
		for _, k := range f.keys {
			if !k.Revoked {
				out = append(out, item{k.ID, k.Name})
			}
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"result": out})
	case keytest.OpRevoke:
		id := strings.TrimPrefix(r.URL.Path, "/v3/api_keys/")
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, k := range f.keys {
			if k.ID == id && !k.Revoked {
				k.Revoked = true
				w.WriteHeader(204)
				return
			}
		}
		sgError(w, 404, "unable to find API Key")
	case keytest.OpTest:
		_ = json.NewEncoder(w).Encode(map[string]any{"scopes": caller.scopes})
	}
}

// Engine implements keytest.Vendor.
func (f *fake) Engine(t testing.TB) dualkey.Engine {
	e, err := sendgrid.New(sendgrid.WithBaseURL(f.srv.URL), sendgrid.WithRootCAs(f.pool),
		sendgrid.WithTimeout(300*time.Millisecond), sendgrid.WithRetries(3, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// NewSecret implements keytest.Vendor: a key that manages itself, or,
// with an admin secret, one that may only send mail.
func (f *fake) NewSecret(t testing.TB, adminARN string) (string, keytest.Key) {
	if adminARN != "" {
		k := f.issue("hand-made", []string{"mail.send"})
		return fmt.Sprintf(`{"api_key":%q,"key_id":%q,"scopes":["mail.send"],"adminarn":%q,"team":"growth"}`, k.Value, k.ID, adminARN), k
	}
	scopes := append([]string{"mail.send"}, manage...)
	k := f.issue("hand-made", scopes)
	b, _ := json.Marshal(scopes)
	return fmt.Sprintf(`{"api_key":%q,"key_id":%q,"scopes":%s,"team":"growth"}`, k.Value, k.ID, b), k
}

// HandMade implements keytest.Vendor.
func (f *fake) HandMade(testing.TB) keytest.Key {
	return f.issue("made by a human", []string{"mail.send"})
}

// NewAdmin implements keytest.Vendor.
func (f *fake) NewAdmin(testing.TB) string {
	k := f.issue("admin key", append([]string{"mail.send"}, manage...))
	return fmt.Sprintf(`{"api_key":%q}`, k.Value)
}

// Works implements keytest.Vendor.
func (f *fake) Works(value string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.Value == value && value != "" {
			return !k.Revoked
		}
	}
	return false
}

// Keys implements keytest.Vendor.
func (f *fake) Keys() []keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return keytest.KeysOf(f.keys)
}
