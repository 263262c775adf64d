package webhook_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

var _ dualkey.Engine = (*webhook.Engine)(nil)

// The signature of the documented contract, against a value computed
// independently (Python's hmac module).
func TestSignatureVector(t *testing.T) {
	got := webhook.Sign([]byte("topsecret"), "1700000000", "nonce0123456789abcdef", "POST", "/rotator/keys", []byte(`{"name":"n"}`))
	if want := "v1=5ee2c776dfe57887d2cc47132d2a911258be73b8e4f5c5d582ea8972ec0e96f5"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	e := webhook.New()
	for _, tt := range []struct{ doc, want string }{
		{`{"api_key":"k"}`, `"endpoint" is missing`},
		{`{"api_key":"k","endpoint":"http://keys.example.com"}`, "https"},
		{`{"api_key":"k","endpoint":"https://u:p@keys.example.com"}`, "https"},
		{`{"api_key":"k","endpoint":"https://keys.example.com/?token=x"}`, "query"},
	} {
		s, _ := rotator.ParseSecret(tt.doc)
		if err := e.Validate(s); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: want an error saying %q, got %v", tt.doc, tt.want, err)
		}
	}
}

func TestValidateAdmin(t *testing.T) {
	e := webhook.New()
	app, _ := rotator.ParseSecret(`{"api_key":"k","endpoint":"https://keys.example.com/rotator"}`)
	for _, tt := range []struct {
		admin string
		want  error
		says  string
	}{
		{`{"endpoint":"https://evil.example.net/rotator","signing_secret":"s"}`, rotator.ErrNotAllowed, "sent only to its own endpoint"},
		{`{"endpoint":"https://keys.example.com/rotator","signing_secret":"s","bearer_token":"t"}`, rotator.ErrMissingField, "exactly one"},
		{`{"endpoint":"https://keys.example.com/rotator"}`, rotator.ErrMissingField, "exactly one"},
		{`{"signing_secret":"s"}`, rotator.ErrMissingField, "endpoint"},
	} {
		a, _ := rotator.ParseSecret(tt.admin)
		err := e.ValidateAdmin(a, app)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: want %v saying %q, got %v", tt.admin, tt.want, tt.says, err)
		}
	}
	ok, _ := rotator.ParseSecret(`{"endpoint":"https://keys.example.com/rotator/","bearer_token":"t"}`)
	if err := e.ValidateAdmin(ok, app); err != nil {
		t.Errorf("valid admin refused: %v", err)
	}
}

// A bearer admin sends Authorization, the timestamp and a fresh nonce,
// and no signature; the key's own requests are signed and name it.
func TestHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var seen []http.Header
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Clone())
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/rotator/keys":
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"key_1","key":"sk_new","created":"2026-12-01T12:00:00Z"}`)
		case "/rotator/whoami":
			json.NewEncoder(w).Encode(map[string]string{"id": r.Header.Get(webhook.HeaderKeyID)})
		}
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	e := webhook.New(webhook.WithRootCAs(pool), webhook.WithClock(func() time.Time { return now }))
	admin, _ := rotator.ParseSecret(fmt.Sprintf(`{"endpoint":%q,"bearer_token":"tok-123"}`, srv.URL+"/rotator"))
	app, _ := rotator.ParseSecret(fmt.Sprintf(`{"api_key":"sk_old","key_id":"key_0","endpoint":%q}`, srv.URL+"/rotator"))
	k, err := e.CreateKey(t.Context(), rotator.CreateKeyRequest{Admin: admin, Account: app, Name: "rotator-x"})
	if err != nil || k.ID != "key_1" || k.Value != "sk_new" || k.Created.IsZero() {
		t.Fatalf("create: %+v %v", k.ID, err)
	}
	if err := e.TestKey(t.Context(), rotator.TestKeyRequest{Key: app}); err != nil {
		t.Fatalf("test: %v", err)
	}
	h := seen[0]
	if h.Get("Authorization") != "Bearer tok-123" || h.Get(webhook.HeaderSignature) != "" || h.Get(webhook.HeaderTimestamp) != strconv.FormatInt(now.Unix(), 10) || len(h.Get(webhook.HeaderNonce)) != 32 {
		t.Errorf("bearer request headers: %v", h)
	}
	h = seen[1]
	ts, nonce := h.Get(webhook.HeaderTimestamp), h.Get(webhook.HeaderNonce)
	if h.Get(webhook.HeaderKeyID) != "key_0" || h.Get(webhook.HeaderSignature) != webhook.Sign([]byte("sk_old"), ts, nonce, "GET", "/rotator/whoami", nil) || h.Get("Authorization") != "" {
		t.Errorf("signed request headers: %v", h)
	}
	if seen[0].Get(webhook.HeaderNonce) == nonce {
		t.Error("two requests share a nonce")
	}
}

// A receiver answering /whoami for another key fails the test step.
func TestWhoamiMustNameTheKey(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":"someone-else"}`)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	e := webhook.New(webhook.WithRootCAs(pool))
	app, _ := rotator.ParseSecret(fmt.Sprintf(`{"api_key":"sk","key_id":"key_0","endpoint":%q}`, srv.URL))
	if err := e.TestKey(t.Context(), rotator.TestKeyRequest{Key: app}); err == nil || !strings.Contains(err.Error(), "another key id") {
		t.Fatalf("want a refusal, got %v", err)
	}
}
