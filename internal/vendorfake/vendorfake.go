package vendorfake

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rotatorkit/rotator/internal/keytest"
)

// Server is an HTTPS server for a fake vendor.
type Server struct {
	// URL is its base URL (https://127.0.0.1:port).
	URL string
	// CAs verifies its certificate.
	CAs *x509.CertPool
	// Faults are the faults the server plays by Op before the handler.
	Faults *keytest.Faults
}

// Classify names the Op of a request ("" for calls no fault applies to).
type Classify func(r *http.Request) keytest.Op

// Start serves h over HTTPS until the test ends; a request whose Op has a
// fault gets the fault's answer instead of h's (keytest.Faults.Serve: h
// still acts first for a fault with AfterEffect).
func Start(t testing.TB, classify Classify, h http.Handler) *Server {
	t.Helper()
	f := &keytest.Faults{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := classify(r); op != "" {
			f.Serve(op, w, r, h.ServeHTTP)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &Server{URL: srv.URL, CAs: pool, Faults: f}
}

// JSON writes v as a JSON answer.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
