package httpapi

import (
	"crypto/x509"
	"testing"
	"time"
)

// A Config's clients carry the options added, one client per base URL;
// a refused base URL is not kept.
func TestConfig(t *testing.T) {
	var cfg Config
	pool := x509.NewCertPool()
	cfg.Add(WithRootCAs(pool), WithTimeout(3*time.Second))
	cfg.Add(WithRetries(2, time.Millisecond, time.Second))

	a, err := cfg.Client("acme", "https://a.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.roots != pool || a.timeout != 3*time.Second || a.maxAttempts != 2 || a.backoff != time.Millisecond || a.maxBackoff != time.Second {
		t.Fatalf("options not applied: roots %p, timeout %v, attempts %d, backoff %v..%v", a.roots, a.timeout, a.maxAttempts, a.backoff, a.maxBackoff)
	}
	if again, _ := cfg.Client("acme", "https://a.example.com"); again != a {
		t.Fatal("the same base URL made a second client")
	}
	if b, _ := cfg.Client("acme", "https://b.example.com"); b == a || b.base.Host != "b.example.com" {
		t.Fatal("another base URL did not get its own client")
	}
	if n, _ := cfg.New("acme", "https://a.example.com"); n == a || n.timeout != 3*time.Second {
		t.Fatal("New must make a fresh client with the options")
	}
	if _, err := cfg.Client("acme", "http://c.example.com"); err == nil {
		t.Fatal("an http base URL was accepted")
	}
	if _, ok := cfg.clients["http://c.example.com"]; ok || len(cfg.clients) != 2 {
		t.Fatalf("clients kept: %d, want 2 (the refused one not among them)", len(cfg.clients))
	}
}

func TestGone(t *testing.T) {
	other := &Error{Vendor: "acme", Status: 403, Err: ErrRejected}
	for _, tc := range []struct {
		name string
		in   error
		want error
	}{
		{"nil", nil, nil},
		{"404", &Error{Vendor: "acme", Status: 404, Err: ErrNotFound}, nil},
		{"403", other, other},
	} {
		if got := Gone(tc.in); got != tc.want {
			t.Errorf("%s: Gone = %v, want %v", tc.name, got, tc.want)
		}
	}
}
