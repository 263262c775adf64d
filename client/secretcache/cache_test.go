package secretcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// clock is a settable clock for TTLs and staleness.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a Secrets Manager with one secret, and what a test needs to
// check that its values never leak.
type fixture struct {
	t      *testing.T
	sm     *rotatortest.Server
	id     string
	values []string // every value the secret held
	logs   *rotatortest.LogBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(f.sm.Close)
	first := `{"username":"app","password":"first-Secret-value-1"}`
	f.id = f.sm.MustCreateSecret(t, "app/db", first)
	f.values = append(f.values, "first-Secret-value-1")
	t.Cleanup(func() { rotatortest.AssertNoSecrets(t, "cache logs", f.logs.String(), f.values...) })
	return f
}

// put stores a new AWSCURRENT version (AWSPREVIOUS follows) and returns
// its id.
func (f *fixture) put(password string) string {
	f.t.Helper()
	f.values = append(f.values, password)
	out, err := f.sm.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(f.id), SecretString: aws.String(`{"username":"app","password":"` + password + `"}`),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

func (f *fixture) calls() int { return f.sm.CallCounts()["GetSecretValue"] }

func (f *fixture) cache(opts ...secretcache.Option) *secretcache.Cache {
	c := secretcache.New(f.sm.Client(), append([]secretcache.Option{secretcache.WithLogger(f.logs.Logger())}, opts...)...)
	f.t.Cleanup(c.Close)
	return c
}

func (f *fixture) get(c *secretcache.Cache) secretcache.Value {
	f.t.Helper()
	v, err := c.Get(context.Background(), f.id)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) noSecretIn(what string, s string) {
	f.t.Helper()
	rotatortest.AssertNoSecrets(f.t, what, s, f.values...)
}

func TestCacheConcurrentMissesShareOneGetSecretValue(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	// The fetch takes a while, so that every caller arrives while it is in
	// flight.
	f.sm.InjectFault("GetSecretValue", rotatortest.Fault{Latency: 50 * time.Millisecond, Times: 1})
	const callers = 100
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			<-start
			v, err := c.Get(context.Background(), f.id)
			if err == nil && !strings.Contains(v.SecretString(), "first-Secret-value-1") {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls(); n != 1 {
		t.Fatalf("%d callers on a miss made %d GetSecretValue calls, want 1", callers, n)
	}
	if s := c.Stats(); s.Fetches != 1 || s.Hits+s.Misses != callers {
		t.Fatalf("stats %+v", s)
	}
}

func TestCacheConcurrentRefreshesShareOneGetSecretValue(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	f.get(c)
	refused := time.Now() // the moment a server refused the value
	f.put("second-Secret-value-2")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			v, err := c.Refresh(context.Background(), f.id, secretcache.StageCurrent, refused)
			if err != nil || !strings.Contains(v.SecretString(), "second-Secret-value-2") {
				t.Errorf("Refresh: %v (new value: %v)", err, err == nil && strings.Contains(v.SecretString(), "second"))
			}
		})
	}
	wg.Wait()
	if n := f.calls(); n != 2 {
		t.Fatalf("50 refreshes after one refusal: %d GetSecretValue calls in all, want 2", n)
	}
}

func TestCacheTTL(t *testing.T) {
	tests := []struct {
		name      string
		ttl       time.Duration
		advance   time.Duration
		wantCalls int
	}{
		{"within the default TTL", 0, secretcache.DefaultTTL - time.Second, 1},
		{"at the default TTL", 0, secretcache.DefaultTTL, 2},
		{"within a set TTL", time.Minute, 59 * time.Second, 1},
		{"past a set TTL", time.Minute, 61 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			clk := newClock()
			c := f.cache(secretcache.WithTTL(tt.ttl), secretcache.WithRefreshAhead(0), secretcache.WithClock(clk.Now))
			first := f.get(c)
			newID := f.put("second-Secret-value-2")
			clk.Advance(tt.advance)
			got := f.get(c)
			if n := f.calls(); n != tt.wantCalls {
				t.Fatalf("GetSecretValue calls %d, want %d", n, tt.wantCalls)
			}
			want := first.VersionID()
			if tt.wantCalls == 2 {
				want = newID
			}
			if got.VersionID() != want {
				t.Fatalf("version %s, want %s", got.VersionID(), want)
			}
		})
	}
}

func TestCacheRefreshAhead(t *testing.T) {
	f := newFixture(t)
	clk := newClock()
	c := f.cache(secretcache.WithTTL(5*time.Minute), secretcache.WithRefreshAhead(time.Minute), secretcache.WithClock(clk.Now))
	first := f.get(c)
	newID := f.put("second-Secret-value-2")

	clk.Advance(3*time.Minute + 59*time.Second) // before the window: a plain hit
	if v := f.get(c); v.VersionID() != first.VersionID() {
		t.Fatal("a hit before the refresh window changed the value")
	}
	c.WaitFetches()
	if n := f.calls(); n != 1 {
		t.Fatalf("a read before the window fetched: %d calls", n)
	}

	clk.Advance(2 * time.Second) // in the window: served at once, refreshed behind
	if v := f.get(c); v.VersionID() != first.VersionID() {
		t.Fatal("a read in the refresh window waited for the fetch")
	}
	c.WaitFetches()
	if n := f.calls(); n != 2 {
		t.Fatalf("a read in the refresh window made %d calls in all, want 2", n)
	}
	if v := f.get(c); v.VersionID() != newID {
		t.Fatalf("after the background refresh: version %s, want %s", v.VersionID(), newID)
	}
	// The refreshed value has a full TTL again: no fetch before it ends.
	clk.Advance(3 * time.Minute)
	f.get(c)
	c.WaitFetches()
	if n := f.calls(); n != 2 {
		t.Fatalf("the refreshed value was fetched again too early: %d calls", n)
	}
	if s := c.Stats(); s.Refreshes != 1 || s.Misses != 1 {
		t.Fatalf("stats %+v: want 1 refresh, 1 miss", s)
	}
}

func TestCacheInvalidate(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	first := f.get(c)
	if _, err := c.GetStage(context.Background(), f.id, secretcache.StagePrevious); err == nil {
		t.Fatal("a new secret has no AWSPREVIOUS version")
	}
	newID := f.put("second-Secret-value-2")
	if v := f.get(c); v.VersionID() != first.VersionID() {
		t.Fatal("the cache fetched within the TTL")
	}
	c.Invalidate(f.id)
	if v := f.get(c); v.VersionID() != newID {
		t.Fatalf("after Invalidate: version %s, want %s", v.VersionID(), newID)
	}
	prev, err := c.GetStage(context.Background(), f.id, secretcache.StagePrevious)
	if err != nil || prev.VersionID() != first.VersionID() {
		t.Fatalf("AWSPREVIOUS after Invalidate: %v %v", prev, err)
	}
	if n := f.calls(); n != 4 {
		t.Fatalf("GetSecretValue calls %d, want 4", n)
	}
}

func TestCacheStages(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	first := f.get(c)
	second := f.put("second-Secret-value-2")
	c.Invalidate(f.id)
	tests := []struct {
		stage    string
		want     string
		password string
	}{
		{secretcache.StageCurrent, second, "second-Secret-value-2"},
		{secretcache.StagePrevious, first.VersionID(), "first-Secret-value-1"},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			v, err := c.GetStage(context.Background(), f.id, tt.stage)
			if err != nil {
				t.Fatal(err)
			}
			if v.VersionID() != tt.want || !strings.Contains(v.SecretString(), tt.password) {
				t.Fatalf("%s: version %s, want %s", tt.stage, v.VersionID(), tt.want)
			}
			if !strings.Contains(strings.Join(v.Stages(), ","), tt.stage) {
				t.Fatalf("stages %v lack %s", v.Stages(), tt.stage)
			}
		})
	}
}

func TestCacheServesLastGoodValueWithinMaxStaleness(t *testing.T) {
	f := newFixture(t)
	clk := newClock()
	var mu sync.Mutex
	var events []secretcache.StaleEvent
	c := f.cache(
		secretcache.WithTTL(time.Minute), secretcache.WithRefreshAhead(0),
		secretcache.WithMaxStaleness(10*time.Minute), secretcache.WithRetryInterval(30*time.Second),
		secretcache.WithClock(clk.Now),
		secretcache.WithStaleHandler(func(ev secretcache.StaleEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }),
	)
	first := f.get(c)
	f.sm.InjectFault("GetSecretValue", rotatortest.Fault{ErrorType: "InternalServiceError"})

	// Past the TTL, Secrets Manager down: the last value, marked stale.
	clk.Advance(2 * time.Minute)
	v, err := c.Get(context.Background(), f.id)
	if err != nil {
		t.Fatalf("within the max staleness: %v", err)
	}
	if !v.Stale() || v.VersionID() != first.VersionID() || v.SecretString() != first.SecretString() {
		t.Fatalf("want the last value, stale: got %v", v)
	}
	fetches := c.Stats().Fetches

	// Within the retry interval: answered at once, no new call.
	clk.Advance(10 * time.Second)
	if v, err := c.Get(context.Background(), f.id); err != nil || !v.Stale() {
		t.Fatalf("within the retry interval: %v %v", v, err)
	}
	if c.Stats().Fetches != fetches {
		t.Fatal("a read within the retry interval called Secrets Manager")
	}

	// Past the max staleness: a clear error.
	clk.Advance(10 * time.Minute)
	_, err = c.Get(context.Background(), f.id)
	if !errors.Is(err, secretcache.ErrUnavailable) {
		t.Fatalf("past the max staleness: %v, want ErrUnavailable", err)
	}
	var ise *types.InternalServiceError
	if !errors.As(err, &ise) {
		t.Fatalf("the error does not wrap Secrets Manager's: %v", err)
	}
	for _, want := range []string{f.id, "max staleness"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	f.noSecretIn("the error", err.Error())

	mu.Lock()
	got := append([]secretcache.StaleEvent(nil), events...)
	mu.Unlock()
	if len(got) != 2 || !got[0].Served || got[1].Served || got[0].VersionID != first.VersionID() {
		t.Fatalf("stale events %+v: want one served, then one not", got)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "serving the last value") || !strings.Contains(logs, "too stale") {
		t.Fatalf("logs do not report the stale value:\n%s", logs)
	}

	// Secrets Manager back: a fresh value, and the recovery is logged.
	f.sm.ClearFaults()
	clk.Advance(30 * time.Second)
	if v := f.get(c); v.Stale() || v.VersionID() != first.VersionID() {
		t.Fatalf("after recovery: %v", v)
	}
	if !strings.Contains(f.logs.String(), "answered again") {
		t.Fatal("the recovery is not logged")
	}
}

func TestCacheErrors(t *testing.T) {
	tests := []struct {
		name        string
		fault       *rotatortest.Fault
		secretID    string
		stage       string
		unavailable bool
		as          any
	}{
		{"no such secret", nil, "no/such/secret", secretcache.StageCurrent, false, new(*types.ResourceNotFoundException)},
		{"no such stage", nil, "", secretcache.StagePending, false, new(*types.ResourceNotFoundException)},
		{"throttled, nothing held", &rotatortest.Fault{ErrorType: "ThrottlingException"}, "", secretcache.StageCurrent, true, nil},
		{"server error, nothing held", &rotatortest.Fault{ErrorType: "InternalServiceError"}, "", secretcache.StageCurrent, true, new(*types.InternalServiceError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.cache()
			if tt.fault != nil {
				f.sm.InjectFault("GetSecretValue", *tt.fault)
			}
			id := tt.secretID
			if id == "" {
				id = f.id
			}
			_, err := c.GetStage(context.Background(), id, tt.stage)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, secretcache.ErrUnavailable) != tt.unavailable {
				t.Fatalf("errors.Is(%v, ErrUnavailable) = %v", err, !tt.unavailable)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Fatalf("%v does not wrap %T", err, tt.as)
			}
			f.noSecretIn("the error", err.Error())
		})
	}
	t.Run("empty id", func(t *testing.T) {
		c := secretcache.New(nil)
		if _, err := c.Get(context.Background(), ""); !errors.Is(err, secretcache.ErrInvalidID) {
			t.Fatal(err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		f := newFixture(t)
		c := f.cache()
		f.get(c)
		c.Close()
		if _, err := c.Get(context.Background(), f.id); !errors.Is(err, secretcache.ErrClosed) {
			t.Fatal(err)
		}
	})
}

func TestCacheDefiniteErrorDropsTheValue(t *testing.T) {
	f := newFixture(t)
	clk := newClock()
	c := f.cache(secretcache.WithClock(clk.Now), secretcache.WithRefreshAhead(0))
	f.get(c)
	f.sm.InjectFault("GetSecretValue", rotatortest.Fault{ErrorType: "DecryptionFailure", Message: "KMS key disabled"})
	clk.Advance(secretcache.DefaultTTL)
	_, err := c.Get(context.Background(), f.id)
	var df *types.DecryptionFailure
	if !errors.As(err, &df) || errors.Is(err, secretcache.ErrUnavailable) {
		t.Fatalf("a definite answer was ridden out as an outage: %v", err)
	}
	if _, ok := c.Cached(f.id, secretcache.StageCurrent); ok {
		t.Fatal("the value is still held after a definite error")
	}
}

func TestCacheWaiterContextEnds(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	f.sm.InjectFault("GetSecretValue", rotatortest.Fault{Latency: 100 * time.Millisecond, Times: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Get(ctx, f.id); done <- err }()
	// A second reader with a live context gets the value from the same fetch.
	got := make(chan error, 1)
	go func() { _, err := c.Get(context.Background(), f.id); got <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled reader: %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the other reader: %v", err)
	}
	if n := f.calls(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestCacheMaxEntries(t *testing.T) {
	f := newFixture(t)
	ids := []string{f.id, f.sm.MustCreateSecret(t, "b", `{"k":"b-Secret-value"}`), f.sm.MustCreateSecret(t, "c", `{"k":"c-Secret-value"}`)}
	c := f.cache(secretcache.WithMaxEntries(2))
	for _, id := range ids {
		if _, err := c.Get(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Stats(); s.Entries != 2 || s.Evictions != 1 {
		t.Fatalf("stats %+v: want 2 entries, 1 eviction", s)
	}
	if _, ok := c.Cached(ids[0], secretcache.StageCurrent); ok {
		t.Fatal("the least recently read secret was not evicted")
	}
	if _, ok := c.Cached(ids[2], secretcache.StageCurrent); !ok {
		t.Fatal("the last secret read was evicted")
	}
}

func TestValueNeverPrintsItsSecret(t *testing.T) {
	f := newFixture(t)
	c := f.cache()
	v := f.get(c)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%T %[1]v"} {
		out = append(out, fmt.Sprintf(verb, v), fmt.Sprintf(verb, &v), fmt.Sprintf(verb, []secretcache.Value{v}))
	}
	j, err := json.Marshal(map[string]any{"v": v})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	var logs rotatortest.LogBuffer
	logs.Logger().Info("value", "v", v, slog.Any("any", v))
	slog.New(slog.NewTextHandler(&logs, nil)).Info("value", "v", v)
	out = append(out, logs.String())
	all := strings.Join(out, "\n")
	f.noSecretIn("printed values", all)
	if !strings.Contains(all, v.VersionID()) || !strings.Contains(all, "[REDACTED]") {
		t.Fatalf("printed values do not name the version:\n%s", all)
	}
}
