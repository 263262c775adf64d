package httpapi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/rotator"
)

const theKey = "SG.super-secret-key-value-0123456789"

// server is an httptest TLS server answering with handle; its CA is in
// pool.
func server(t *testing.T, handle http.HandlerFunc) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewTLSServer(handle)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

// client is a client of srv whose sleeps are recorded, not slept.
func client(t *testing.T, srv *httptest.Server, pool *x509.CertPool, opts ...Option) (*Client, *[]time.Duration) {
	t.Helper()
	c, err := New("acme", srv.URL+"/api/", append([]Option{WithRootCAs(pool)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	slept := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*slept = append(*slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, slept
}

func authed(op, method string, idempotent bool) Request {
	return Request{Op: op, Method: method, Path: "/keys", Header: http.Header{"Authorization": {"Bearer " + theKey}},
		Query: url.Values{"token": {"query-secret-abc123"}}, Idempotent: idempotent}
}

func TestSendsUserAgentHeadersAndBody(t *testing.T) {
	var got *http.Request
	var body []byte
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		body = make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		w.WriteHeader(201)
		fmt.Fprint(w, `{"id":"k1"}`)
	})
	c, _ := client(t, srv, pool)
	req := authed("create key", http.MethodPost, false)
	if err := req.JSONBody(map[string]string{"name": "n"}); err != nil {
		t.Fatal(err)
	}
	var out struct{ ID string }
	if _, err := c.JSON(context.Background(), req, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "k1" {
		t.Fatalf("decoded %+v", out)
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Rotator/") || !strings.Contains(ua, "acme") {
		t.Errorf("User-Agent %q does not name Rotator and the vendor", ua)
	}
	if got.URL.Path != "/api/keys" || got.URL.Query().Get("token") != "query-secret-abc123" {
		t.Errorf("request went to %s", got.URL)
	}
	if got.Header.Get("Authorization") != "Bearer "+theKey || got.Header.Get("Content-Type") != "application/json" || string(body) != `{"name":"n"}` {
		t.Errorf("headers or body lost: %v %q", got.Header, body)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		idempotent bool
		answers    []int // statuses before a 200 (beyond them: 200)
		retryAfter string
		wantCalls  int
		wantErr    error
		wantSleeps []time.Duration // nil: any backoff
	}{
		{"429 honours Retry-After seconds", "POST", false, []int{429, 429}, "3", 3, nil, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"503 on a GET is retried", "GET", true, []int{503, 500}, "", 3, nil, nil},
		{"500 on a create is not retried (the key may exist)", "POST", false, []int{500}, "", 1, ErrServer, []time.Duration{}},
		{"429 on every attempt gives up", "GET", true, []int{429, 429, 429, 429, 429}, "1", 4, ErrRateLimited, nil},
		{"403 is not retried", "DELETE", true, []int{403}, "", 1, rotator.ErrPermission, []time.Duration{}},
		{"401 is a failed login", "GET", true, []int{401}, "", 1, rotator.ErrLoginFailed, []time.Duration{}},
		{"404", "DELETE", true, []int{404}, "", 1, ErrNotFound, []time.Duration{}},
		{"400", "POST", false, []int{400}, "", 1, ErrRejected, []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				if n <= len(tt.answers) {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(tt.answers[n-1])
					fmt.Fprintf(w, `{"errors":[{"message":"no: %s"}]}`, theKey)
					return
				}
				fmt.Fprint(w, `{}`)
			})
			c, slept := client(t, srv, pool)
			_, err := c.Do(context.Background(), authed("list keys", tt.method, tt.idempotent))
			if int(calls.Load()) != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v does not wrap %v", err, tt.wantErr)
				}
				msg := err.Error()
				for _, w := range []string{"acme", "list keys", tt.method + " /keys", "status"} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not name %q", msg, w)
					}
				}
				for _, leak := range []string{theKey, "query-secret-abc123", "Bearer", "127.0.0.1"} {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q holds %q", msg, leak)
					}
				}
			}
			if tt.wantSleeps != nil && fmt.Sprint(*slept) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("slept %v, want %v", *slept, tt.wantSleeps)
			}
			for _, d := range *slept {
				if d <= 0 || d > DefaultMaxBackoff {
					t.Errorf("backoff %v outside (0, %v]", d, DefaultMaxBackoff)
				}
			}
		})
	}
}

// A Retry-After beyond the context's deadline ends the call at once with
// the vendor's answer, instead of sleeping into the Lambda timeout.
func TestRetryAfterBoundedByDeadline(t *testing.T) {
	var calls atomic.Int32
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(429)
	})
	c, slept := client(t, srv, pool)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Do(ctx, authed("create key", "POST", false))
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("want a rate-limit error naming the deadline, got %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != 120*time.Second {
		t.Fatalf("RetryAfter not kept: %#v", err)
	}
	if calls.Load() != 1 || len(*slept) != 0 {
		t.Fatalf("%d calls, %d sleeps: want 1 call and no sleep", calls.Load(), len(*slept))
	}
}

func TestTimeoutIsRetriedForIdempotentRequestsOnly(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	for _, tt := range []struct {
		method     string
		idempotent bool
		want       int32
	}{{"GET", true, 2}, {"POST", false, 1}} {
		calls.Store(0)
		c, _ := client(t, srv, pool, WithTimeout(50*time.Millisecond), WithRetries(2, time.Millisecond, time.Millisecond))
		_, err := c.Do(context.Background(), authed("test key", tt.method, tt.idempotent))
		if !errors.Is(err, rotator.ErrUnreachable) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("%s: want a timeout, got %v", tt.method, err)
		}
		if calls.Load() != tt.want {
			t.Errorf("%s: %d calls, want %d", tt.method, calls.Load(), tt.want)
		}
	}
}

func TestTLSIsVerified(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	c, err := New("acme", srv.URL) // the system roots do not know the test CA
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), authed("list keys", "GET", true))
	if !errors.Is(err, rotator.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error, got %v", err)
	}
}

func TestBaseURLChecks(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"http://api.example.com", "must be https"},
		{"https://user:pw@api.example.com", "user information"},
		{"https://api.example.com/?key=abc", "query"},
		{"https:///path", "no host"},
		{"::not a url", "not a URL"},
	} {
		_, err := New("acme", tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: want an error saying %q, got %v", tt.url, tt.want, err)
		}
		if err != nil && (strings.Contains(err.Error(), "pw@") || strings.Contains(err.Error(), "abc")) {
			t.Errorf("%q: error quotes the URL: %v", tt.url, err)
		}
	}
}

func TestResponseBodyIsBounded(t *testing.T) {
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 4096))
	})
	c, _ := client(t, srv, pool, WithMaxBodyBytes(1024))
	_, err := c.Do(context.Background(), authed("list keys", "GET", true))
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("want ErrResponseTooLarge, got %v", err)
	}
}

// A redirect would carry the credential headers elsewhere: it is
// returned as a failure, never followed.
func TestRedirectIsNotFollowed(t *testing.T) {
	var reached atomic.Bool
	other, _ := server(t, func(w http.ResponseWriter, r *http.Request) { reached.Store(true) })
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	c, _ := client(t, srv, pool)
	_, err := c.Do(context.Background(), authed("list keys", "GET", true))
	if err == nil || reached.Load() {
		t.Fatalf("redirect followed (reached=%v, err=%v)", reached.Load(), err)
	}
	if !strings.Contains(err.Error(), "302") {
		t.Errorf("error does not give the status: %v", err)
	}
}

func TestMalformedJSONDoesNotQuoteTheBody(t *testing.T) {
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"key":"`+theKey+`"`) })
	c, _ := client(t, srv, pool)
	var out map[string]any
	_, err := c.JSON(context.Background(), authed("create key", "POST", false), &out)
	if !errors.Is(err, ErrBadResponse) || strings.Contains(err.Error(), theKey) {
		t.Fatalf("want ErrBadResponse without the body, got %v", err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tt.v, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestVendorMessage(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"errors":[{"field":"name","message":"name is required"}]}`, "name is required"},
		{`{"errorSummary":"Not found: Resource not found: x (AppInstance)"}`, "Not found: Resource not found: x (AppInstance)"},
		{`{"message":"bad\nthing"}`, "bad thing"},
		{`<html>gateway</html>`, ""},
		{`plain words`, "plain words"},
		{`{"message":"` + strings.Repeat("a", 300) + `"}`, strings.Repeat("a", 200) + "..."},
	} {
		if got := vendorMessage([]byte(tt.body)); got != tt.want {
			t.Errorf("vendorMessage(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// The defaults README states: a 10-second timeout per attempt, 4
// attempts, 1 MiB bodies.
func TestDefaults(t *testing.T) {
	c, err := New("acme", "https://api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != 10*time.Second || c.maxAttempts != 4 || c.maxBody != 1<<20 {
		t.Fatalf("defaults: timeout %v, attempts %d, body %d", c.timeout, c.maxAttempts, c.maxBody)
	}
}

// An id with a slash stays one path segment.
func TestEscapedPathStaysEscaped(t *testing.T) {
	var got string
	srv, pool := server(t, func(w http.ResponseWriter, r *http.Request) { got = r.URL.EscapedPath(); fmt.Fprint(w, "{}") })
	c, _ := client(t, srv, pool)
	if _, err := c.Do(context.Background(), Request{Op: "delete key", Method: "DELETE", Path: "/keys/" + PathEscape("a/b c"), Idempotent: true}); err != nil {
		t.Fatal(err)
	}
	if got != "/api/keys/a%2Fb%20c" {
		t.Fatalf("path sent: %s", got)
	}
}
