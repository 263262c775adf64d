package mototest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/dbrig/registry"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Environment variables read by this package.
const (
	// EnvRequire: "1" (or true/yes/on) turns "moto not available" skips
	// into failures.
	EnvRequire = "ROTATOR_REQUIRE_MOTO"
	// EnvCommand: the command that runs moto_server, instead of looking
	// for one on $PATH. "-H 127.0.0.1 -p PORT" is appended.
	EnvCommand = "ROTATOR_MOTO_SERVER"
)

// Region and AccountID are what moto answers for: the client's region and
// moto's default account.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// readyTimeout bounds the wait for a started server to answer. moto is
// ready in ~1.2 s; a cold Python import cache on a busy machine is slower.
const readyTimeout = 60 * time.Second

// Server is a running moto_server.
type Server struct {
	url     string
	command string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
	output  *tailBuffer
	stop    sync.Once
	stopErr error

	clientOnce sync.Once
	client     *secretsmanager.Client
}

// URL is the server's base URL, for example http://127.0.0.1:41234.
func (s *Server) URL() string { return s.url }

// Command is the command line that started the server.
func (s *Server) Command() string { return s.command }

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Exited reports whether the server process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it
// to exit. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stop.Do(func() {
		if s.Exited() {
			s.stopErr = fmt.Errorf("mototest: %s had exited on its own (%v): %s", s.command, s.waitErr, s.output.String())
			return
		}
		terminate(s.cmd)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			kill(s.cmd)
			<-s.done
		}
	})
	return s.stopErr
}

// Client returns a client of the real SDK that talks to this server (see
// [EndpointOptions]). The same client is returned on every call.
func (s *Server) Client() *secretsmanager.Client {
	s.clientOnce.Do(func() {
		s.client = secretsmanager.New(secretsmanager.Options{}, s.ClientOptions())
	})
	return s.client
}

// ClientOptions returns the option that points a Secrets Manager client at
// this server, e.g. secretsmanager.New(secretsmanager.Options{}, srv.ClientOptions()).
func (s *Server) ClientOptions() func(*secretsmanager.Options) {
	return EndpointOptions(s.url)
}

// EndpointOptions points a Secrets Manager client at a moto server at
// baseURL, configured as rotatortest configures its clients (static
// credentials, region us-east-1, the standard retryer with a 1 ms backoff),
// so both backends of a scenario see the same client.
func EndpointOptions(baseURL string) func(*secretsmanager.Options) {
	return rotatortest.EndpointOptions(baseURL)
}

// need: without moto, tests skip, or fail when $ROTATOR_REQUIRE_MOTO=1.
var need = registry.Need{Env: EnvRequire, Prefix: "mototest: "}

// Required reports whether $ROTATOR_REQUIRE_MOTO asks for moto.
func Required() bool { return need.Required() }

// Start starts a moto_server for t and stops it in t.Cleanup. It skips t
// (or fails it, with $ROTATOR_REQUIRE_MOTO=1) when moto is not available.
func Start(t testing.TB) *Server {
	t.Helper()
	return registry.For(t, "mototest", need, start)
}

// StartOrReason is Start for a test that also has parts to run without
// moto (the same scenarios against rotatortest, say). When moto is not
// available it returns nil and the reason, for the parts that need moto to
// skip with; with $ROTATOR_REQUIRE_MOTO=1 it also marks t failed (once,
// with the reason), while t goes on running the other parts.
func StartOrReason(t testing.TB) (*Server, string) {
	t.Helper()
	s, skip := registry.TryFor(t, "mototest", start)
	if skip != "" {
		need.Mark(t, skip)
		return nil, skip
	}
	return s, ""
}

var shared struct {
	once       sync.Once
	srv        *Server
	skip       string
	err        error
	mu         sync.Mutex
	mainActive bool
}

// Shared returns the test binary's moto_server, starting it on first use.
// [Main] stops it when the tests end; without Main it is stopped by the
// parent-death signal when the test binary exits (Linux only: elsewhere
// Shared needs Main).
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	withMain := shared.mainActive
	shared.mu.Unlock()
	if !withMain && runtime.GOOS != "linux" {
		t.Fatal("mototest.Shared needs TestMain to call mototest.Main(m) on this OS; use mototest.Start for a per-test server")
	}
	shared.once.Do(func() { shared.srv, shared.skip, shared.err = start() })
	switch {
	case shared.err != nil:
		t.Fatal(shared.err)
	case shared.skip != "":
		need.Unavailable(t, shared.skip)
	}
	if shared.srv.Exited() {
		t.Fatalf("mototest: the shared server exited: %v: %s", shared.srv.waitErr, shared.srv.output.String())
	}
	return shared.srv
}

// Main runs the tests and then stops the shared server; it also stops it
// when the binary gets SIGINT or SIGTERM. Call it from TestMain:
//
//	func TestMain(m *testing.M) { mototest.Main(m) }
func Main(m testmain.M) {
	shared.mu.Lock()
	shared.mainActive = true
	shared.mu.Unlock()
	testmain.Run(m, "mototest", stopShared)
}

func stopShared() {
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "mototest: stopping shared server: %v\n", err)
		}
	}
}

// candidate is one way to run moto_server.
type candidate struct {
	name string   // for messages
	argv []string // without -H/-p
}

// candidates lists the ways to run moto in the order they are tried, and
// why the others are not available.
func candidates() ([]candidate, []string) {
	if c := strings.TrimSpace(os.Getenv(EnvCommand)); c != "" {
		f := strings.Fields(c)
		return []candidate{{name: EnvCommand + "=" + c, argv: f}}, nil
	}
	var cs []candidate
	var why []string
	if p, err := exec.LookPath("moto_server"); err == nil {
		cs = append(cs, candidate{name: "moto_server (" + p + ")", argv: []string{p}})
	} else {
		why = append(why, "moto_server is not on PATH")
	}
	if p, err := exec.LookPath("python3"); err == nil {
		cs = append(cs, candidate{name: p + " -m moto.server", argv: []string{p, "-m", "moto.server"}})
	} else {
		why = append(why, "python3 is not on PATH (for python3 -m moto.server)")
	}
	return cs, why
}

// start returns a running server, or a reason to skip, or an error.
func start() (*Server, string, error) {
	cs, why := candidates()
	for _, c := range cs {
		var last string
		for attempt := 0; attempt < 3; attempt++ {
			s, gone, err := launch(c)
			if err != nil {
				return nil, "", err
			}
			if s != nil {
				return s, "", nil
			}
			last = gone
			// A port taken between choosing and binding it: try another.
			if !strings.Contains(gone, "Address already in use") {
				break
			}
		}
		why = append(why, c.name+": "+last)
	}
	if len(why) == 0 {
		why = append(why, "no way to run moto_server")
	}
	return nil, "moto is not available: " + strings.Join(why, "; ") + " (install it with: python3 -m pip install 'moto[server]==5.2.1')", nil
}

// launch starts c on a free port and waits until it answers. It returns
// the server, or a description of why c is not available (it could not be
// run, or exited before answering), or an error (it runs and never
// answers).
func launch(c candidate) (*Server, string, error) {
	port, err := dbrig.FreePort()
	if err != nil {
		return nil, "", fmt.Errorf("mototest: finding a free port: %w", err)
	}
	argv := append(append([]string(nil), c.argv...), "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd := exec.Command(argv[0], argv[1:]...)
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	cmd.SysProcAttr = sysProcAttr()
	// Python buffers its output when it is not a terminal; the tail of
	// the output is only read when something went wrong, and then we want
	// all of it.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	s := &Server{
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		command: strings.Join(argv, " "),
		cmd:     cmd,
		done:    make(chan struct{}),
		output:  out,
	}
	started := make(chan error, 1)
	go func() {
		// On Linux the server gets SIGKILL when the thread that started
		// it exits (Pdeathsig is per thread). Locking this goroutine to
		// its thread for the server's whole life keeps that thread alive
		// exactly as long as the test binary and the server both are.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Sprintf("cannot run: %v", err), nil
	}
	deadline := time.Now().Add(readyTimeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if ready(hc, s.url) {
			return s, "", nil
		}
		select {
		case <-s.done:
			return nil, fmt.Sprintf("exited before answering (%v): %s", s.waitErr, lastLines(out.String(), 3)), nil
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, "", fmt.Errorf("mototest: %s did not answer within %v: %s", s.command, readyTimeout, lastLines(out.String(), 10))
		}
	}
}

// ready reports whether moto answers its own API.
func ready(hc *http.Client, base string) bool {
	resp, err := hc.Get(base + "/moto-api/config")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, " | ")
	if out == "" {
		return "(no output)"
	}
	return out
}

// tailBuffer keeps the last max bytes written to it. moto logs a line per
// request; only the end matters when something fails.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
