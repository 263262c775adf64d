package vendorfake

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/keytest"
)

// Server is an HTTPS server for a fake vendor.
type Server struct {
	// URL is its base URL (https://127.0.0.1:port).
	URL string
	// CAs verifies its certificate.
	CAs *x509.CertPool
	// Faults are the faults the handler applies by Op.
	Faults *Faults
}

// Classify names the Op of a request ("" for calls no fault applies to).
type Classify func(r *http.Request) keytest.Op

// Start serves h over HTTPS until the test ends; before h, a request whose
// Op has a fault gets the fault's answer.
func Start(t testing.TB, classify Classify, h http.Handler) *Server {
	t.Helper()
	f := &Faults{m: map[keytest.Op][]*left{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := classify(r); op != "" && f.Serve(w, r, op) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &Server{URL: srv.URL, CAs: pool, Faults: f}
}

// Faults is the fault queue of a fake, as keytest.Vendor's Fail and Clear
// describe it.
type Faults struct {
	mu sync.Mutex
	m  map[keytest.Op][]*left
}

type left struct {
	f keytest.Fault
	n int
}

// Add queues a fault for calls of op.
func (q *Faults) Add(op keytest.Op, f keytest.Fault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.m[op] = append(q.m[op], &left{f: f, n: f.Times})
}

// Clear removes every fault.
func (q *Faults) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.m = map[keytest.Op][]*left{}
}

// take returns the fault for a call of op, using it up.
func (q *Faults) take(op keytest.Op) (keytest.Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := q.m[op]
	for i, l := range list {
		if l.f.Times == 0 {
			return l.f, true
		}
		if l.n > 0 {
			l.n--
			if l.n == 0 {
				q.m[op] = append(list[:i:i], list[i+1:]...)
			}
			return l.f, true
		}
	}
	return keytest.Fault{}, false
}

// Serve applies op's fault, if any: it waits the delay (or until the
// client gives up) and answers the status with a JSON error. It reports
// whether it answered.
func (q *Faults) Serve(w http.ResponseWriter, r *http.Request, op keytest.Op) bool {
	f, ok := q.take(op)
	if !ok {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	JSON(w, f.Status, map[string]any{"message": "injected fault", "errors": []string{http.StatusText(f.Status)}})
	return true
}

// JSON writes v as a JSON answer.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
