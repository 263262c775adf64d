package prismtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Prism release .ci/run installs and the tests expect.
const Version = "5.14.2"

// EnvPrism names the Prism executable; EnvRequire=1 turns a skip into a
// failure.
const (
	EnvPrism   = "ROTATOR_PRISM"
	EnvRequire = "ROTATOR_REQUIRE_CONTRACT"
)

// Server is Prism mocking one or more specs behind one HTTPS URL.
type Server struct {
	// URL is the front's base URL (https://127.0.0.1:port).
	URL string
	// CAs verifies the front's certificate.
	CAs *x509.CertPool

	mu         sync.Mutex
	violations []string
	// responseNotes are violations of the vendor's own examples.
	responseNotes []string
	requests      []string
}

// dir is this package's directory.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Spec returns the path of a spec in specs/.
func Spec(name string) string { return filepath.Join(dir(), "specs", name) }

// skip skips the test with the reason, or fails it under
// ROTATOR_REQUIRE_CONTRACT=1.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("contract test cannot run (%s=1): %s", EnvRequire, msg)
	}
	t.Skipf("contract test skipped: %s (set %s=1 to make this a failure)", msg, EnvRequire)
}

// Find returns the Prism executable, or "" and why not.
func Find() (string, string) {
	if p := os.Getenv(EnvPrism); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("$%s=%s: %v", EnvPrism, p, err)
		}
		return p, ""
	}
	if p, err := exec.LookPath("prism"); err == nil {
		return p, ""
	}
	local := filepath.Join(dir(), "..", "..", ".tools", "prism", "node_modules", ".bin", "prism")
	if _, err := os.Stat(local); err == nil {
		return local, ""
	}
	return "", fmt.Sprintf("no Prism: set $%s, put prism on PATH, or `npm install --prefix .tools/prism @stoplight/prism-cli@%s`", EnvPrism, Version)
}

// route is one spec's paths, served by one Prism.
type route struct {
	spec    string
	paths   []*regexp.Regexp
	backend *url.URL
}

// Start starts Prism for each spec (names in specs/ or paths) behind one
// HTTPS front, and stops everything when the test ends.
func Start(t testing.TB, specs ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil && os.Getenv(EnvPrism) == "" {
		skip(t, "no node on PATH")
	}
	bin, why := Find()
	if bin == "" {
		skip(t, "%s", why)
	}
	var routes []*route
	for _, s := range specs {
		path := s
		if !filepath.IsAbs(path) {
			path = Spec(s)
		}
		paths, err := specPaths(path)
		if err != nil {
			skip(t, "spec %s: %v", s, err)
		}
		port := startPrism(t, bin, path)
		routes = append(routes, &route{spec: filepath.Base(path), paths: paths, backend: &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", port)}})
	}
	srv := &Server{}
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.serve(w, r, routes)
	}))
	t.Cleanup(front.Close)
	srv.URL = front.URL
	srv.CAs = x509.NewCertPool()
	srv.CAs.AddCert(front.Certificate())
	return srv
}

// serve forwards a request to the Prism of the spec declaring its path,
// and records what Prism refused or flagged.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, routes []*route) {
	line := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.requests = append(s.requests, line)
	s.mu.Unlock()
	for _, rt := range routes {
		for _, re := range rt.paths {
			if !re.MatchString(r.URL.Path) {
				continue
			}
			rec := httptest.NewRecorder()
			httputil.NewSingleHostReverseProxy(rt.backend).ServeHTTP(rec, r)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			reqV, respV := splitViolations(res.Header.Get("sl-violations"))
			if reqV != "" || res.StatusCode >= 400 {
				s.violate("%s (%s): status %d: %s %s", line, rt.spec, res.StatusCode, reqV, summarize(body))
			}
			if respV != "" {
				// The vendor's own example does not match its own schema
				// (Twilio's relative *_page_uri under format "uri"): a
				// fact about the description, not about the request.
				s.mu.Lock()
				s.responseNotes = append(s.responseNotes, line+" ("+rt.spec+"): "+respV)
				s.mu.Unlock()
			}
			for k, vs := range res.Header {
				w.Header()[k] = vs
			}
			w.WriteHeader(res.StatusCode)
			_, _ = w.Write(body)
			return
		}
	}
	s.violate("%s: no spec declares this path", line)
	http.Error(w, "no spec declares this path", http.StatusNotFound)
}

// splitViolations parts Prism's sl-violations header into the request's
// violations and the response's (JSON arrays, "" when none).
func splitViolations(h string) (request, response string) {
	if h == "" {
		return "", ""
	}
	var all []struct {
		Location []string `json:"location"`
	}
	var raw []json.RawMessage
	if json.Unmarshal([]byte(h), &raw) != nil || json.Unmarshal([]byte(h), &all) != nil {
		return h, "" // unreadable: blame the request, to be safe
	}
	var req, resp []json.RawMessage
	for i, v := range all {
		if len(v.Location) > 0 && v.Location[0] == "response" {
			resp = append(resp, raw[i])
		} else {
			req = append(req, raw[i])
		}
	}
	enc := func(l []json.RawMessage) string {
		if len(l) == 0 {
			return ""
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	return enc(req), enc(resp)
}

func (s *Server) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// summarize keeps a problem document's validation messages short.
func summarize(body []byte) string {
	if len(body) > 600 {
		body = body[:600]
	}
	return string(bytes.TrimSpace(body))
}

// Requests returns "METHOD /path" for every request the front received.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Violations returns what Prism refused or flagged so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// AssertValid fails the test for every violation, and when no request
// reached Prism at all (a contract test that checked nothing).
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	if len(s.Requests()) == 0 {
		t.Error("no request reached Prism")
	}
	for _, v := range s.Violations() {
		t.Errorf("contract violation: %s", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.responseNotes {
		t.Logf("the vendor's example answer violates its own schema (not the engine's request): %s", n)
	}
}

// specPaths reads a spec's path templates as anchored regular
// expressions ({param} matches one segment).
func specPaths(path string) ([]*regexp.Regexp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON OpenAPI description: %w", err)
	}
	param := regexp.MustCompile(`\\\{[^/]+?\\\}`)
	var out []*regexp.Regexp
	for p := range doc.Paths {
		out = append(out, regexp.MustCompile("^"+param.ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)+"$"))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no paths")
	}
	return out, nil
}

// startPrism runs `prism mock` on a free port and waits until
// it listens.
func startPrism(t testing.TB, bin, spec string) (port string) {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		cmd := exec.Command(bin, "mock", "-h", "127.0.0.1", "-p", port, spec)
		cmd.SysProcAttr = sysProcAttr()
		var logs lockedBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			skip(t, "start prism: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() {
			terminate(cmd)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				kill(cmd)
				<-done
			}
		}
		if waitReady(port, done, 60*time.Second) {
			t.Cleanup(stop)
			return port
		}
		stop()
		t.Logf("prism on port %s did not start (attempt %d): %s", port, attempt+1, lastLines(logs.String(), 10))
	}
	t.Fatalf("prism did not start for %s", filepath.Base(spec))
	return ""
}

// waitReady polls the port until Prism answers HTTP or exits.
func waitReady(port string, done <-chan struct{}, limit time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(150 * time.Millisecond):
		}
		resp, err := c.Get("http://127.0.0.1:" + port + "/__prismtest_ready")
		if err == nil {
			resp.Body.Close()
			return true
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// AssertSent fails the test for every request of want ("METHOD /path")
// that did not reach Prism after the first since requests (a contract
// test that checked less than it says).
func (s *Server) AssertSent(t testing.TB, since int, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range s.Requests()[since:] {
		seen[r] = true
	}
	for _, r := range want {
		if !seen[r] {
			t.Errorf("%s never sent", r)
		}
	}
}
