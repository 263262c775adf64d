package keytest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Faults is the fault bookkeeping an HTTP fake shares: Fail and Clear of
// Vendor, and Serve around its handler.
type Faults struct {
	mu sync.Mutex
	m  map[Op][]*faultLeft
}

// Fail adds a fault for op.
func (f *Faults) Fail(op Op, fl Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[Op][]*faultLeft{}
	}
	f.m[op] = append(f.m[op], &faultLeft{f: fl, left: fl.Times})
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = nil
}

// Serve plays the next fault of op around the fake's own handling of a
// request (next): it waits the fault's Delay (or until the client gives
// up) and answers with its status and a JSON error body, before next runs
// or, for a fault with AfterEffect, after next did its work (its answer
// is then thrown away). Without a fault, next answers.
func (f *Faults) Serve(op Op, w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	f.mu.Lock()
	fl, ok := take(f.m, op)
	f.mu.Unlock()
	if !ok {
		next(w, r)
		return
	}
	if fl.AfterEffect {
		next(httptest.NewRecorder(), r)
	}
	if fl.Delay > 0 {
		select {
		case <-time.After(fl.Delay):
		case <-r.Context().Done():
			// The client gave up: abort the connection rather than let
			// the server finish an empty 200 that a reused connection
			// could hand to the client's next attempt.
			panic(http.ErrAbortHandler)
		}
	}
	if fl.Status == 0 {
		if !fl.AfterEffect {
			next(w, r)
		}
		return
	}
	if fl.RetryAfter != "" {
		w.Header().Set("Retry-After", fl.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(fl.Status)
	fmt.Fprintf(w, `{"errors":[{"message":"injected fault %d"}]}`, fl.Status)
}
