package datadog

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/internal/httpapi"
	"github.com/rotatorkit/rotator/rotator"
)

// Fields of the secrets.
const (
	// FieldSite is the Datadog site ("datadoghq.eu"; default
	// "datadoghq.com").
	FieldSite = "site"
	// FieldAPIKey is an API key (DD-API-KEY): the rotated value for key
	// type "api"; the key sent beside the application key otherwise.
	FieldAPIKey = "api_key"
	// FieldAPIKeyID is the API key's id (key type "api").
	FieldAPIKeyID = "api_key_id"
	// FieldApplicationKey is an application key (DD-APPLICATION-KEY):
	// the rotated value for key type "application"; the managing key
	// otherwise.
	FieldApplicationKey = "application_key"
	// FieldApplicationKeyID is the application key's id (key type
	// "application").
	FieldApplicationKeyID = "application_key_id"
)

// Key types.
const (
	KeyTypeAPI         = "api"
	KeyTypeApplication = "application"
	// EnvKeyType selects the key type of a function ("api" when unset).
	EnvKeyType = "DATADOG_KEY_TYPE"
	// DefaultSite is the site of a secret without "site".
	DefaultSite = "datadoghq.com"
	// pageSize is Datadog's largest page.
	pageSize = 100
	maxPages = 100
)

// Sites are the Datadog sites a secret may name: the API is at
// https://api.<site>.
var Sites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com",
	"ddog-gov.com", "us2.ddog-gov.com",
}

// Engine rotates Datadog API keys or application keys. Call New.
type Engine struct {
	keyType string
	base    string // a fixed base URL for every site (tests), or ""
	http    httpapi.Config
}

// Option configures the engine.
type Option func(*Engine)

// WithKeyType sets the kind of key rotated: KeyTypeAPI (default) or
// KeyTypeApplication.
func WithKeyType(t string) Option { return func(e *Engine) { e.keyType = t } }

// WithBaseURL sends every call to base instead of https://api.<site>
// (tests). It comes from code, never from a secret.
func WithBaseURL(base string) Option { return func(e *Engine) { e.base = base } }

// WithRootCAs verifies Datadog's certificate against pool (tests).
func WithRootCAs(pool *x509.CertPool) Option { return httpOption(httpapi.WithRootCAs(pool)) }

// WithTimeout bounds each HTTP attempt.
func WithTimeout(d time.Duration) Option { return httpOption(httpapi.WithTimeout(d)) }

// WithRetries sets the attempts per call and the backoff between them.
func WithRetries(attempts int, backoff, max time.Duration) Option {
	return httpOption(httpapi.WithRetries(attempts, backoff, max))
}

// httpOption adds an option of the HTTP layer.
func httpOption(o httpapi.Option) Option { return func(e *Engine) { e.http.Add(o) } }

// New returns the engine.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{keyType: KeyTypeAPI}
	for _, o := range opts {
		o(e)
	}
	if e.keyType != KeyTypeAPI && e.keyType != KeyTypeApplication {
		return nil, fmt.Errorf("datadog: key type %q: want %q or %q", e.keyType, KeyTypeAPI, KeyTypeApplication)
	}
	if e.base != "" {
		if _, err := e.http.Client("datadog", e.base); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// NewFromEnv is New for a Lambda's main: DATADOG_KEY_TYPE selects the key
// type.
func NewFromEnv(opts ...Option) (*Engine, error) {
	if t := strings.TrimSpace(os.Getenv(EnvKeyType)); t != "" {
		opts = append([]Option{WithKeyType(t)}, opts...)
	}
	e, err := New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKeyType, err)
	}
	return e, nil
}

// KeyType is the kind of key the engine rotates.
func (e *Engine) KeyType() string { return e.keyType }

// Capabilities describes Datadog to the dual-key strategy.
func (e *Engine) Capabilities() rotator.KeyCapabilities {
	c := rotator.KeyCapabilities{
		Vendor:  "datadog",
		Finding: rotator.FindByName,
		// Datadog allows many keys per organisation (its list reports
		// meta.max_allowed); the strategy keeps two per secret.
		MaxKeys: 0,
	}
	if e.keyType == KeyTypeApplication {
		c.Test = "GET /api/v2/current_user/application_keys/{id} with the new application key"
		c.ValueField, c.IDField = FieldApplicationKey, FieldApplicationKeyID
	} else {
		c.Test = "GET /api/v1/validate with the new key in DD-API-KEY"
		c.ValueField, c.IDField = FieldAPIKey, FieldAPIKeyID
	}
	return c
}

func fieldErr(field, reason string, err error) error {
	return &rotator.FieldError{Field: field, Reason: reason, Err: err}
}

// site returns a secret's site, checked against Sites.
func site(s *rotator.Secret) (string, error) {
	if !s.Has(FieldSite) {
		return DefaultSite, nil
	}
	v, ok := s.String(FieldSite)
	if !ok {
		return "", fieldErr(FieldSite, "must be a non-empty string", rotator.ErrInvalidField)
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if !slices.Contains(Sites, v) {
		return "", fieldErr(FieldSite, "is not a Datadog site (one of "+strings.Join(Sites, ", ")+"): the keys are sent only to Datadog", rotator.ErrInvalidField)
	}
	return v, nil
}

// Validate checks the site and, for application keys, the API key sent
// beside them.
func (e *Engine) Validate(s *rotator.Secret) error {
	if _, err := site(s); err != nil {
		return err
	}
	if e.keyType == KeyTypeApplication {
		if _, err := s.Require(FieldAPIKey); err != nil {
			return fmt.Errorf("%w (the API key sent with the application key)", err)
		}
	}
	return nil
}

// ValidateAdmin checks an admin secret: the same site, both keys; none is
// accepted for application keys.
func (e *Engine) ValidateAdmin(admin, account *rotator.Secret) error {
	if e.keyType == KeyTypeApplication {
		return fmt.Errorf("%w: an application key belongs to the user who makes it: it rotates itself, without an admin secret", rotator.ErrNotAllowed)
	}
	as, err := site(admin)
	if err != nil {
		return err
	}
	s, err := site(account)
	if err != nil {
		return err
	}
	if as != s {
		return fmt.Errorf("%w: field %q: the admin secret's site differs from the rotated secret's", rotator.ErrNotAllowed, FieldSite)
	}
	for _, f := range []string{FieldAPIKey, FieldApplicationKey} {
		if _, err := admin.Require(f); err != nil {
			return err
		}
	}
	return nil
}

// client returns the HTTP client of a secret's site.
func (e *Engine) client(s *rotator.Secret) (*httpapi.Client, error) {
	st, err := site(s)
	if err != nil {
		return nil, err
	}
	base := e.base
	if base == "" {
		base = "https://api." + st
	}
	return e.http.Client("datadog", base)
}

// managing returns the client and the managing credential's headers: the
// admin's API and application keys for API keys (the rotated secret's
// own, without "adminarn"), the rotated secret's for application keys.
func (e *Engine) managing(admin, account *rotator.Secret) (*httpapi.Client, http.Header, []string, error) {
	c, err := e.client(account)
	if err != nil {
		return nil, nil, nil, err
	}
	if e.keyType == KeyTypeApplication {
		admin = account
	}
	api, err := admin.Require(FieldAPIKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("managing credential: %w", err)
	}
	app, err := admin.Require(FieldApplicationKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("managing credential: %w (API keys are managed with an application key: store one beside the key or name an admin secret in \"adminarn\")", err)
	}
	h := http.Header{}
	h.Set("DD-API-KEY", api)
	h.Set("DD-APPLICATION-KEY", app)
	return c, h, []string{api, app}, nil
}

func (e *Engine) collection() string {
	if e.keyType == KeyTypeApplication {
		return "/api/v2/current_user/application_keys"
	}
	return "/api/v2/api_keys"
}

func (e *Engine) jsonType() string {
	if e.keyType == KeyTypeApplication {
		return "application_keys"
	}
	return "api_keys"
}

type createAttributes struct {
	Name   string    `json:"name"`
	Scopes *[]string `json:"scopes,omitempty"`
}

type createRequest struct {
	Data struct {
		Type       string           `json:"type"`
		Attributes createAttributes `json:"attributes"`
	} `json:"data"`
}

type keyData struct {
	ID         string `json:"id"`
	Attributes struct {
		Name      string    `json:"name"`
		Key       string    `json:"key"`
		CreatedAt string    `json:"created_at"`
		Scopes    *[]string `json:"scopes"`
	} `json:"attributes"`
}

type keyResponse struct {
	Data keyData `json:"data"`
}

// CreateKey makes a key named req.Name; an application key gets the
// scopes of the current one.
func (e *Engine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	c, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	var body createRequest
	body.Data.Type = e.jsonType()
	body.Data.Attributes.Name = req.Name
	if e.keyType == KeyTypeApplication {
		// An unscoped key would have every permission of its user: the
		// new key gets exactly the current key's scopes.
		id, err := req.Account.Require(FieldApplicationKeyID)
		if err != nil {
			return rotator.CreateKeyResponse{}, fmt.Errorf("%w (the current key's scopes are copied to the new key)", err)
		}
		var cur keyResponse
		if _, err := c.JSON(ctx, httpapi.Request{
			Op: "read current key", Method: http.MethodGet, Idempotent: true,
			Path: e.collection() + "/" + httpapi.PathEscape(id), Header: h, Secrets: secrets,
		}, &cur); err != nil {
			return rotator.CreateKeyResponse{}, err
		}
		body.Data.Attributes.Scopes = cur.Data.Attributes.Scopes
	}
	r := httpapi.Request{Op: "create key", Method: http.MethodPost, Path: e.collection(), Header: h, Secrets: secrets}
	if err := r.JSONBody(body); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	var out keyResponse
	if _, err := c.JSON(ctx, r, &out); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	if out.Data.ID == "" {
		return rotator.CreateKeyResponse{}, fmt.Errorf("datadog: create key: %w: no key id in the answer", httpapi.ErrBadResponse)
	}
	return rotator.CreateKeyResponse{ID: out.Data.ID, Value: out.Data.Attributes.Key, Created: parseTime(out.Data.Attributes.CreatedAt)}, nil
}

// TestKey proves a key: /api/v1/validate for an API key; reading itself
// for an application key. Datadog answers 403 to a key it does not know.
func (e *Engine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	c, err := e.client(req.Key)
	if err != nil {
		return err
	}
	api, err := req.Key.Require(FieldAPIKey)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("DD-API-KEY", api)
	r := httpapi.Request{Op: "test key", Method: http.MethodGet, Idempotent: true, Path: "/api/v1/validate", Header: h, Secrets: []string{api}}
	if e.keyType == KeyTypeApplication {
		app, err := req.Key.Require(FieldApplicationKey)
		if err != nil {
			return err
		}
		id, err := req.Key.Require(FieldApplicationKeyID)
		if err != nil {
			return err
		}
		h.Set("DD-APPLICATION-KEY", app)
		r.Path = e.collection() + "/" + httpapi.PathEscape(id)
		r.Secrets = append(r.Secrets, app)
	}
	var out struct {
		Valid *bool `json:"valid"`
	}
	_, err = c.JSON(ctx, r, &out)
	if errors.Is(err, rotator.ErrPermission) {
		return fmt.Errorf("%w: %w", rotator.ErrLoginFailed, err)
	}
	if err != nil {
		return err
	}
	if e.keyType == KeyTypeAPI && (out.Valid == nil || !*out.Valid) {
		return fmt.Errorf("datadog: test key: %w: /api/v1/validate did not say the key is valid", rotator.ErrLoginFailed)
	}
	return nil
}

// RevokeKey deletes a key; one already gone is success.
func (e *Engine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	c, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return err
	}
	if req.ID == "" {
		return errors.New("datadog: revoke key: no key id")
	}
	_, err = c.Do(ctx, httpapi.Request{
		Op: "revoke key", Method: http.MethodDelete, Idempotent: true,
		Path: e.collection() + "/" + httpapi.PathEscape(req.ID), Header: h, Secrets: secrets,
	})
	return httpapi.Gone(err)
}

// ListKeys lists the keys (filtered by name on Datadog's side when a
// prefix is given, and again here), page by page.
func (e *Engine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	c, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return nil, err
	}
	var keys []rotator.VendorKey
	for page := 0; ; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("datadog: list keys: more than %d pages", maxPages)
		}
		q := url.Values{"page[size]": {fmt.Sprint(pageSize)}, "page[number]": {fmt.Sprint(page)}}
		if req.NamePrefix != "" {
			q.Set("filter", req.NamePrefix)
		}
		var out struct {
			Data []keyData `json:"data"`
		}
		if _, err := c.JSON(ctx, httpapi.Request{
			Op: "list keys", Method: http.MethodGet, Idempotent: true,
			Path: e.collection(), Query: q, Header: h, Secrets: secrets,
		}, &out); err != nil {
			return nil, err
		}
		for _, k := range out.Data {
			if req.NamePrefix != "" && !strings.HasPrefix(k.Attributes.Name, req.NamePrefix) {
				continue
			}
			keys = append(keys, rotator.VendorKey{ID: k.ID, Name: k.Attributes.Name, Created: parseTime(k.Attributes.CreatedAt), Active: true})
		}
		if len(out.Data) < pageSize {
			return keys, nil
		}
	}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
