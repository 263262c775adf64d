package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/internal/httpapi"
	"github.com/rotatorkit/rotator/rotator"
)

// Vendor is the vendor's name in errors and logs.
const Vendor = "webhook"

// Fields of the secrets.
const (
	FieldEndpoint      = "endpoint"
	FieldSigningSecret = "signing_secret"
	FieldBearerToken   = "bearer_token"
	fieldKey           = "api_key"
	fieldID            = "key_id"
)

// Headers of the contract.
const (
	HeaderTimestamp = "X-Rotator-Timestamp"
	HeaderNonce     = "X-Rotator-Nonce"
	HeaderKeyID     = "X-Rotator-Key-Id"
	HeaderSignature = "X-Rotator-Signature"
)

// MaxSkew is how far a request's timestamp may be from the receiver's
// clock.
const MaxSkew = 5 * time.Minute

// Sign returns the X-Rotator-Signature value of a request: the receiver
// computes it the same way and compares in constant time.
func Sign(secret []byte, timestamp, nonce, method, path string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	for _, part := range []string{timestamp, nonce, method, path} {
		m.Write([]byte(part))
		m.Write([]byte{'\n'})
	}
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Engine speaks the webhook contract.
type Engine struct {
	http httpapi.Config
	now  func() time.Time
}

// Option configures the engine.
type Option func(*Engine)

// WithRootCAs verifies receivers against pool instead of the system's
// roots (a receiver with a private CA).
func WithRootCAs(pool *x509.CertPool) Option { return httpOption(httpapi.WithRootCAs(pool)) }

// WithTimeout bounds each HTTP attempt.
func WithTimeout(d time.Duration) Option { return httpOption(httpapi.WithTimeout(d)) }

// WithRetries sets the attempts and the backoff of the HTTP layer.
func WithRetries(attempts int, backoff, max time.Duration) Option {
	return httpOption(httpapi.WithRetries(attempts, backoff, max))
}

// httpOption adds an option of the HTTP layer.
func httpOption(o httpapi.Option) Option { return func(e *Engine) { e.http.Add(o) } }

// WithClock sets the clock of the timestamps.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// New returns the engine.
func New(opts ...Option) *Engine {
	e := &Engine{now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e
}

// EnvCABundle names a PEM file of CAs that receivers' certificates are
// verified against, instead of the system's roots.
const EnvCABundle = "ROTATOR_WEBHOOK_CA_BUNDLE"

// NewFromEnv returns the engine a Lambda function uses: $ROTATOR_WEBHOOK_CA_BUNDLE,
// when set, is a PEM file of the CAs receivers are verified against.
func NewFromEnv() (*Engine, error) {
	var opts []Option
	if path := os.Getenv(EnvCABundle); path != "" {
		pool, err := readCABundle(path)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", EnvCABundle, err)
		}
		opts = append(opts, WithRootCAs(pool))
	}
	return New(opts...), nil
}

// Capabilities describes the contract to the dual-key strategy.
func (e *Engine) Capabilities() rotator.KeyCapabilities {
	return rotator.KeyCapabilities{
		Vendor:     Vendor,
		Test:       "GET {endpoint}/whoami signed with the key",
		Finding:    rotator.FindByName,
		ValueField: fieldKey,
		IDField:    fieldID,
	}
}

// endpoint checks a secret's endpoint field.
func endpoint(s *rotator.Secret, who string) (string, error) {
	ep, err := s.Require(FieldEndpoint)
	if err != nil {
		return "", err
	}
	u, perr := url.Parse(ep)
	if perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", &rotator.FieldError{Secret: who, Field: FieldEndpoint, Reason: "must be an https URL without credentials, query or fragment", Err: rotator.ErrInvalidField}
	}
	return strings.TrimSuffix(ep, "/"), nil
}

// Validate checks an application's secret.
func (e *Engine) Validate(s *rotator.Secret) error {
	_, err := endpoint(s, "")
	return err
}

// ValidateAdmin checks an admin secret: its endpoint and credential, and
// that the application's secret names the same endpoint.
func (e *Engine) ValidateAdmin(admin, account *rotator.Secret) error {
	aep, err := endpoint(admin, "admin")
	if err != nil {
		return err
	}
	_, hasSig := admin.String(FieldSigningSecret)
	_, hasTok := admin.String(FieldBearerToken)
	if hasSig == hasTok {
		return &rotator.FieldError{Secret: "admin", Field: FieldSigningSecret, Reason: `or "bearer_token": exactly one must be set`, Err: rotator.ErrMissingField}
	}
	if account.Has(FieldEndpoint) {
		cep, err := endpoint(account, "")
		if err != nil {
			return err
		}
		if cep != aep {
			return fmt.Errorf("%w: the admin secret's endpoint %q is not this secret's %q: the admin credential is sent only to its own endpoint", rotator.ErrNotAllowed, aep, cep)
		}
	}
	return nil
}

// client returns the HTTP client of an endpoint.
func (e *Engine) client(ep string) (*httpapi.Client, error) {
	return e.http.Client(Vendor, ep)
}

// isAdmin tells an admin secret from a key's own secret.
func isAdmin(s *rotator.Secret) bool {
	return s.Has(FieldSigningSecret) || s.Has(FieldBearerToken)
}

// call signs and sends a request with cred (an admin secret, or a
// secret holding a key and its id). The endpoint is the admin secret's
// when cred is one, else cred's own.
func (e *Engine) call(ctx context.Context, cred *rotator.Secret, req httpapi.Request, out any) error {
	ep, err := endpoint(cred, "")
	if err != nil {
		return err
	}
	c, err := e.client(ep)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(e.now().Unix(), 10)
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	n := hex.EncodeToString(nonce)
	req.Header = http.Header{HeaderTimestamp: {ts}, HeaderNonce: {n}}
	// The signature covers the path exactly as sent (escaped).
	base, _ := url.Parse(ep)
	full := base.EscapedPath() + req.Path
	switch {
	case cred.Has(FieldBearerToken):
		tok, err := cred.Require(FieldBearerToken)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Secrets = append(req.Secrets, tok)
	case cred.Has(FieldSigningSecret):
		sec, err := cred.Require(FieldSigningSecret)
		if err != nil {
			return err
		}
		req.Header.Set(HeaderSignature, Sign([]byte(sec), ts, n, req.Method, full, req.Body))
		req.Secrets = append(req.Secrets, sec)
	default:
		key, err := cred.Require(fieldKey)
		if err != nil {
			return err
		}
		id, err := cred.Require(fieldID)
		if err != nil {
			return fmt.Errorf("%w (the receiver finds the signing key by its id)", err)
		}
		req.Header.Set(HeaderKeyID, id)
		req.Header.Set(HeaderSignature, Sign([]byte(key), ts, n, req.Method, full, req.Body))
		req.Secrets = append(req.Secrets, key)
	}
	_, err = c.JSON(ctx, req, out)
	return err
}

// manager returns the credential that manages keys for a request: the
// admin secret, or the account's own key.
func manager(admin, account *rotator.Secret) *rotator.Secret {
	if admin != nil && isAdmin(admin) {
		return admin
	}
	return account
}

// CreateKey asks the receiver for a key named req.Name.
func (e *Engine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	hr := httpapi.Request{Op: "create key", Method: http.MethodPost, Path: "/keys"}
	if err := hr.JSONBody(map[string]string{"name": req.Name}); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	var out struct {
		ID      string    `json:"id"`
		Key     string    `json:"key"`
		Created time.Time `json:"created"`
	}
	if err := e.call(ctx, manager(req.Admin, req.Account), hr, &out); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	return rotator.CreateKeyResponse{ID: out.ID, Value: out.Key, Created: out.Created}, nil
}

// TestKey calls GET /whoami signed with the key and checks the receiver
// names the key's id.
func (e *Engine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	var out struct {
		ID string `json:"id"`
	}
	if err := e.call(ctx, req.Key, httpapi.Request{Op: "test key", Method: http.MethodGet, Path: "/whoami", Idempotent: true}, &out); err != nil {
		return err
	}
	if id, _ := req.Key.String(fieldID); out.ID != id {
		return fmt.Errorf("%s: test key: GET /whoami answered for another key id", Vendor)
	}
	return nil
}

// RevokeKey deletes a key; one already gone is success.
func (e *Engine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	return httpapi.Gone(e.call(ctx, manager(req.Admin, req.Account), httpapi.Request{
		Op: "delete key", Method: http.MethodDelete, Path: "/keys/" + httpapi.PathEscape(req.ID), Idempotent: true,
	}, nil))
}

// ListKeys lists the receiver's keys.
func (e *Engine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	var out struct {
		Keys []struct {
			ID      string    `json:"id"`
			Name    string    `json:"name"`
			Created time.Time `json:"created"`
			Active  *bool     `json:"active"`
		} `json:"keys"`
	}
	if err := e.call(ctx, manager(req.Admin, req.Account), httpapi.Request{Op: "list keys", Method: http.MethodGet, Path: "/keys", Idempotent: true}, &out); err != nil {
		return nil, err
	}
	keys := make([]rotator.VendorKey, 0, len(out.Keys))
	for _, k := range out.Keys {
		if strings.HasPrefix(k.Name, req.NamePrefix) {
			keys = append(keys, rotator.VendorKey{ID: k.ID, Name: k.Name, Created: k.Created, Active: k.Active == nil || *k.Active})
		}
	}
	return keys, nil
}
