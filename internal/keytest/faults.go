package keytest

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Faults is the fault bookkeeping an HTTP fake shares: Fail and Clear of
// Vendor, and Apply in its handler.
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

// Apply plays the next fault of op on an HTTP answer: it waits the
// fault's Delay (or until the client gives up), then writes its status
// with a JSON error body. It reports whether it answered (the handler
// then stops).
func (f *Faults) Apply(op Op, w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	fl, ok := take(f.m, op)
	f.mu.Unlock()
	if !ok {
		return false
	}
	if fl.Delay > 0 {
		select {
		case <-time.After(fl.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	if fl.Status == 0 {
		return false
	}
	if fl.RetryAfter != "" {
		w.Header().Set("Retry-After", fl.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(fl.Status)
	fmt.Fprintf(w, `{"errors":[{"message":"injected fault %d"}]}`, fl.Status)
	return true
}
