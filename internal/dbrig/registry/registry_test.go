package registry

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// srv is a server that counts its stops.
type srv struct {
	name  string
	stops atomic.Int32
	reg   *Registry[*srv]
}

func (s *srv) Stop() error {
	s.stops.Add(1)
	if s.reg != nil {
		s.reg.Forget(s)
	}
	return nil
}

// rec is a testing.TB that records what a helper does to its test: the
// failure and skip methods end the calling goroutine, as the real ones do.
type rec struct {
	testing.TB
	fatal, skip, errs []string
	cleanups          []func()
}

func (r *rec) Helper()           {}
func (r *rec) Fatal(args ...any) { r.fatal = append(r.fatal, fmt.Sprint(args...)); runtime.Goexit() }
func (r *rec) Fatalf(f string, args ...any) {
	r.fatal = append(r.fatal, fmt.Sprintf(f, args...))
	runtime.Goexit()
}
func (r *rec) Skipf(f string, args ...any) {
	r.skip = append(r.skip, fmt.Sprintf(f, args...))
	runtime.Goexit()
}
func (r *rec) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }
func (r *rec) Cleanup(f func())             { r.cleanups = append(r.cleanups, f) }
func (r *rec) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// run calls f with a recording TB in its own goroutine (Goexit ends it).
func run(f func(t testing.TB)) *rec {
	r := &rec{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

const envRequire = "ROTATOR_REGISTRY_TEST_REQUIRE"

func newReg() *Registry[*srv] {
	return New("rigx", Need{Env: envRequire}, func(s *srv) string { return s.name })
}

func TestSharedNeedsActivate(t *testing.T) {
	r := newReg()
	got := run(func(t testing.TB) { r.Shared(t, "k", func() (*srv, string, error) { return &srv{}, "", nil }) })
	if len(got.fatal) != 1 || !strings.Contains(got.fatal[0], "rigx.Shared needs TestMain to call rigx.Main(m)") {
		t.Fatalf("fatal = %q", got.fatal)
	}
}

func TestSharedStartsOncePerKeyAndStopAllStopsThem(t *testing.T) {
	r := newReg()
	stop := r.Activate()
	starts := 0
	start := func(name string) StartFunc[*srv] {
		return func() (*srv, string, error) {
			starts++
			return r.Register(&srv{name: name, reg: r})
		}
	}
	var a1, a2, b *srv
	run(func(t testing.TB) { a1 = r.Shared(t, "a", start("a")) })
	run(func(t testing.TB) { a2 = r.Shared(t, "a", start("a again")) })
	run(func(t testing.TB) { b = r.Shared(t, "b", start("b")) })
	if a1 == nil || a1 != a2 || b == a1 || starts != 2 {
		t.Fatalf("a1 %p a2 %p b %p after %d starts: want one server per key", a1, a2, b, starts)
	}
	stop()
	if a1.stops.Load() != 1 || b.stops.Load() != 1 {
		t.Fatalf("stops: a %d, b %d", a1.stops.Load(), b.stops.Load())
	}
	// Exiting: a server that starts now is stopped at once, with an error.
	late := &srv{name: "late"}
	if _, _, err := r.Register(late); err == nil || late.stops.Load() != 1 {
		t.Fatalf("Register after StopAll: %v, %d stops", err, late.stops.Load())
	}
}

func TestUnavailableSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		require  string
		wantSkip bool
	}{{"", true}, {"0", true}, {"1", false}, {"yes", false}} {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(envRequire, tc.require)
			r := newReg()
			r.Activate()
			got := run(func(t testing.TB) {
				r.Shared(t, "k", func() (*srv, string, error) { return nil, "no server here", nil })
			})
			if tc.wantSkip {
				if len(got.skip) != 1 || len(got.fatal) != 0 || !strings.Contains(got.skip[0], "no server here (set "+envRequire+"=1") {
					t.Fatalf("skip %q fatal %q", got.skip, got.fatal)
				}
				return
			}
			if len(got.fatal) != 1 || len(got.skip) != 0 || !strings.Contains(got.fatal[0], "no server here ("+envRequire+"=1 makes this a failure") {
				t.Fatalf("skip %q fatal %q", got.skip, got.fatal)
			}
		})
	}
}

func TestStartStopsAtCleanupAndFailsOnError(t *testing.T) {
	r := newReg()
	s := &srv{name: "one"}
	got := run(func(t testing.TB) { r.Start(t, func() (*srv, string, error) { return s, "", nil }) })
	if len(got.fatal)+len(got.skip) != 0 || s.stops.Load() != 0 {
		t.Fatalf("fatal %q skip %q stops %d", got.fatal, got.skip, s.stops.Load())
	}
	got.runCleanups()
	if s.stops.Load() != 1 {
		t.Fatalf("stops after cleanup: %d", s.stops.Load())
	}

	boom := errors.New("server broke")
	got = run(func(t testing.TB) { r.Start(t, func() (*srv, string, error) { return nil, "", boom }) })
	if len(got.fatal) != 1 || got.fatal[0] != boom.Error() || len(got.cleanups) != 0 {
		t.Fatalf("fatal %q cleanups %d", got.fatal, len(got.cleanups))
	}

	// TryFor and Need.Mark: the reason comes back; a required server marks
	// the test failed without ending it.
	t.Setenv(envRequire, "1")
	var reason string
	got = run(func(t testing.TB) {
		_, reason = TryFor(t, "rigx", func() (*srv, string, error) { return nil, "none", nil })
		r.Need().Mark(t, reason)
	})
	if reason != "none" || len(got.errs) != 1 || len(got.fatal) != 0 {
		t.Fatalf("reason %q errs %q fatal %q", reason, got.errs, got.fatal)
	}
}

func TestNewCAPEM(t *testing.T) {
	var p []byte
	got := run(func(t testing.TB) { p = NewCAPEM(t, "rigx") })
	if len(got.fatal) != 0 || !strings.Contains(string(p), "BEGIN CERTIFICATE") {
		t.Fatalf("NewCAPEM = %q, fatal %q", p, got.fatal)
	}
}
