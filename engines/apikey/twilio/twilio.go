package twilio

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/internal/httpapi"
	"github.com/rotatorkit/rotator/rotator"
)

// Fields of the secrets.
const (
	// FieldAccountSID is the Account SID ("AC" and 32 hex digits), in the
	// application's secret and in the admin secret.
	FieldAccountSID = "account_sid"
	// FieldKeySID is the API key's SID ("SK" and 32 hex digits): the
	// basic-auth user. It is the key's id.
	FieldKeySID = "api_key_sid"
	// FieldKeySecret is the API key's secret: the basic-auth password.
	FieldKeySecret = "api_key_secret"
	// FieldAuthToken is the account's auth token, in the admin secret
	// only (the alternative to a Main key there).
	FieldAuthToken = "auth_token"
	// FieldAdminARN names the admin secret (strategies/dualkey reads it;
	// this engine requires it).
	FieldAdminARN = "adminarn"
)

// Base URLs of Twilio's APIs.
const (
	DefaultAPIBaseURL = "https://api.twilio.com"
	DefaultIAMBaseURL = "https://iam.twilio.com"
	// MaxNameLength is the longest FriendlyName Twilio accepts.
	MaxNameLength = 64
	// pageSize is the keys listed per page (Twilio's maximum is 1000).
	pageSize = 1000
	// maxPages bounds the pages followed (a vendor that answers every
	// page with a next page must not keep the step busy).
	maxPages = 50
)

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	keySIDPattern     = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
)

// Engine rotates Twilio API keys. Its zero value is not usable: call New.
type Engine struct {
	api, iam *httpapi.Client
	// via2010 creates keys with the 2010-04-01 API instead of IAM v1.
	via2010 bool
}

// Option configures the engine.
type Option func(*config)

type config struct {
	apiBase, iamBase string
	via2010          bool
	http             httpapi.Config
}

// EnvCreateAPI selects the API that creates keys: "iam" (default, IAM v1)
// or "2010" (POST /2010-04-01/Accounts/{AccountSid}/Keys.json, for an
// edge or region that serves the 2010-04-01 API only).
const EnvCreateAPI = "TWILIO_CREATE_API"

// WithCreateVia2010 creates keys with POST
// /2010-04-01/Accounts/{AccountSid}/Keys.json (Standard keys, as IAM v1's)
// instead of IAM v1: where only the 2010-04-01 API is served.
func WithCreateVia2010() Option { return func(c *config) { c.via2010 = true } }

// WithBaseURLs sends the calls to other base URLs than Twilio's (tests;
// a regional edge such as https://api.dublin.ie1.twilio.com). They come
// from the function's code or configuration, never from a secret.
func WithBaseURLs(api, iam string) Option {
	return func(c *config) { c.apiBase, c.iamBase = api, iam }
}

// WithRootCAs verifies Twilio's certificate against pool (tests).
func WithRootCAs(pool *x509.CertPool) Option { return httpOption(httpapi.WithRootCAs(pool)) }

// WithTimeout bounds each HTTP attempt (default httpapi.DefaultTimeout).
func WithTimeout(d time.Duration) Option { return httpOption(httpapi.WithTimeout(d)) }

// WithRetries sets the attempts per call and the backoff between them.
func WithRetries(attempts int, backoff, max time.Duration) Option {
	return httpOption(httpapi.WithRetries(attempts, backoff, max))
}

// httpOption adds an option of the HTTP layer.
func httpOption(o httpapi.Option) Option { return func(c *config) { c.http.Add(o) } }

// New returns the engine.
func New(opts ...Option) (*Engine, error) {
	c := config{apiBase: DefaultAPIBaseURL, iamBase: DefaultIAMBaseURL}
	for _, o := range opts {
		o(&c)
	}
	api, err := c.http.New("twilio", c.apiBase)
	if err != nil {
		return nil, err
	}
	iam, err := c.http.New("twilio", c.iamBase)
	if err != nil {
		return nil, err
	}
	return &Engine{api: api, iam: iam, via2010: c.via2010}, nil
}

// NewFromEnv is New for a Lambda's main: TWILIO_CREATE_API chooses the
// API that creates keys; everything else is in the secrets.
func NewFromEnv(opts ...Option) (*Engine, error) {
	switch v := strings.TrimSpace(os.Getenv(EnvCreateAPI)); v {
	case "", "iam":
	case "2010":
		opts = append([]Option{WithCreateVia2010()}, opts...)
	default:
		return nil, fmt.Errorf("%s=%q: want \"iam\" or \"2010\"", EnvCreateAPI, v)
	}
	return New(opts...)
}

// Capabilities describes Twilio to the dual-key strategy.
func (e *Engine) Capabilities() rotator.KeyCapabilities {
	return rotator.KeyCapabilities{
		Vendor: "twilio",
		// Twilio documents no limit on the number of API keys.
		MaxKeys:       0,
		Test:          "GET /2010-04-01/Accounts/{AccountSid}/Balance.json with the key's SID and secret",
		Finding:       rotator.FindByName,
		MaxNameLength: MaxNameLength,
		ValueField:    FieldKeySecret,
		IDField:       FieldKeySID,
	}
}

func fieldErr(field, reason string, err error) error {
	return &rotator.FieldError{Field: field, Reason: reason, Err: err}
}

// accountSID returns a secret's Account SID, checked.
func accountSID(s *rotator.Secret) (string, error) {
	sid, err := s.Require(FieldAccountSID)
	if err != nil {
		return "", err
	}
	if !accountSIDPattern.MatchString(sid) {
		return "", fieldErr(FieldAccountSID, `must be an Account SID ("AC" and 32 hex digits)`, rotator.ErrInvalidField)
	}
	return sid, nil
}

// Validate checks the application's secret: the Account SID, the key's
// SID when present, and "adminarn" (a Standard key cannot manage keys).
func (e *Engine) Validate(s *rotator.Secret) error {
	if _, err := accountSID(s); err != nil {
		return err
	}
	if sid, ok := s.String(FieldKeySID); ok && !keySIDPattern.MatchString(sid) {
		return fieldErr(FieldKeySID, `must be an API key SID ("SK" and 32 hex digits)`, rotator.ErrInvalidField)
	}
	if s.Has(FieldKeySecret) {
		if _, ok := s.String(FieldKeySID); !ok {
			return fieldErr(FieldKeySID, "is missing: the key's SID is its basic-auth user", rotator.ErrMissingField)
		}
	}
	if !s.Has(FieldAdminARN) {
		return fieldErr(FieldAdminARN, "is missing: a Standard API key cannot manage API keys; name a secret holding the account's auth_token or a Main key", rotator.ErrMissingField)
	}
	return nil
}

// ValidateAdmin checks that the admin secret holds a credential of the
// same account.
func (e *Engine) ValidateAdmin(admin, account *rotator.Secret) error {
	asid, err := accountSID(admin)
	if err != nil {
		return err
	}
	sid, err := accountSID(account)
	if err != nil {
		return err
	}
	if asid != sid {
		return fmt.Errorf("%w: field %q names another Twilio account than the rotated secret's", rotator.ErrNotAllowed, FieldAccountSID)
	}
	_, _, err = adminAuth(admin)
	return err
}

// adminAuth returns the admin secret's basic-auth user and password: a
// Main key's SID and secret, else the Account SID and auth token.
func adminAuth(admin *rotator.Secret) (user, pass string, err error) {
	if sec, ok := admin.String(FieldKeySecret); ok {
		sid, ok := admin.String(FieldKeySID)
		if !ok || !keySIDPattern.MatchString(sid) {
			return "", "", fieldErr(FieldKeySID, `must be the Main key's SID ("SK" and 32 hex digits)`, rotator.ErrInvalidField)
		}
		return sid, sec, nil
	}
	if tok, ok := admin.String(FieldAuthToken); ok {
		sid, err := accountSID(admin)
		if err != nil {
			return "", "", err
		}
		return sid, tok, nil
	}
	return "", "", fieldErr(FieldAuthToken, `is missing: the admin secret holds the account's "auth_token" or a Main key ("api_key_sid", "api_key_secret")`, rotator.ErrMissingField)
}

func basic(user, pass string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return h
}

// managing returns the account SID and the admin's auth header.
func managing(admin, account *rotator.Secret) (sid string, h http.Header, secrets []string, err error) {
	if sid, err = accountSID(account); err != nil {
		return "", nil, nil, err
	}
	user, pass, err := adminAuth(admin)
	if err != nil {
		return "", nil, nil, fmt.Errorf("admin secret: %w", err)
	}
	return sid, basic(user, pass), []string{pass}, nil
}

// newKey is the answer to a create (IAM v1's and 2010-04-01's alike).
type newKey struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	DateCreated  string `json:"date_created"`
	Secret       string `json:"secret"`
}

// CreateKey makes a Standard key named req.Name with IAM v1 (or the
// 2010-04-01 API, WithCreateVia2010).
func (e *Engine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	sid, h, secrets, err := managing(req.Admin, req.Account)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	if len(req.Name) > MaxNameLength {
		return rotator.CreateKeyResponse{}, fmt.Errorf("twilio: key name of %d bytes is longer than the %d Twilio accepts", len(req.Name), MaxNameLength)
	}
	form := url.Values{"AccountSid": {sid}, "FriendlyName": {req.Name}}
	client, path := e.iam, "/v1/Keys"
	if e.via2010 {
		form.Del("AccountSid") // in the path instead
		client, path = e.api, "/2010-04-01/Accounts/"+httpapi.PathEscape(sid)+"/Keys.json"
	}
	var out newKey
	_, err = client.JSON(ctx, httpapi.Request{
		Op: "create key", Method: http.MethodPost, Path: path, Header: h,
		Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded",
		Secrets: secrets,
	}, &out)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	if !keySIDPattern.MatchString(out.SID) {
		// A key we cannot name must not be handed on; nothing to revoke
		// without a SID either.
		return rotator.CreateKeyResponse{}, fmt.Errorf("twilio: create key: %w: no API key SID in the answer", httpapi.ErrBadResponse)
	}
	return rotator.CreateKeyResponse{ID: out.SID, Value: out.Secret, Created: parseDate(out.DateCreated)}, nil
}

// TestKey reads the account's balance with the key itself.
func (e *Engine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	sid, err := accountSID(req.Key)
	if err != nil {
		return err
	}
	keySID, err := req.Key.Require(FieldKeySID)
	if err != nil {
		return err
	}
	secret, err := req.Key.Require(FieldKeySecret)
	if err != nil {
		return err
	}
	_, err = e.api.Do(ctx, httpapi.Request{
		Op: "test key", Method: http.MethodGet, Idempotent: true,
		Path:   "/2010-04-01/Accounts/" + httpapi.PathEscape(sid) + "/Balance.json",
		Header: basic(keySID, secret), Secrets: []string{secret},
	})
	return err
}

// RevokeKey deletes a key; one already gone is success.
func (e *Engine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	sid, h, secrets, err := managing(req.Admin, req.Account)
	if err != nil {
		return err
	}
	if !keySIDPattern.MatchString(req.ID) {
		return fmt.Errorf("twilio: revoke key: %q is not an API key SID", req.ID)
	}
	_, err = e.api.Do(ctx, httpapi.Request{
		Op: "revoke key", Method: http.MethodDelete, Idempotent: true,
		Path:   "/2010-04-01/Accounts/" + httpapi.PathEscape(sid) + "/Keys/" + httpapi.PathEscape(req.ID) + ".json",
		Header: h, Secrets: secrets,
	})
	return httpapi.Gone(err)
}

// keyPage is a page of the 2010-04-01 key list.
type keyPage struct {
	Keys []struct {
		SID          string `json:"sid"`
		FriendlyName string `json:"friendly_name"`
		DateCreated  string `json:"date_created"`
	} `json:"keys"`
	NextPageURI *string `json:"next_page_uri"`
}

// ListKeys lists every key of the account (Twilio filters nothing by
// name: the prefix is applied here), following next_page_uri within the
// same list.
func (e *Engine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	sid, h, secrets, err := managing(req.Admin, req.Account)
	if err != nil {
		return nil, err
	}
	path := "/2010-04-01/Accounts/" + httpapi.PathEscape(sid) + "/Keys.json"
	query := url.Values{"PageSize": {fmt.Sprint(pageSize)}}
	var keys []rotator.VendorKey
	for page := 0; ; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("twilio: list keys: more than %d pages", maxPages)
		}
		var out keyPage
		if _, err := e.api.JSON(ctx, httpapi.Request{
			Op: "list keys", Method: http.MethodGet, Path: path, Query: query,
			Header: h, Secrets: secrets, Idempotent: true,
		}, &out); err != nil {
			return nil, err
		}
		for _, k := range out.Keys {
			if req.NamePrefix != "" && !strings.HasPrefix(k.FriendlyName, req.NamePrefix) {
				continue
			}
			keys = append(keys, rotator.VendorKey{ID: k.SID, Name: k.FriendlyName, Created: parseDate(k.DateCreated), Active: true})
		}
		if out.NextPageURI == nil || *out.NextPageURI == "" {
			return keys, nil
		}
		next, err := url.Parse(*out.NextPageURI)
		// The next page must be the same list on the same host: a
		// next_page_uri elsewhere would carry the admin credential there.
		if err != nil || next.Scheme != "" || next.Host != "" || next.Path != path {
			return nil, fmt.Errorf("twilio: list keys: %w: next_page_uri is not a page of the same list", httpapi.ErrBadResponse)
		}
		query = next.Query()
	}
}

// parseDate reads Twilio's RFC 2822 dates (zero when absent or odd).
func parseDate(s string) time.Time {
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
