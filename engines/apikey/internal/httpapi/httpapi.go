package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rotatorkit/rotator/rotator"
)

// Defaults. A rotation step has the Lambda function's whole timeout; these
// keep one slow vendor call from taking all of it.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxAttempts  = 4
	DefaultBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff   = 8 * time.Second
	DefaultMaxBodyBytes = 1 << 20
	// maxMessage bounds the vendor's own words quoted in an error.
	maxMessage = 200
)

// Sentinel errors, wrapped by *Error.
var (
	// ErrNotFound: the vendor answered 404 (a key already gone, say).
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: the vendor answered 429 on every attempt.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: the vendor answered 5xx on every attempt.
	ErrServer = errors.New("vendor server error")
	// ErrRejected: the vendor refused the request (another 4xx).
	ErrRejected = errors.New("request rejected")
	// ErrResponseTooLarge: the response body exceeded the bound.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrBadResponse: the response could not be decoded.
	ErrBadResponse = errors.New("malformed response")
)

// errCertificate: the server's certificate did not verify (never retried).
var errCertificate = errors.New("the server's TLS certificate was not verified")

// Client sends requests to one vendor's API.
type Client struct {
	vendor      string
	base        *url.URL
	hc          *http.Client
	timeout     time.Duration
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	maxBody     int64
	userAgent   string
	roots       *x509.CertPool
	sleep       func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*Client)

// WithRootCAs verifies the vendor's certificate against pool instead of
// the system's roots (tests pass their httptest server's CA; a private
// webhook receiver may have its own CA).
func WithRootCAs(pool *x509.CertPool) Option { return func(c *Client) { c.roots = pool } }

// WithTimeout bounds each attempt (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets the number of attempts (at least 1) and the backoff
// before the second one, which doubles up to max.
func WithRetries(attempts int, backoff, max time.Duration) Option {
	return func(c *Client) { c.maxAttempts, c.backoff, c.maxBackoff = attempts, backoff, max }
}

// WithMaxBodyBytes bounds the response bodies read (default 1 MiB).
func WithMaxBodyBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New returns a client for a vendor's API at baseURL, which must be an
// https URL without user information, query or fragment (the path, if
// any, prefixes every request's). vendor names the vendor in errors and
// the User-Agent.
func New(vendor, baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold anything.
		return nil, fmt.Errorf("%s: base URL is not a URL", vendor)
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("%s: base URL must be https (the key would travel in clear text), not %q", vendor, u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("%s: base URL has no host", vendor)
	case u.User != nil:
		return nil, fmt.Errorf("%s: base URL must not hold user information (credentials belong in the secret)", vendor)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s: base URL must not have a query or fragment", vendor)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{
		vendor: vendor, base: u,
		timeout: DefaultTimeout, maxAttempts: DefaultMaxAttempts,
		backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff,
		maxBody: DefaultMaxBodyBytes, sleep: sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxAttempts < 1 {
		c.maxAttempts = 1
	}
	c.userAgent = UserAgent(vendor)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
	c.hc = &http.Client{
		Transport: tr,
		// A redirect would carry the credential headers to wherever it
		// points (net/http keeps custom ones such as DD-API-KEY): the
		// vendor's 3xx is returned as an error instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// Vendor is the vendor's name as errors give it.
func (c *Client) Vendor() string { return c.vendor }

// UserAgent is the User-Agent a vendor engine sends: Rotator, its
// version (the module's, as the binary was built with it) and the vendor.
func UserAgent(vendor string) string {
	return "Rotator/" + version() + " (+https://github.com/rotatorkit/rotator; " + vendor + ")"
}

func version() string {
	const mod = "github.com/rotatorkit/rotator"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == mod {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			v = d.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// Request is one call of a vendor's API.
type Request struct {
	// Op names the operation in errors and logs ("create key").
	Op string
	// Method is the HTTP method.
	Method string
	// Path is appended to the base URL's path. Build it with PathEscape
	// for every variable segment; it appears in errors, so it must never
	// hold a secret (ids are fine, keys are not).
	Path string
	// Query is the query string. It never appears in errors.
	Query url.Values
	// Header holds the request's own headers (authentication,
	// signatures). Their values never appear in errors or logs.
	Header http.Header
	// Body is the request body (nil: none). JSON sets it from a value.
	Body []byte
	// ContentType is the body's type ("application/json").
	ContentType string
	// Idempotent says the request may be sent again after a 5xx or a
	// transport error without a second effect (GET, DELETE, a PUT). A
	// request that is not (a POST creating a key) is retried only on 429.
	Idempotent bool
	// Secrets are values that must never appear in an error (the key
	// sent, a token): the vendor's message is scrubbed of them.
	Secrets []string
}

// JSONBody marshals v into the request's body.
func (r *Request) JSONBody(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", r.Op, err)
	}
	r.Body, r.ContentType = b, "application/json"
	return nil
}

// Response is a vendor's 2xx answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is a failed call. Its text names the vendor, the operation, the
// method, the path and the status, with the vendor's own message (at most
// 200 characters, scrubbed of the request's secrets and header values).
type Error struct {
	Vendor, Op, Method, Path string
	// Status is the HTTP status of the last answer (0: none).
	Status int
	// Message is the vendor's message, scrubbed ("" if none).
	Message string
	// Attempts is how many times the request was sent.
	Attempts int
	// RetryAfter is the vendor's last Retry-After (0: none).
	RetryAfter time.Duration
	// Err is the sentinel or the transport's cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s %s", e.Vendor, e.Op, e.Method, e.Path)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %q", e.Message)
	}
	if e.Status == 0 || e.Err != errStatus(e.Status) {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errStatus is the sentinel for a status.
func errStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return rotator.ErrLoginFailed
	case status == http.StatusForbidden:
		return rotator.ErrPermission
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrServer
	}
	return ErrRejected
}

// Do sends a request, retrying as the package comment says, and returns a
// 2xx response or an *Error.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	fail := func(attempts, status int, msg string, retryAfter time.Duration, err error) *Error {
		return &Error{Vendor: c.vendor, Op: req.Op, Method: req.Method, Path: req.Path, Status: status,
			Message: c.scrub(req, msg), Attempts: attempts, RetryAfter: retryAfter, Err: err}
	}
	log := rotator.LoggerFrom(ctx)
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, req)
		var (
			status int
			msg    string
			wait   time.Duration
			cause  error
			retry  bool
		)
		switch {
		case err != nil:
			cause = err
			// A transport error after the request left may have had its
			// effect: only idempotent requests go again. A context that
			// ended stops everything.
			retry = req.Idempotent && ctx.Err() == nil && !errors.Is(err, ErrResponseTooLarge) && !errors.Is(err, errCertificate)
		case resp.Status >= 200 && resp.Status < 300:
			return resp, nil
		default:
			status = resp.Status
			msg = vendorMessage(resp.Body)
			cause = errStatus(status)
			wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			retry = status == http.StatusTooManyRequests || (status >= 500 && req.Idempotent)
		}
		if !retry || attempt >= c.maxAttempts {
			return nil, fail(attempt, status, msg, wait, cause)
		}
		if wait == 0 {
			wait = c.backoffFor(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fail(attempt, status, msg, wait,
				fmt.Errorf("%w (the next attempt, in %v, would pass the step's deadline)", cause, wait.Round(time.Millisecond)))
		}
		if log != nil {
			log.Warn("vendor call failed; retrying", slog.String("vendor", c.vendor), slog.String("op", req.Op),
				slog.Int("status", status), slog.Int("attempt", attempt), slog.Duration("wait", wait))
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fail(attempt, status, msg, wait, fmt.Errorf("%w (gave up waiting: %v)", cause, err))
		}
	}
}

// JSON sends a request and decodes a 2xx answer's JSON body into out
// (nil: ignore the body).
func (c *Client) JSON(ctx context.Context, req Request, out any) (*Response, error) {
	resp, err := c.Do(ctx, req)
	if err != nil || out == nil {
		return resp, err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		// json's error may quote the body, which may hold a key.
		return nil, &Error{Vendor: c.vendor, Op: req.Op, Method: req.Method, Path: req.Path, Status: resp.Status,
			Attempts: 1, Err: fmt.Errorf("%w: the body is not the JSON expected", ErrBadResponse)}
	}
	return resp, nil
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, req Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// req.Path is already escaped (PathEscape): join it to the base as
	// text, so that an escaped "/" in an id stays escaped.
	u, err := url.Parse(c.base.String() + req.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: the request path is not a URL path", ErrRejected)
	}
	u.RawQuery = req.Query.Encode()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, errors.New("cannot build the request")
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	hr.Header.Set("User-Agent", c.userAgent)
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, transportError(err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, c.maxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// transportError keeps the cause of a transport failure without the URL
// that *url.Error quotes (a base URL may carry anything its writer put).
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Errorf("%w: timed out", rotator.ErrUnreachable)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: canceled", rotator.ErrUnreachable)
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return fmt.Errorf("%w: %w: %v", rotator.ErrUnreachable, errCertificate, cv.Err)
	}
	return fmt.Errorf("%w: %v", rotator.ErrUnreachable, err)
}

// backoffFor is the pause after attempt n (1-based): base*2^(n-1), capped,
// with jitter in [d/2, d] so that concurrent rotations spread out.
func (c *Client) backoffFor(n int) time.Duration {
	d := c.backoff << (n - 1)
	if d <= 0 || d > c.maxBackoff {
		d = c.maxBackoff
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
// Unparseable or absent: 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// vendorMessage pulls a short message out of an error body: the usual
// JSON fields, else the text itself, cut and stripped of control
// characters.
func vendorMessage(body []byte) string {
	var doc map[string]any
	msg := ""
	if json.Unmarshal(body, &doc) == nil {
		msg = findMessage(doc, 0)
	} else if len(bytes.TrimSpace(body)) > 0 && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
		msg = string(body)
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(msg))
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return msg
}

// findMessage looks for "message", "error", "errors", "detail",
// "errorSummary" (Okta) in a JSON error document, a level or two deep.
func findMessage(v any, depth int) string {
	if depth > 3 {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, e := range t {
			if m := findMessage(e, depth+1); m != "" {
				parts = append(parts, m)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		for _, k := range []string{"message", "errorSummary", "detail", "error_description", "errors", "error", "title"} {
			if m, ok := t[k]; ok {
				if s := findMessage(m, depth+1); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// scrub removes the request's secrets and header values from a vendor's
// message (a vendor may echo the key it refused).
func (c *Client) scrub(req Request, msg string) string {
	if msg == "" {
		return ""
	}
	s := rotator.NewScrubber()
	s.Add(req.Secrets...)
	for _, vs := range req.Header {
		for _, v := range vs {
			s.Add(v)
			// "Bearer <key>", "SSWS <token>": the credential alone too.
			if _, cred, ok := strings.Cut(v, " "); ok {
				s.Add(cred)
			}
		}
	}
	return s.Scrub(msg)
}

// PathEscape escapes one path segment (a key id).
func PathEscape(s string) string { return url.PathEscape(s) }

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
