package prismtest

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rig itself: a valid request passes, an invalid one and an
// undeclared path are violations, and each spec gets its own paths.
func TestContractRig(t *testing.T) {
	srv := Start(t, "sendgrid-api-keys.json", "sendgrid-scopes.json")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CAs}}}
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer SG.test")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := do("POST", "/v3/api_keys", `{"name":"k","scopes":["mail.send"]}`); s != 201 {
		t.Fatalf("valid create: %d", s)
	}
	if s := do("GET", "/v3/scopes", ""); s != 200 {
		t.Fatalf("the second spec's path: %d", s)
	}
	if n := len(srv.Violations()); n != 0 {
		t.Fatalf("valid requests flagged: %v", srv.Violations())
	}
	if s := do("POST", "/v3/api_keys", `{"scopes":"not-a-list"}`); s < 400 {
		t.Fatalf("invalid create answered %d", s)
	}
	do("GET", "/v3/nothing-here", "")
	v := srv.Violations()
	if len(v) != 2 || !strings.Contains(v[0], "POST /v3/api_keys") || !strings.Contains(v[1], "no spec declares") {
		t.Fatalf("violations: %q", v)
	}
}

// .ci/run installs the Prism version this package names.
func TestCIPinsPrismVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(dir(), "..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "prism_version="+Version) || !strings.Contains(string(b), EnvRequire+"=1") {
		t.Fatalf(".ci/run does not install Prism %s and set %s=1", Version, EnvRequire)
	}
}

// $ROTATOR_PRISM wins, and a wrong one is reported, not passed over.
func TestFindHonoursEnv(t *testing.T) {
	t.Setenv(EnvPrism, "/nonexistent/prism")
	if bin, why := Find(); bin != "" || !strings.Contains(why, "/nonexistent/prism") {
		t.Fatalf("Find() = %q, %q", bin, why)
	}
}

// errRecorder records Errorf instead of failing the test.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// AssertSent names each wanted request missing after the first since.
func TestAssertSent(t *testing.T) {
	srv := &Server{requests: []string{"GET /a", "POST /b", "GET /c"}}
	for _, tt := range []struct {
		since int
		want  []string
		errs  []string
	}{
		{0, []string{"GET /a", "GET /c"}, nil},
		{1, []string{"GET /a", "POST /b"}, []string{"GET /a never sent"}},
		{0, []string{"DELETE /d"}, []string{"DELETE /d never sent"}},
	} {
		r := &errRecorder{TB: t}
		srv.AssertSent(r, tt.since, tt.want...)
		if fmt.Sprint(r.errs) != fmt.Sprint(tt.errs) {
			t.Errorf("since %d, want %q: errors %q, want %q", tt.since, tt.want, r.errs, tt.errs)
		}
	}
}
