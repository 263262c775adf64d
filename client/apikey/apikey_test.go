package apikey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rotatorkit/rotator/client/apikey"
	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// vendor is an API that accepts a set of keys, in a header of its choice,
// and echoes the request body.
type vendor struct {
	header, prefix string
	status         int // the refusal status

	mu    sync.Mutex
	valid map[string]bool
	seen  []string // every key ever valid, for the leak check
}

func newVendor(first string) *vendor {
	return &vendor{header: "X-Api-Key", status: http.StatusUnauthorized, valid: map[string]bool{first: true}, seen: []string{first}}
}

func (v *vendor) set(key string, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.valid[key] = ok
	v.seen = append(v.seen, key)
}

func (v *vendor) keys() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.seen...)
}

func (v *vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get(v.header), v.prefix)
	v.mu.Lock()
	ok = ok && v.valid[key]
	v.mu.Unlock()
	if !ok {
		http.Error(w, "invalid API key", v.status)
		return
	}
	_, _ = io.Copy(w, r.Body)
}

// dualKey is a dual-key rotation against the vendor: the new key is made
// valid at setSecret, the old one revoked once the new one is current.
// Between rotations the vendor accepts the current key only.
type dualKey struct{ v *vendor }

func (d dualKey) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	key, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	next := cur.Clone()
	next.SetString("api_key", key)
	return next, nil
}

func (d dualKey) SetPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	key, _ := p.String("api_key")
	d.v.set(key, true)
	return nil
}

func (d dualKey) TestPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if key, _ := p.String("api_key"); key == "" {
		return fmt.Errorf("no pending key: %w", rotator.ErrLoginFailed)
	}
	return nil
}

func (d dualKey) AfterPromotion(ctx context.Context, r *rotator.Rotation) error {
	prev, err := r.Previous(ctx)
	if err != nil {
		return err
	}
	key, _ := prev.String("api_key")
	d.v.set(key, false)
	return nil
}

// keyRig is a secret holding a vendor key, its rotation, and a client.
type keyRig struct {
	t      *testing.T
	sm     *rotatortest.Server
	arn    string
	vendor *vendor
	srv    *httptest.Server
	handle rotatortest.RotationFunc
	logs   *rotatortest.LogBuffer
	cache  *secretcache.Cache
	errs   []string
}

func newKeyRig(t *testing.T, v *vendor) *keyRig {
	t.Helper()
	r := &keyRig{t: t, sm: rotatortest.NewServer(), vendor: v, logs: &rotatortest.LogBuffer{}}
	t.Cleanup(r.sm.Close)
	r.arn = r.sm.MustCreateSecret(t, "vendor/api", `{"api_key":"`+v.keys()[0]+`","account":"42"}`)
	r.srv = httptest.NewServer(v)
	t.Cleanup(r.srv.Close)
	h, err := rotator.New(r.sm.Client(), dualKey{v}, rotator.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r.handle = h.Handle
	r.cache = secretcache.New(r.sm.Client(), secretcache.WithLogger(r.logs.Logger()))
	t.Cleanup(r.cache.Close)
	t.Cleanup(func() {
		rotatortest.AssertNoSecrets(t, "logs", r.logs.String(), v.keys()...)
		rotatortest.AssertNoSecrets(t, "errors", strings.Join(r.errs, "\n"), v.keys()...)
	})
	return r
}

func (r *keyRig) transport(opts ...apikey.Option) *apikey.Transport {
	r.t.Helper()
	tr, err := apikey.New(r.cache, r.arn, append([]apikey.Option{
		apikey.WithHeader(r.vendor.header, r.vendor.prefix),
		apikey.WithBase(r.srv.Client().Transport),
		apikey.WithLogger(r.logs.Logger()),
	}, opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return tr
}

func (r *keyRig) rotate() {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	if !out.Succeeded {
		r.t.Fatal(out.Err)
	}
}

func TestTransportRetriesWithTheRotatedKey(t *testing.T) {
	r := newKeyRig(t, newVendor("first-Vendor-key-1"))
	tr := r.transport()
	client := &http.Client{Transport: tr}
	ctx := context.Background()
	// Requests whose body can be sent again, as http.NewRequest makes them.
	kinds := []struct {
		method string
		body   func(s string) io.Reader
	}{
		{http.MethodGet, func(string) io.Reader { return nil }},
		{http.MethodPost, func(s string) io.Reader { return bytes.NewReader([]byte(s)) }},
		{http.MethodPut, func(s string) io.Reader { return strings.NewReader(s) }},
		{http.MethodPatch, func(s string) io.Reader { return bytes.NewBufferString(s) }},
	}
	const requests, every = 40, 4
	failed, rotations := 0, 0
	for i := range requests {
		if i > 0 && i%every == 0 {
			r.rotate() // the cache (5-minute TTL) still holds the revoked key
			rotations++
		}
		k := kinds[i%len(kinds)]
		want := ""
		if k.method != http.MethodGet {
			want = fmt.Sprintf("payload %d", i)
		}
		req, err := http.NewRequestWithContext(ctx, k.method, r.srv.URL, k.body(want))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			r.errs = append(r.errs, err.Error())
			t.Errorf("request %d: %v", i, err)
			failed++
			continue
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != want {
			t.Errorf("request %d (%s): %d %q, want 200 %q", i, k.method, resp.StatusCode, got, want)
			failed++
		}
	}
	s := tr.Stats()
	t.Logf("%d requests, %d rotations, %d failed; refused %d, retried %d; GetSecretValue by the client %d",
		requests, rotations, failed, s.Refused, s.Retries, r.cache.Stats().Fetches)
	if s.Refused != uint64(rotations) || s.Retries != uint64(rotations) {
		t.Fatalf("stats %+v: want one refusal and one retry per rotation (%d)", s, rotations)
	}
	if n := r.cache.Stats().Fetches; n != uint64(1+rotations) {
		t.Fatalf("%d GetSecretValue, want %d", n, 1+rotations)
	}
}

func TestTransportConcurrentRefusalsShareOneFetch(t *testing.T) {
	r := newKeyRig(t, newVendor("first-Vendor-key-1"))
	tr := r.transport()
	client := &http.Client{Transport: tr}
	get := func() error {
		resp, err := client.Get(r.srv.URL)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	r.rotate()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- get() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := r.cache.Stats().Fetches; n != 2 {
		t.Fatalf("20 refused requests made %d GetSecretValue in all, want 2", n)
	}
}

func TestTransportRefusalsNotRetried(t *testing.T) {
	tests := []struct {
		name     string
		vendor   func() *vendor
		opts     []apikey.Option
		rotate   bool
		revoke   bool // the vendor revokes the key with no rotation
		body     func() io.Reader
		want     int
		wantStat apikey.Stats
	}{
		{
			name: "a streamed body cannot be sent again", rotate: true,
			body: func() io.Reader { return io.NopCloser(strings.NewReader("stream")) },
			want: http.StatusUnauthorized, wantStat: apikey.Stats{Refused: 1, NotReplayable: 1},
		},
		{
			name: "the secret holds no newer key", revoke: true,
			want: http.StatusUnauthorized, wantStat: apikey.Stats{Refused: 1},
		},
		{
			name: "403 is not a refusal by default", rotate: true,
			vendor: func() *vendor { v := newVendor("first-Vendor-key-1"); v.status = http.StatusForbidden; return v },
			want:   http.StatusForbidden,
		},
		{
			name: "403 is a refusal with WithRetryOn", rotate: true,
			vendor: func() *vendor { v := newVendor("first-Vendor-key-1"); v.status = http.StatusForbidden; return v },
			opts:   []apikey.Option{apikey.WithRetryOn(http.StatusUnauthorized, http.StatusForbidden)},
			want:   http.StatusOK, wantStat: apikey.Stats{Refused: 1, Retries: 1},
		},
		{
			name: "Authorization: Bearer by default", rotate: true,
			vendor: func() *vendor {
				v := newVendor("first-Vendor-key-1")
				v.header, v.prefix = "Authorization", "Bearer "
				return v
			},
			opts: []apikey.Option{apikey.WithHeader("Authorization", "Bearer ")},
			want: http.StatusOK, wantStat: apikey.Stats{Refused: 1, Retries: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVendor("first-Vendor-key-1")
			if tt.vendor != nil {
				v = tt.vendor()
			}
			r := newKeyRig(t, v)
			tr := r.transport(tt.opts...)
			client := &http.Client{Transport: tr}
			if resp, err := client.Get(r.srv.URL); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: %v %v", resp, err)
			} else {
				_ = resp.Body.Close()
			}
			if tt.rotate {
				r.rotate()
			}
			if tt.revoke {
				v.set("first-Vendor-key-1", false)
			}
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, err := http.NewRequest(http.MethodPost, r.srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if s := tr.Stats(); s != tt.wantStat {
				t.Fatalf("stats %+v, want %+v", s, tt.wantStat)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	v := newVendor("first-Vendor-key-1")
	r := newKeyRig(t, v)
	tests := []struct {
		name string
		new  func() (*apikey.Transport, error)
		is   error
	}{
		{"nil source", func() (*apikey.Transport, error) { return apikey.New(nil, r.arn) }, apikey.ErrInvalidArgument},
		{"empty secret ID", func() (*apikey.Transport, error) { return apikey.New(r.cache, "") }, apikey.ErrInvalidArgument},
		{"empty header", func() (*apikey.Transport, error) { return apikey.New(r.cache, r.arn, apikey.WithHeader("", "")) }, apikey.ErrInvalidArgument},
		{"no such field", func() (*apikey.Transport, error) {
			return apikey.New(r.cache, r.arn, apikey.WithField("token"), apikey.WithBase(r.srv.Client().Transport))
		}, apikey.ErrNoKey},
		{"no such secret", func() (*apikey.Transport, error) {
			return apikey.New(r.cache, "no/such/secret", apikey.WithBase(r.srv.Client().Transport))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := tt.new()
			if err == nil {
				_, err = (&http.Client{Transport: tr}).Get(r.srv.URL)
			}
			if err == nil {
				t.Fatal("no error")
			}
			r.errs = append(r.errs, err.Error())
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("%v, want %v", err, tt.is)
			}
		})
	}
}
