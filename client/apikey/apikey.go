package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rotatorkit/rotator/client/secretcache"
)

// Source is what the transport reads from *secretcache.Cache.
type Source interface {
	Get(ctx context.Context, secretID string) (secretcache.Value, error)
	Refresh(ctx context.Context, secretID, stage string, since time.Time) (secretcache.Value, error)
}

var _ Source = (*secretcache.Cache)(nil)

// Errors of this package.
var (
	// ErrInvalidArgument is returned by New for a nil source, an empty
	// secret ID or header name.
	ErrInvalidArgument = errors.New("apikey: invalid argument")
	// ErrNoKey means the secret's value holds no key: not a JSON object
	// with a non-empty string in the key field, or an empty string.
	ErrNoKey = errors.New("apikey: the secret holds no API key")
)

// DefaultField is the JSON field of the secret that holds the key, as the
// rotators of this project write it.
const DefaultField = "api_key"

// Option configures a Transport.
type Option func(*Transport)

// WithBase sets the transport that sends the requests (default
// http.DefaultTransport).
func WithBase(rt http.RoundTripper) Option { return func(t *Transport) { t.base = rt } }

// WithHeader sets the header that carries the key and what precedes the
// key in it (default "Authorization" and "Bearer "). For example
// WithHeader("X-Api-Key", "") or WithHeader("Authorization", "Token ").
func WithHeader(name, prefix string) Option {
	return func(t *Transport) { t.header, t.prefix = name, prefix }
}

// WithField sets the JSON field of the secret that holds the key (default
// [DefaultField]); "" uses the whole SecretString as the key.
func WithField(name string) Option { return func(t *Transport) { t.field = name } }

// WithRetryOn sets the statuses that mean "this key is not valid (any
// more)" (default 401 Unauthorized; some vendors answer 403 to a revoked
// key).
func WithRetryOn(statuses ...int) Option {
	return func(t *Transport) { t.statuses = slices.Clone(statuses) }
}

// WithLogger sets where refused keys are reported (default
// slog.Default()); lines name the secret and versions, never a key. nil
// discards them.
func WithLogger(l *slog.Logger) Option {
	return func(t *Transport) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		t.log = l
	}
}

// Stats count what the transport did about refused keys.
type Stats struct {
	// Refused are responses with a retry status (401 by default).
	Refused uint64
	// Retries are requests sent again with a newer key.
	Retries uint64
	// NotReplayable are refused requests not retried because their body
	// could not be sent again (no GetBody).
	NotReplayable uint64
}

// Transport is an http.RoundTripper that puts the current API key from a
// secret into every request and, when the server refuses it, fetches the
// secret again and retries the request once with the newer key.
type Transport struct {
	base     http.RoundTripper
	src      Source
	id       string
	header   string
	prefix   string
	field    string
	statuses []int
	log      *slog.Logger

	refused, retries, notReplayable atomic.Uint64
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a transport for the key in secretID's AWSCURRENT value,
// read through src (a *secretcache.Cache).
func New(src Source, secretID string, opts ...Option) (*Transport, error) {
	t := &Transport{
		base:     http.DefaultTransport,
		src:      src,
		id:       secretID,
		header:   "Authorization",
		prefix:   "Bearer ",
		field:    DefaultField,
		statuses: []int{http.StatusUnauthorized},
		log:      slog.Default(),
	}
	for _, o := range opts {
		o(t)
	}
	if src == nil || secretID == "" || t.header == "" || t.base == nil {
		return nil, fmt.Errorf("%w: a source, a secret ID, a header name and a base transport are required", ErrInvalidArgument)
	}
	t.log = t.log.With("client", "apikey", "secret_id", secretID)
	return t, nil
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	return Stats{Refused: t.refused.Load(), Retries: t.retries.Load(), NotReplayable: t.notReplayable.Load()}
}

// RoundTrip sends req with the current key. When the answer has a retry
// status, it asks the cache for a value fetched after the refused key was
// (one GetSecretValue however many requests were refused at once) and, if
// that holds another key and the request's body can be sent again
// (no body, or GetBody, which http.NewRequest sets for in-memory bodies),
// sends it once more with that key. Otherwise the refusal is returned as
// the server sent it. req is not modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	v, err := t.src.Get(ctx, t.id)
	var key string
	if err == nil {
		key, err = t.key(v)
	}
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrip must close the body, even on errors
		}
		return nil, fmt.Errorf("apikey: key from secret %s: %w", t.id, err)
	}
	resp, err := t.send(req, key, false)
	if err != nil || !slices.Contains(t.statuses, resp.StatusCode) {
		return resp, err
	}
	t.refused.Add(1)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		t.notReplayable.Add(1)
		t.log.Info("the server refused the API key; the request is not retried: its body cannot be sent again",
			"version_id", v.VersionID(), "status", resp.StatusCode)
		return resp, nil
	}
	// A value fetched after the refused one was: a fetch that another
	// refused request started, even before this request began, will do.
	// (The request's start time would ask for yet another fetch whenever a
	// request read the old key while that fetch was in flight.)
	nv, err := t.src.Refresh(ctx, t.id, secretcache.StageCurrent, v.FetchedAt())
	if err != nil {
		t.log.Warn("the server refused the API key and the secret could not be read again",
			"version_id", v.VersionID(), "status", resp.StatusCode, "error", err)
		return resp, nil
	}
	next, err := t.key(nv)
	if err != nil || next == key {
		t.log.Info("the server refused the API key and the secret holds no newer one",
			"version_id", v.VersionID(), "status", resp.StatusCode)
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	t.retries.Add(1)
	t.log.Info("the server refused the API key; retrying with the newer one",
		"version_id", v.VersionID(), "new_version_id", nv.VersionID(), "status", resp.StatusCode)
	return t.send(req, next, true)
}

// send sends a copy of req with the key; replay takes a fresh body.
func (t *Transport) send(req *http.Request, key string, replay bool) (*http.Response, error) {
	r := req.Clone(req.Context())
	if replay && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("apikey: the request body cannot be sent again: %w", err)
		}
		r.Body = body
	}
	r.Header.Set(t.header, t.prefix+key)
	return t.base.RoundTrip(r)
}

// key reads the key from a secret version. Its error names the version,
// never the value.
func (t *Transport) key(v secretcache.Value) (string, error) {
	if !v.HasString() {
		return "", fmt.Errorf("version %s has no SecretString: %w", v.VersionID(), ErrNoKey)
	}
	if t.field == "" {
		if v.SecretString() == "" {
			return "", fmt.Errorf("version %s is empty: %w", v.VersionID(), ErrNoKey)
		}
		return v.SecretString(), nil
	}
	var m map[string]json.RawMessage
	var key string
	if json.Unmarshal([]byte(v.SecretString()), &m) != nil || json.Unmarshal(m[t.field], &key) != nil || key == "" {
		return "", fmt.Errorf("version %s has no non-empty string field %q: %w", v.VersionID(), t.field, ErrNoKey)
	}
	return key, nil
}
