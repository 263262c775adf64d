package secretcache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// API is the one Secrets Manager call the cache makes. *secretsmanager.Client
// satisfies it; tests may pass anything that does.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

// The staging labels Secrets Manager gives a meaning to.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Defaults of the options.
const (
	// DefaultTTL: a busy application makes one GetSecretValue per secret
	// every few minutes (a few cents a month), and sees a rotation within
	// minutes even with no client that reacts to a refused credential.
	DefaultTTL = 5 * time.Minute
	// DefaultMaxEntries bounds the (secret, stage) pairs held.
	DefaultMaxEntries = 256
	// DefaultMaxStaleness: long enough to ride out a regional Secrets
	// Manager incident or a broken VPC endpoint, short enough that a process
	// does not run for long on a credential whose rotation it cannot see.
	DefaultMaxStaleness = time.Hour
	// DefaultRetryInterval is how long after a failed fetch the cache
	// answers from what it has (a stale value or the error) before it asks
	// Secrets Manager again, so that an outage does not turn every read
	// into a slow failing call.
	DefaultRetryInterval = 5 * time.Second
	// DefaultFetchTimeout bounds one fetch, the SDK's retries included.
	DefaultFetchTimeout = 10 * time.Second
)

// Errors of the cache. Errors from Secrets Manager are wrapped, so
// errors.As finds the SDK's typed errors (*types.ResourceNotFoundException,
// ...) in them.
var (
	// ErrUnavailable means Secrets Manager could not be reached (network,
	// throttling, server error, timeout) and the cache has no value within
	// the max staleness to serve instead.
	ErrUnavailable = errors.New("secretcache: Secrets Manager unavailable")
	// ErrClosed is returned by reads after Close.
	ErrClosed = errors.New("secretcache: cache closed")
	// ErrInvalidID is returned for an empty secret ID or stage.
	ErrInvalidID = errors.New("secretcache: empty secret ID or stage")
)

// StaleEvent reports a read that Secrets Manager could not answer while
// the cache held a value past its TTL.
type StaleEvent struct {
	// SecretID and Stage name what was read.
	SecretID, Stage string
	// VersionID is the version of the value the cache holds.
	VersionID string
	// PastExpiry is how long ago the value's TTL ended.
	PastExpiry time.Duration
	// Served is true when the value is served (within the max staleness);
	// false when it is too stale and reads fail with ErrUnavailable.
	Served bool
	// Err is Secrets Manager's error.
	Err error
}

// Stats are counters since New; read them with [Cache.Stats].
type Stats struct {
	// Hits are reads answered from the cache without waiting.
	Hits uint64
	// Misses are reads that waited for a fetch (their own or one in flight).
	Misses uint64
	// Fetches are GetSecretValue calls made, failed ones included.
	Fetches uint64
	// FetchErrors are the fetches that failed.
	FetchErrors uint64
	// Refreshes are the fetches started ahead of expiry in the background.
	Refreshes uint64
	// StaleServed are reads answered with a value past its TTL.
	StaleServed uint64
	// Evictions are entries dropped to stay within the max entries.
	Evictions uint64
	// Entries is the number of (secret, stage) pairs held now.
	Entries int
}

// Option configures a Cache.
type Option func(*config)

type config struct {
	ttl           time.Duration
	refreshAhead  time.Duration
	aheadSet      bool
	maxEntries    int
	maxStaleness  time.Duration
	retryInterval time.Duration
	fetchTimeout  time.Duration
	now           func() time.Time
	logger        *slog.Logger
	onStale       func(StaleEvent)
}

// WithTTL sets how long a value is used before it is fetched again
// (default [DefaultTTL]). d <= 0 means the default.
func WithTTL(d time.Duration) Option { return func(c *config) { c.ttl = d } }

// WithRefreshAhead sets how long before expiry a read starts a background
// refresh (default a fifth of the TTL); 0 turns refresh-ahead off, so that
// the first read after expiry waits for the fetch. A value >= the TTL means
// half the TTL.
func WithRefreshAhead(d time.Duration) Option {
	return func(c *config) { c.refreshAhead, c.aheadSet = d, true }
}

// WithMaxEntries bounds the (secret, stage) pairs held (default
// [DefaultMaxEntries]); the least recently read goes first. n < 1 means the
// default.
func WithMaxEntries(n int) Option { return func(c *config) { c.maxEntries = n } }

// WithMaxStaleness sets how long past its TTL a value is still served when
// Secrets Manager cannot be reached (default [DefaultMaxStaleness]); 0
// never serves a value past its TTL.
func WithMaxStaleness(d time.Duration) Option { return func(c *config) { c.maxStaleness = max(d, 0) } }

// WithRetryInterval sets how long after a failed fetch reads are answered
// without asking Secrets Manager again (default [DefaultRetryInterval]).
// [Cache.Refresh] does not wait for it.
func WithRetryInterval(d time.Duration) Option {
	return func(c *config) { c.retryInterval = max(d, 0) }
}

// WithFetchTimeout bounds one GetSecretValue, the SDK's own retries
// included (default [DefaultFetchTimeout]). A fetch does not end with the
// context of the read that started it, since other readers may be waiting
// for it. d <= 0 means the default.
func WithFetchTimeout(d time.Duration) Option { return func(c *config) { c.fetchTimeout = d } }

// WithClock sets the clock for TTLs and staleness (tests).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithLogger sets where the cache reports stale values, outages and
// recoveries (default slog.Default()). Lines name the secret, the stage and
// the version; never the value. nil discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// WithStaleHandler sets a function called once per failed fetch of a value
// past its TTL: to count it in a metric or raise an alarm. It runs on the
// goroutine of the fetch, with no lock held.
func WithStaleHandler(f func(StaleEvent)) Option { return func(c *config) { c.onStale = f } }

// Cache is an in-memory cache of secret values. It is safe for concurrent
// use; Close stops its background refreshes.
type Cache struct {
	api  API
	cfg  config
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	entries map[key]*entry
	lru     list.List // of *entry, most recently read first

	hits, misses, fetches, fetchErrors, refreshes, staleServed, evictions atomic.Uint64
}

type key struct{ id, stage string }

// entry is one (secret, stage). Fields are guarded by Cache.mu.
type entry struct {
	key  key
	elem *list.Element

	val     Value
	has     bool
	expires time.Time

	// The last completed fetch: when it started, and its error (nil when
	// it succeeded).
	lastStart time.Time
	lastErr   error
	// After a failed fetch, reads do not fetch again before nextAttempt.
	nextAttempt time.Time
	// failing is true from a failed fetch to the next successful one.
	failing bool

	inflight *call
}

// call is one fetch that readers wait for.
type call struct {
	started time.Time
	done    chan struct{}
	val     Value
	err     error
}

// New returns a cache over api (usually a *secretsmanager.Client).
func New(api API, opts ...Option) *Cache {
	cfg := config{
		ttl:           DefaultTTL,
		maxEntries:    DefaultMaxEntries,
		maxStaleness:  DefaultMaxStaleness,
		retryInterval: DefaultRetryInterval,
		fetchTimeout:  DefaultFetchTimeout,
		now:           time.Now,
		logger:        slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ttl <= 0 {
		cfg.ttl = DefaultTTL
	}
	if !cfg.aheadSet {
		cfg.refreshAhead = cfg.ttl / 5
	}
	if cfg.refreshAhead < 0 {
		cfg.refreshAhead = 0
	}
	if cfg.refreshAhead >= cfg.ttl {
		cfg.refreshAhead = cfg.ttl / 2
	}
	if cfg.maxEntries < 1 {
		cfg.maxEntries = DefaultMaxEntries
	}
	if cfg.fetchTimeout <= 0 {
		cfg.fetchTimeout = DefaultFetchTimeout
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	base, stop := context.WithCancel(context.Background())
	return &Cache{api: api, cfg: cfg, base: base, stop: stop, entries: map[key]*entry{}}
}

// Get returns the AWSCURRENT value of a secret (name or ARN, cached apart).
func (c *Cache) Get(ctx context.Context, secretID string) (Value, error) {
	return c.read(ctx, key{secretID, StageCurrent}, time.Time{}, false)
}

// GetStage returns the value of the version that holds a staging label:
// StageCurrent, StagePrevious, StagePending or a label of your own.
func (c *Cache) GetStage(ctx context.Context, secretID, stage string) (Value, error) {
	return c.read(ctx, key{secretID, stage}, time.Time{}, false)
}

// Refresh returns a value fetched by a GetSecretValue that started at or
// after since: the cached one if it is that recent, else the result of a
// fetch in flight that started after since, else a new fetch. A client
// calls it with the time it started an attempt that the server refused:
// the value it used is then replaced, and a thousand refusals of the same
// value cost one fetch. It ignores the TTL and the retry interval.
func (c *Cache) Refresh(ctx context.Context, secretID, stage string, since time.Time) (Value, error) {
	return c.read(ctx, key{secretID, stage}, since, true)
}

// Cached returns the value held for a secret and stage, whatever its age,
// without waiting for Secrets Manager; ok is false when none is held. Like
// a read, it starts a background refresh when the value is within the
// refresh-ahead window or expired, so that a caller that only peeks (a
// connection pool checking whether the credential moved) still keeps the
// value current.
func (c *Cache) Cached(secretID, stage string) (v Value, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key{secretID, stage}]
	if e == nil || !e.has || c.closed {
		return Value{}, false
	}
	now := c.cfg.now()
	c.refreshIfDue(e, now)
	v = e.val
	v.stale = !now.Before(e.expires)
	return v, true
}

// Invalidate drops every stage of a secret (as named in reads): the next
// read fetches. A fetch in flight still answers the reads waiting for it,
// but its result is not kept.
func (c *Cache) Invalidate(secretID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if k.id == secretID {
			c.remove(e)
		}
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return Stats{
		Hits:        c.hits.Load(),
		Misses:      c.misses.Load(),
		Fetches:     c.fetches.Load(),
		FetchErrors: c.fetchErrors.Load(),
		Refreshes:   c.refreshes.Load(),
		StaleServed: c.staleServed.Load(),
		Evictions:   c.evictions.Load(),
		Entries:     n,
	}
}

// Close cancels the fetches in flight, waits for them to end and drops
// every value. Reads after Close fail with ErrClosed.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	c.mu.Lock()
	for _, e := range c.entries {
		c.remove(e)
	}
	c.mu.Unlock()
}

// read is Get, GetStage and Refresh. With force, it wants a fetch started
// at or after since.
func (c *Cache) read(ctx context.Context, k key, since time.Time, force bool) (Value, error) {
	if k.id == "" || k.stage == "" {
		return Value{}, ErrInvalidID
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return Value{}, ErrClosed
		}
		e := c.entry(k)
		now := c.cfg.now()
		var cl *call
		switch {
		case !force && e.has && now.Before(e.expires):
			c.refreshIfDue(e, now)
			v := e.val
			c.mu.Unlock()
			c.hits.Add(1)
			return v, nil
		case !force && e.inflight == nil && e.lastErr != nil && now.Before(e.nextAttempt):
			// A fetch failed a moment ago: answer from what is held.
			v, err := c.answerFailure(e, now)
			c.mu.Unlock()
			c.countServed(v)
			return v, err
		case force && e.inflight == nil && !e.lastStart.IsZero() && !e.lastStart.Before(since):
			// The last fetch is recent enough.
			var v Value
			var err error
			if e.lastErr == nil && e.has {
				v = e.val
			} else {
				v, err = c.answerFailure(e, now)
			}
			c.mu.Unlock()
			c.countServed(v)
			return v, err
		case e.inflight != nil:
			cl = e.inflight
		default:
			cl = c.startFetch(e, now)
		}
		c.mu.Unlock()

		c.misses.Add(1)
		select {
		case <-cl.done:
		case <-ctx.Done():
			return Value{}, ctx.Err()
		}
		if force && cl.started.Before(since) {
			continue // that fetch started too early: the loop starts a newer one
		}
		c.countServed(cl.val)
		return cl.val, cl.err
	}
}

func (c *Cache) countServed(v Value) {
	if v.stale {
		c.staleServed.Add(1)
	}
}

// entry returns the entry for k, made if needed, as the most recently read.
// Caller holds c.mu.
func (c *Cache) entry(k key) *entry {
	if e := c.entries[k]; e != nil {
		c.lru.MoveToFront(e.elem)
		return e
	}
	e := &entry{key: k}
	e.elem = c.lru.PushFront(e)
	c.entries[k] = e
	for len(c.entries) > c.cfg.maxEntries {
		oldest := c.lru.Back().Value.(*entry)
		c.remove(oldest)
		c.evictions.Add(1)
	}
	return e
}

// remove drops e from the cache. Caller holds c.mu.
func (c *Cache) remove(e *entry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
		c.lru.Remove(e.elem)
	}
}

// refreshIfDue starts a background fetch when e's value is within the
// refresh-ahead window or past its TTL, unless one is in flight or a fetch
// failed within the retry interval. Caller holds c.mu.
func (c *Cache) refreshIfDue(e *entry, now time.Time) {
	if e.inflight != nil || now.Before(e.nextAttempt) || c.closed {
		return
	}
	if now.Before(e.expires.Add(-c.cfg.refreshAhead)) {
		return
	}
	c.refreshes.Add(1)
	c.startFetch(e, now)
}

// startFetch starts a GetSecretValue for e. Every fetch runs on its own
// goroutine, so that a reader whose context ends can stop waiting while the
// others still get the answer. Caller holds c.mu.
func (c *Cache) startFetch(e *entry, now time.Time) *call {
	cl := &call{started: now, done: make(chan struct{})}
	e.inflight = cl
	c.wg.Add(1)
	go c.fetch(e, cl)
	return cl
}

func (c *Cache) fetch(e *entry, cl *call) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.base, c.cfg.fetchTimeout)
	id, stage := e.key.id, e.key.stage
	out, err := c.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: &stage})
	cancel()
	c.fetches.Add(1)

	var report func()
	c.mu.Lock()
	now := c.cfg.now()
	e.inflight = nil
	e.lastStart = cl.started
	if err == nil {
		v := newValue(out, now)
		old, had, recovered := e.val.versionID, e.has, e.failing
		e.val, e.has, e.expires = v, true, now.Add(c.cfg.ttl)
		e.lastErr, e.nextAttempt, e.failing = nil, time.Time{}, false
		cl.val = v
		report = func() {
			if recovered {
				c.cfg.logger.Info("secretcache: Secrets Manager answered again",
					"secret_id", id, "stage", stage, "version_id", v.versionID)
			}
			if had && old != v.versionID {
				c.cfg.logger.Debug("secretcache: new version",
					"secret_id", id, "stage", stage, "old_version_id", old, "version_id", v.versionID)
			}
		}
	} else {
		c.fetchErrors.Add(1)
		e.lastErr, e.failing = err, true
		e.nextAttempt = now.Add(c.cfg.retryInterval)
		if definite(err) {
			// Secrets Manager answered: the secret, the stage or access to
			// it is gone. Nothing held is worth serving.
			e.val, e.has = Value{}, false
		}
		cl.val, cl.err = c.answerFailure(e, now)
		report = c.reportFailure(e, now, err)
	}
	c.mu.Unlock()
	// Reported before the reads waiting for this fetch return: a caller
	// that saw the answer also sees its log line and stale event.
	report()
	close(cl.done)
}

// answerFailure is the answer to a read after a failed fetch: the value if
// it is within its TTL, else the stale value within the max staleness,
// else an error. Caller holds c.mu.
func (c *Cache) answerFailure(e *entry, now time.Time) (Value, error) {
	id, stage := e.key.id, e.key.stage
	if e.has {
		if now.Before(e.expires) {
			return e.val, nil
		}
		past := now.Sub(e.expires)
		if past <= c.cfg.maxStaleness {
			v := e.val
			v.stale = true
			return v, nil
		}
		return Value{}, fmt.Errorf("%w: secret %s (%s): the last value expired %s ago, more than the max staleness %s: %w",
			ErrUnavailable, id, stage, past.Round(time.Millisecond), c.cfg.maxStaleness, e.lastErr)
	}
	if definite(e.lastErr) {
		return Value{}, fmt.Errorf("secretcache: secret %s (%s): %w", id, stage, e.lastErr)
	}
	return Value{}, fmt.Errorf("%w: secret %s (%s): %w", ErrUnavailable, id, stage, e.lastErr)
}

// reportFailure returns what to tell the logger and the stale handler
// about a failed fetch, to run once c.mu is released. Caller holds c.mu.
func (c *Cache) reportFailure(e *entry, now time.Time, err error) func() {
	id, stage := e.key.id, e.key.stage
	if !e.has || now.Before(e.expires) {
		return func() {
			c.cfg.logger.Debug("secretcache: fetch failed", "secret_id", id, "stage", stage, "error", err)
		}
	}
	ev := StaleEvent{
		SecretID:   id,
		Stage:      stage,
		VersionID:  e.val.versionID,
		PastExpiry: now.Sub(e.expires),
		Err:        err,
	}
	ev.Served = ev.PastExpiry <= c.cfg.maxStaleness
	return func() {
		if ev.Served {
			c.cfg.logger.Warn("secretcache: Secrets Manager unreachable, serving the last value past its TTL",
				"secret_id", id, "stage", stage, "version_id", ev.VersionID,
				"past_expiry", ev.PastExpiry.Round(time.Millisecond), "max_staleness", c.cfg.maxStaleness, "error", err)
		} else {
			c.cfg.logger.Error("secretcache: Secrets Manager unreachable and the last value is too stale to serve",
				"secret_id", id, "stage", stage, "version_id", ev.VersionID,
				"past_expiry", ev.PastExpiry.Round(time.Millisecond), "max_staleness", c.cfg.maxStaleness, "error", err)
		}
		if c.cfg.onStale != nil {
			c.cfg.onStale(ev)
		}
	}
}

// definite reports whether err is Secrets Manager's answer about the secret
// (it does not exist, is marked for deletion, cannot be decrypted, the
// request is invalid): a client fault other than throttling. Network
// errors, timeouts, throttling, server faults and errors the SDK does not
// model (AccessDenied among them) are taken as an outage, which a held
// value may ride out.
func definite(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	if _, throttle := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]; throttle {
		return false
	}
	return ae.ErrorFault() == smithy.FaultClient
}
