package okta

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
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
	// FieldOrgURL is the Okta org's URL ("https://example.okta.com").
	FieldOrgURL = "org_url"
	// FieldClientID is the app's OAuth client id.
	FieldClientID = "client_id"
	// FieldAppID is the app's id, when it differs from the client id.
	FieldAppID = "app_id"
	// FieldClientSecret is the client secret: the rotated value.
	FieldClientSecret = "client_secret"
	// FieldClientSecretID is Okta's id of the client secret.
	FieldClientSecretID = "client_secret_id"
	// FieldAuthMethod is how the client authenticates at the token
	// endpoints: "client_secret_basic" (default) or "client_secret_post".
	FieldAuthMethod = "token_endpoint_auth_method"
	// FieldAPIToken is an Okta API token (admin secret): "SSWS <token>".
	FieldAPIToken = "api_token"
	// FieldAccessToken is an OAuth 2.0 access token with okta.apps.manage
	// (admin secret): "Bearer <token>".
	FieldAccessToken = "access_token"
	// FieldAdminARN names the admin secret; this engine requires it.
	FieldAdminARN = "adminarn"
)

const (
	// MaxSecrets is how many client secrets Okta keeps per app.
	MaxSecrets = 2
	// EnvAllowedHosts lists further org hosts (custom domains), comma
	// separated, a function accepts in "org_url".
	EnvAllowedHosts = "OKTA_ALLOWED_HOSTS"
)

// oktaDomains are the domains whose subdomains are Okta orgs.
var oktaDomains = []string{".okta.com", ".oktapreview.com", ".okta-emea.com"}

// Engine rotates Okta client secrets. Call New.
type Engine struct {
	allowed []string
	http    httpapi.Config
}

// Option configures the engine.
type Option func(*Engine)

// WithAllowedHosts accepts org URLs on these hosts (host or host:port,
// exactly) besides Okta's own domains: an org's custom domain.
func WithAllowedHosts(hosts ...string) Option {
	return func(e *Engine) {
		for _, h := range hosts {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				e.allowed = append(e.allowed, h)
			}
		}
	}
}

// WithRootCAs verifies Okta's certificate against pool (tests, a custom
// domain with a private CA).
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
	e := &Engine{}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// NewFromEnv is New for a Lambda's main: OKTA_ALLOWED_HOSTS adds custom
// domains.
func NewFromEnv(opts ...Option) (*Engine, error) {
	if v := os.Getenv(EnvAllowedHosts); v != "" {
		opts = append([]Option{WithAllowedHosts(strings.Split(v, ",")...)}, opts...)
	}
	return New(opts...)
}

// Capabilities describes Okta to the dual-key strategy.
func (e *Engine) Capabilities() rotator.KeyCapabilities {
	return rotator.KeyCapabilities{
		Vendor:          "okta",
		MaxKeys:         MaxSecrets,
		NeedsActivation: true,
		Test:            "POST /oauth2/v1/introspect authenticated with the client id and the new secret",
		Finding:         rotator.FindByRecordedID,
		ValueField:      FieldClientSecret,
		IDField:         FieldClientSecretID,
	}
}

func fieldErr(field, reason string, err error) error {
	return &rotator.FieldError{Field: field, Reason: reason, Err: err}
}

// orgURL returns a secret's org URL, normalised, or an error naming the
// field.
func (e *Engine) orgURL(s *rotator.Secret) (string, error) {
	raw, err := s.Require(FieldOrgURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	bad := func(why string) (string, error) {
		return "", fieldErr(FieldOrgURL, why, rotator.ErrInvalidField)
	}
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "https":
		return bad("must be an https URL")
	case u.User != nil:
		return bad("must not hold user information")
	case u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return bad("must be the org's URL alone (no path, query or fragment)")
	}
	host := strings.ToLower(u.Host)
	if !e.hostAllowed(host) {
		return bad("is not an Okta org (*.okta.com, *.oktapreview.com, *.okta-emea.com) nor a host this function allows (" + EnvAllowedHosts + "): the admin token is sent only to Okta")
	}
	return "https://" + host, nil
}

func (e *Engine) hostAllowed(host string) bool {
	if slices.Contains(e.allowed, host) {
		return true
	}
	if strings.Contains(host, ":") {
		// Okta's own domains are on the default port.
		return false
	}
	for _, d := range oktaDomains {
		if label, ok := strings.CutSuffix(host, d); ok && label != "" && !strings.Contains(label, ".") && validLabel(label) {
			return true
		}
	}
	return false
}

func validLabel(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// appID is the app whose secrets rotate.
func appID(s *rotator.Secret) (string, error) {
	if id, ok := s.String(FieldAppID); ok {
		return id, nil
	}
	return s.Require(FieldClientID)
}

// Validate checks the application's secret: the org URL, the client id,
// the auth method and "adminarn".
func (e *Engine) Validate(s *rotator.Secret) error {
	if _, err := e.orgURL(s); err != nil {
		return err
	}
	if _, err := s.Require(FieldClientID); err != nil {
		return err
	}
	if s.Has(FieldAppID) {
		if _, err := s.Require(FieldAppID); err != nil {
			return err
		}
	}
	if m, ok := s.String(FieldAuthMethod); ok && m != "client_secret_basic" && m != "client_secret_post" {
		return fieldErr(FieldAuthMethod, `must be "client_secret_basic" or "client_secret_post"`, rotator.ErrInvalidField)
	}
	if !s.Has(FieldAdminARN) {
		return fieldErr(FieldAdminARN, "is missing: a client secret cannot manage client secrets; name a secret holding an Okta api_token or access_token", rotator.ErrMissingField)
	}
	return nil
}

// ValidateAdmin checks that the admin secret is for the same org and
// holds a token.
func (e *Engine) ValidateAdmin(admin, account *rotator.Secret) error {
	ao, err := e.orgURL(admin)
	if err != nil {
		return err
	}
	o, err := e.orgURL(account)
	if err != nil {
		return err
	}
	if ao != o {
		return fmt.Errorf("%w: field %q: the admin secret is for another Okta org", rotator.ErrNotAllowed, FieldOrgURL)
	}
	_, _, err = adminAuth(admin)
	return err
}

func adminAuth(admin *rotator.Secret) (header, token string, err error) {
	if t, ok := admin.String(FieldAPIToken); ok {
		return "SSWS " + t, t, nil
	}
	if t, ok := admin.String(FieldAccessToken); ok {
		return "Bearer " + t, t, nil
	}
	return "", "", fieldErr(FieldAPIToken, `is missing: the admin secret holds an Okta "api_token" or an OAuth 2.0 "access_token"`, rotator.ErrMissingField)
}

func (e *Engine) client(org string) (*httpapi.Client, error) {
	return e.http.Client("okta", org)
}

// managing returns the client, the secrets collection's path and the
// admin's headers.
func (e *Engine) managing(admin, account *rotator.Secret) (*httpapi.Client, string, http.Header, []string, error) {
	org, err := e.orgURL(account)
	if err != nil {
		return nil, "", nil, nil, err
	}
	app, err := appID(account)
	if err != nil {
		return nil, "", nil, nil, err
	}
	if admin == account {
		return nil, "", nil, nil, fieldErr(FieldAdminARN, "is missing: a client secret cannot manage client secrets", rotator.ErrMissingField)
	}
	auth, tok, err := adminAuth(admin)
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("admin secret: %w", err)
	}
	c, err := e.client(org)
	if err != nil {
		return nil, "", nil, nil, err
	}
	h := http.Header{}
	h.Set("Authorization", auth)
	return c, "/api/v1/apps/" + httpapi.PathEscape(app) + "/credentials/secrets", h, []string{tok}, nil
}

// clientSecret is Okta's OAuth2ClientSecret.
type clientSecret struct {
	ID           string `json:"id"`
	ClientSecret string `json:"client_secret"`
	Status       string `json:"status"`
	Created      string `json:"created"`
}

// CreateKey makes a new client secret, INACTIVE until ActivateKey.
func (e *Engine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	c, path, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	r := httpapi.Request{Op: "create client secret", Method: http.MethodPost, Path: path, Header: h, Secrets: secrets}
	if err := r.JSONBody(map[string]string{"status": "INACTIVE"}); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	var out clientSecret
	if _, err := c.JSON(ctx, r, &out); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	if out.ID == "" {
		return rotator.CreateKeyResponse{}, fmt.Errorf("okta: create client secret: %w: no secret id in the answer", httpapi.ErrBadResponse)
	}
	return rotator.CreateKeyResponse{ID: out.ID, Value: out.ClientSecret, Created: parseTime(out.Created)}, nil
}

func (e *Engine) lifecycle(ctx context.Context, req rotator.KeyRequest, op, verb string) error {
	c, path, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return err
	}
	if req.ID == "" {
		return fmt.Errorf("okta: %s: no secret id", op)
	}
	_, err = c.Do(ctx, httpapi.Request{
		Op: op, Method: http.MethodPost, Idempotent: true,
		Path: path + "/" + httpapi.PathEscape(req.ID) + "/lifecycle/" + verb, Header: h, Secrets: secrets,
	})
	return err
}

// ActivateKey activates a client secret (an active one stays active).
func (e *Engine) ActivateKey(ctx context.Context, req rotator.KeyRequest) error {
	return e.lifecycle(ctx, req, "activate client secret", "activate")
}

// DeactivateKey deactivates a client secret; one already gone is success
// (the delete that follows has nothing to do).
func (e *Engine) DeactivateKey(ctx context.Context, req rotator.KeyRequest) error {
	return httpapi.Gone(e.lifecycle(ctx, req, "deactivate client secret", "deactivate"))
}

// RevokeKey deletes an (inactive) client secret; one already gone is
// success.
func (e *Engine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	c, path, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return err
	}
	if req.ID == "" {
		return errors.New("okta: delete client secret: no secret id")
	}
	_, err = c.Do(ctx, httpapi.Request{
		Op: "delete client secret", Method: http.MethodDelete, Idempotent: true,
		Path: path + "/" + httpapi.PathEscape(req.ID), Header: h, Secrets: secrets,
	})
	return httpapi.Gone(err)
}

// ListKeys lists the app's client secrets (ids, status and dates; the
// values Okta also returns are dropped at once).
func (e *Engine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	c, path, h, secrets, err := e.managing(req.Admin, req.Account)
	if err != nil {
		return nil, err
	}
	var out []clientSecret
	if _, err := c.JSON(ctx, httpapi.Request{
		Op: "list client secrets", Method: http.MethodGet, Idempotent: true,
		Path: path, Header: h, Secrets: secrets,
	}, &out); err != nil {
		return nil, err
	}
	keys := make([]rotator.VendorKey, 0, len(out))
	for _, s := range out {
		keys = append(keys, rotator.VendorKey{ID: s.ID, Created: parseTime(s.Created), Active: s.Status == "ACTIVE"})
	}
	return keys, nil
}

// TestKey authenticates the client with the secret at the org
// authorization server's introspection endpoint.
func (e *Engine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	org, err := e.orgURL(req.Key)
	if err != nil {
		return err
	}
	id, err := req.Key.Require(FieldClientID)
	if err != nil {
		return err
	}
	secret, err := req.Key.Require(FieldClientSecret)
	if err != nil {
		return err
	}
	c, err := e.client(org)
	if err != nil {
		return err
	}
	// A random token: the answer says only whether the client
	// authenticated (200, "active": false) or not (401).
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	form := url.Values{"token": {"rotator-test-" + hex.EncodeToString(b)}, "token_type_hint": {"access_token"}}
	h := http.Header{}
	if m, _ := req.Key.String(FieldAuthMethod); m == "client_secret_post" {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	} else {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	}
	var out struct {
		Active *bool `json:"active"`
	}
	_, err = c.JSON(ctx, httpapi.Request{
		Op: "test client secret", Method: http.MethodPost, Idempotent: true, Path: "/oauth2/v1/introspect",
		Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded",
		Header: h, Secrets: []string{secret},
	}, &out)
	if err != nil {
		return err
	}
	if out.Active == nil {
		return fmt.Errorf("okta: test client secret: %w: the introspection answer has no \"active\"", httpapi.ErrBadResponse)
	}
	return nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
