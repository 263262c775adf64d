package registry

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator"
)

// Server is what a registry keeps: a pointer to a rig's server.
type Server interface {
	comparable
	// Stop stops the server; it is safe to call twice.
	Stop() error
}

// StartFunc starts a server. It returns a reason to skip when none is
// available here, or an error when one was but failed.
type StartFunc[S Server] func() (s S, skip string, err error)

// Need says what a rig does when it has no server: skip the test, or fail
// it when the variable Env says so (CI sets it, so that a missing server
// cannot pass as a green run).
type Need struct {
	// Env is the variable ("ROTATOR_REQUIRE_DB"); Prefix begins the
	// messages ("mototest: " or "").
	Env, Prefix string
}

// Required reports whether $Env (a boolean, as rotator.ParseBool reads
// it) asks for a real server.
func (n Need) Required() bool {
	b, err := rotator.ParseBool(os.Getenv(n.Env))
	return err == nil && b
}

// Unavailable skips t with reason, or fails it when Required.
func (n Need) Unavailable(t testing.TB, reason string) {
	t.Helper()
	if n.Required() {
		t.Fatalf("%s%s (%s=1 makes this a failure instead of a skip)", n.Prefix, reason, n.Env)
	}
	t.Skipf("%s%s (set %s=1 to make this a failure)", n.Prefix, reason, n.Env)
}

// Mark marks t failed (and goes on) when Required: for a test that runs
// other parts without the server.
func (n Need) Mark(t testing.TB, reason string) {
	t.Helper()
	if n.Required() {
		t.Errorf("%s%s (%s=1 makes this a failure instead of a skip)", n.Prefix, reason, n.Env)
	}
}

// For starts a server for t alone and stops it in t.Cleanup; a server that
// is not available skips t (need.Unavailable). rig names the rig in the
// stop error.
func For[S Server](t testing.TB, rig string, need Need, start StartFunc[S]) S {
	t.Helper()
	s, skip := TryFor(t, rig, start)
	if skip != "" {
		need.Unavailable(t, skip)
	}
	return s
}

// TryFor is For for a test that handles "no server" itself: it returns
// the reason instead of skipping. A start that failed fails t.
func TryFor[S Server](t testing.TB, rig string, start StartFunc[S]) (S, string) {
	t.Helper()
	s, skip, err := start()
	switch {
	case err != nil:
		t.Fatal(err)
	case skip != "":
		return s, skip
	}
	StopAtCleanup(t, rig, s)
	return s, ""
}

// NewCAPEM returns the PEM certificate of a fresh CA that signed nothing
// (a "wrong CA" for verification tests), or fails t.
func NewCAPEM(t testing.TB, rig string) []byte {
	t.Helper()
	p, err := dbrig.NewCAPEM()
	if err != nil {
		t.Fatalf("%s: %v", rig, err)
	}
	return p
}

// StopAtCleanup stops s when t ends; a failure to stop fails t.
func StopAtCleanup[S Server](t testing.TB, rig string, s S) {
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%s: stopping server: %v", rig, err)
		}
	})
}

// Registry keeps the servers one rig started.
type Registry[S Server] struct {
	rig      string
	need     Need
	describe func(S) string

	mu         sync.Mutex
	mainActive bool
	exiting    bool
	live       map[S]struct{}
	shared     map[string]*entry[S]
}

type entry[S Server] struct {
	once sync.Once
	srv  S
	skip string
	err  error
}

// New returns the registry of rig ("pgtest"), whose servers are not
// available when need says so; describe names a server in a message
// ("local server on port 5432").
func New[S Server](rig string, need Need, describe func(S) string) *Registry[S] {
	return &Registry[S]{rig: rig, need: need, describe: describe}
}

// Need is the registry's Need.
func (r *Registry[S]) Need() Need { return r.need }

// Register keeps s, to be stopped by StopAll. When the test binary is
// exiting (a signal arrived while s started), it stops s instead and
// returns an error.
func (r *Registry[S]) Register(s S) (S, string, error) {
	var zero S
	r.mu.Lock()
	if r.live == nil {
		r.live = map[S]struct{}{}
	}
	r.live[s] = struct{}{}
	exiting := r.exiting
	r.mu.Unlock()
	if exiting {
		_ = s.Stop()
		return zero, "", errors.New(r.rig + ": test binary is exiting")
	}
	return s, "", nil
}

// Forget drops s (its Stop calls it).
func (r *Registry[S]) Forget(s S) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, s)
}

// StopAll stops every server the registry keeps, at once, and refuses new
// ones from now on.
func (r *Registry[S]) StopAll() {
	r.mu.Lock()
	r.exiting = true
	servers := make([]S, 0, len(r.live))
	for s := range r.live {
		servers = append(servers, s)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: stopping %s: %v\n", r.rig, r.describe(s), err)
			}
		})
	}
	wg.Wait()
}

// Activate allows Shared and returns StopAll, for a TestMain that serves
// several rigs.
func (r *Registry[S]) Activate() (stop func()) {
	r.mu.Lock()
	r.mainActive = true
	r.mu.Unlock()
	return r.StopAll
}

// Main runs the tests, then stops every server (also on SIGINT and
// SIGTERM: internal/testmain).
func (r *Registry[S]) Main(m testmain.M) {
	testmain.Run(m, r.rig, r.Activate())
}

// Shared returns the test binary's server for the option set named by
// key, starting it with start on first use. It needs Main or Activate,
// which stop it when the binary exits.
func (r *Registry[S]) Shared(t testing.TB, key string, start StartFunc[S]) S {
	t.Helper()
	s, skip := r.Try(t, "Shared", key, start)
	if skip != "" {
		r.need.Unavailable(t, skip)
	}
	return s
}

// Try is Shared for a caller (named by fn, for the message when TestMain
// did not activate the registry) that handles "no server" itself: it
// returns the reason instead of skipping. A start that failed fails t.
func (r *Registry[S]) Try(t testing.TB, fn, key string, start StartFunc[S]) (S, string) {
	t.Helper()
	r.mu.Lock()
	if !r.mainActive {
		r.mu.Unlock()
		t.Fatalf("%[1]s.%[2]s needs TestMain to call %[1]s.Main(m) (or Activate), which stops the shared servers when the test binary exits; use %[1]s.Start for a per-test server", r.rig, fn)
	}
	if r.shared == nil {
		r.shared = map[string]*entry[S]{}
	}
	e := r.shared[key]
	if e == nil {
		e = &entry[S]{}
		r.shared[key] = e
	}
	r.mu.Unlock()
	e.once.Do(func() { e.srv, e.skip, e.err = start() })
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.srv, e.skip
}

// Start starts a server for t alone and stops it when t ends.
func (r *Registry[S]) Start(t testing.TB, start StartFunc[S]) S {
	t.Helper()
	return For(t, r.rig, r.need, start)
}
