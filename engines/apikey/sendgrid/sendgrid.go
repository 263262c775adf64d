package sendgrid

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/internal/httpapi"
	"github.com/rotatorkit/rotator/rotator"
)

// Vendor is the vendor's name in errors and logs.
const Vendor = "sendgrid"

// Fields of the secret.
const (
	FieldScopes     = "scopes"
	FieldRegion     = "region"
	FieldOnBehalfOf = "on_behalf_of"
	fieldKey        = "api_key"
)

// MaxKeys is SendGrid's limit of API keys per account.
const MaxKeys = 100

// The regions' base URLs: the only hosts a key is sent to.
var regions = map[string]string{
	"global": "https://api.sendgrid.com",
	"eu":     "https://api.eu.sendgrid.com",
}

// Engine manages SendGrid API keys.
type Engine struct {
	base    string // overrides the region's (tests)
	http    httpapi.Config
	clients map[string]*httpapi.Client
}

// Option configures the engine.
type Option func(*Engine)

// WithBaseURL sends every request to base instead of the region's host
// (a test's mock). It is set by whoever builds the function, never by a
// secret.
func WithBaseURL(base string) Option { return func(e *Engine) { e.base = base } }

// WithRootCAs verifies the server against pool (a test's CA).
func WithRootCAs(pool *x509.CertPool) Option { return httpOption(httpapi.WithRootCAs(pool)) }

// WithTimeout bounds each HTTP attempt.
func WithTimeout(d time.Duration) Option { return httpOption(httpapi.WithTimeout(d)) }

// WithRetries sets the attempts and the backoff of the HTTP layer.
func WithRetries(attempts int, backoff, max time.Duration) Option {
	return httpOption(httpapi.WithRetries(attempts, backoff, max))
}

// httpOption adds an option of the HTTP layer.
func httpOption(o httpapi.Option) Option { return func(e *Engine) { e.http.Add(o) } }

// New returns the engine.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{clients: map[string]*httpapi.Client{}}
	for _, o := range opts {
		o(e)
	}
	hosts := regions
	if e.base != "" {
		hosts = map[string]string{"global": e.base, "eu": e.base}
	}
	for region, base := range hosts {
		c, err := e.http.New(Vendor, base)
		if err != nil {
			return nil, err
		}
		e.clients[region] = c
	}
	return e, nil
}

// NewFromEnv returns the engine a Lambda function uses. SendGrid needs no
// configuration beyond the secret: it reads no variable.
func NewFromEnv() (*Engine, error) { return New() }

// Capabilities describes SendGrid to the dual-key strategy.
func (e *Engine) Capabilities() rotator.KeyCapabilities {
	return rotator.KeyCapabilities{
		Vendor:        Vendor,
		MaxKeys:       MaxKeys,
		Test:          "GET /v3/scopes with the key",
		Finding:       rotator.FindByName,
		MaxNameLength: 100,
		ValueField:    fieldKey,
		IDField:       "key_id",
	}
}

// region returns the secret's region ("global" by default).
func region(s *rotator.Secret) (string, error) {
	if !s.Has(FieldRegion) {
		return "global", nil
	}
	r, ok := s.String(FieldRegion)
	r = strings.ToLower(strings.TrimSpace(r))
	if _, known := regions[r]; !ok || !known {
		return "", &rotator.FieldError{Field: FieldRegion, Reason: `must be "global" or "eu"`, Err: rotator.ErrInvalidField}
	}
	return r, nil
}

// scopes returns the secret's scopes.
func scopes(s *rotator.Secret) ([]string, error) {
	raw, ok := s.Raw(FieldScopes)
	if !ok {
		return nil, &rotator.FieldError{Field: FieldScopes, Reason: "is missing: list the scopes every new key gets (SendGrid gives a key without scopes full access)", Err: rotator.ErrMissingField}
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
		return nil, &rotator.FieldError{Field: FieldScopes, Reason: "must be a non-empty JSON array of strings", Err: rotator.ErrInvalidField}
	}
	for _, sc := range out {
		if sc == "" {
			return nil, &rotator.FieldError{Field: FieldScopes, Reason: "holds an empty scope", Err: rotator.ErrInvalidField}
		}
	}
	return out, nil
}

// Validate checks the secret's SendGrid fields.
func (e *Engine) Validate(s *rotator.Secret) error {
	if _, err := region(s); err != nil {
		return err
	}
	if _, err := scopes(s); err != nil {
		return err
	}
	if s.Has(FieldOnBehalfOf) {
		if _, err := s.Require(FieldOnBehalfOf); err != nil {
			return err
		}
	}
	return nil
}

// ValidateAdmin checks that an admin secret serves the same region.
func (e *Engine) ValidateAdmin(admin, account *rotator.Secret) error {
	if _, err := admin.Require(fieldKey); err != nil {
		return fmt.Errorf("admin secret: %w", err)
	}
	ar, err := region(admin)
	if err != nil {
		return fmt.Errorf("admin secret: %w", err)
	}
	cr, err := region(account)
	if err != nil {
		return err
	}
	if ar != cr {
		return fmt.Errorf("%w: the admin secret is for region %q, this secret for %q", rotator.ErrNotAllowed, ar, cr)
	}
	return nil
}

// call sends a request with cred's key to the account's region.
func (e *Engine) call(ctx context.Context, cred, account *rotator.Secret, req httpapi.Request, out any) error {
	key, err := cred.Require(fieldKey)
	if err != nil {
		return err
	}
	r, err := region(account)
	if err != nil {
		return err
	}
	req.Header = http.Header{"Authorization": {"Bearer " + key}}
	if obo, ok := account.String(FieldOnBehalfOf); ok && obo != "" {
		req.Header.Set("On-Behalf-Of", obo)
	}
	req.Secrets = append(req.Secrets, key)
	_, err = e.clients[r].JSON(ctx, req, out)
	return err
}

// CreateKey creates a key named req.Name with the secret's scopes.
func (e *Engine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	sc, err := scopes(req.Account)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	hr := httpapi.Request{Op: "create key", Method: http.MethodPost, Path: "/v3/api_keys"}
	if err := hr.JSONBody(map[string]any{"name": req.Name, "scopes": sc}); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	var out struct {
		Key   string `json:"api_key"`
		ID    string `json:"api_key_id"`
		Name  string `json:"name"`
		Scope []string
	}
	if err := e.call(ctx, req.Admin, req.Account, hr, &out); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	return rotator.CreateKeyResponse{ID: out.ID, Value: out.Key}, nil
}

// TestKey calls GET /v3/scopes with the key: any key may, nothing
// changes.
func (e *Engine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	var out struct {
		Scopes []string `json:"scopes"`
	}
	return e.call(ctx, req.Key, req.Key, httpapi.Request{Op: "test key", Method: http.MethodGet, Path: "/v3/scopes", Idempotent: true}, &out)
}

// RevokeKey deletes a key; one already gone is success.
func (e *Engine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	return httpapi.Gone(e.call(ctx, req.Admin, req.Account, httpapi.Request{
		Op: "delete key", Method: http.MethodDelete, Path: "/v3/api_keys/" + httpapi.PathEscape(req.ID), Idempotent: true,
	}, nil))
}

// ListKeys lists the account's keys (names and ids; SendGrid gives no
// dates). SendGrid returns every key in one page up to its limit.
func (e *Engine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	var out struct {
		Result []struct {
			ID   string `json:"api_key_id"`
			Name string `json:"name"`
		} `json:"result"`
	}
	hr := httpapi.Request{Op: "list keys", Method: http.MethodGet, Path: "/v3/api_keys", Idempotent: true,
		Query: url.Values{"limit": {fmt.Sprint(MaxKeys)}}}
	if err := e.call(ctx, req.Admin, req.Account, hr, &out); err != nil {
		return nil, err
	}
	keys := make([]rotator.VendorKey, 0, len(out.Result))
	for _, k := range out.Result {
		if strings.HasPrefix(k.Name, req.NamePrefix) {
			keys = append(keys, rotator.VendorKey{ID: k.ID, Name: k.Name, Active: true})
		}
	}
	return keys, nil
}
