package datadog_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/datadog"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

var _ dualkey.Engine = (*datadog.Engine)(nil)

// The behaviour suite for both key types: full rotations through
// rotatortest with the dual-key strategy against the stateful fake.
func TestBehaviour(t *testing.T) {
	for _, kt := range []string{datadog.KeyTypeAPI, datadog.KeyTypeApplication} {
		t.Run(kt, func(t *testing.T) {
			keytest.Run(t, func(t testing.TB) keytest.Vendor { return newFake(t, kt) })
		})
	}
}

// A site outside Datadog's is refused with the field named, by Validate
// and by every call, before any request: the admin's keys never go to a
// host a secret's writer chose.
func TestHostileSite(t *testing.T) {
	f := newFake(t, datadog.KeyTypeAPI)
	e := f.engine(t)
	for _, site := range []string{"evil.example", "datadoghq.com.evil.example", "evil.example/datadoghq.com", "api.datadoghq.com@evil.example", "127.0.0.1", "datadoghq.com:8443", ""} {
		acct := keytest.Secret(t, `{"api_key":"k","application_key":"a","site":`+quote(site)+`}`)
		var fe *rotator.FieldError
		if err := e.Validate(acct); !errors.As(err, &fe) || fe.Field != "site" {
			t.Errorf("site %q: Validate gave %v, want a FieldError naming \"site\"", site, err)
		}
		n := len(f.urls)
		_, err := e.ListKeys(context.Background(), rotator.ListKeysRequest{Admin: acct, Account: acct})
		if !errors.As(err, &fe) || fe.Field != "site" {
			t.Errorf("site %q: ListKeys gave %v", site, err)
		}
		if err := e.TestKey(context.Background(), rotator.TestKeyRequest{Key: acct}); !errors.As(err, &fe) {
			t.Errorf("site %q: TestKey gave %v", site, err)
		}
		if len(f.urls) != n {
			t.Errorf("site %q: a request was sent", site)
		}
	}
	for _, site := range datadog.Sites {
		if err := e.Validate(keytest.Secret(t, `{"api_key":"k","site":"`+strings.ToUpper(site)+`"}`)); err != nil {
			t.Errorf("site %q refused: %v", site, err)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

// The admin secret must be for the same site; application keys take no
// admin secret at all.
func TestValidateAdmin(t *testing.T) {
	e, _ := datadog.New()
	acct := keytest.Secret(t, `{"api_key":"k","site":"datadoghq.eu"}`)
	if err := e.ValidateAdmin(keytest.Secret(t, `{"api_key":"a","application_key":"b"}`), acct); !errors.Is(err, rotator.ErrNotAllowed) {
		t.Fatalf("admin for another site: %v", err)
	}
	if err := e.ValidateAdmin(keytest.Secret(t, `{"api_key":"a","site":"datadoghq.eu"}`), acct); err == nil || !strings.Contains(err.Error(), "application_key") {
		t.Fatalf("admin without application key: %v", err)
	}
	if err := e.ValidateAdmin(keytest.Secret(t, `{"api_key":"a","application_key":"b","site":"datadoghq.eu"}`), acct); err != nil {
		t.Fatal(err)
	}
	app, _ := datadog.New(datadog.WithKeyType(datadog.KeyTypeApplication))
	if err := app.ValidateAdmin(keytest.Secret(t, `{"api_key":"a","application_key":"b","site":"datadoghq.eu"}`), acct); !errors.Is(err, rotator.ErrNotAllowed) {
		t.Fatalf("admin for application keys: %v", err)
	}
	if _, err := datadog.New(datadog.WithKeyType("both")); err == nil {
		t.Fatal("unknown key type accepted")
	}
	t.Setenv(datadog.EnvKeyType, "applications")
	if _, err := datadog.NewFromEnv(); err == nil || !strings.Contains(err.Error(), datadog.EnvKeyType) {
		t.Fatalf("NewFromEnv with a bad key type: %v", err)
	}
}

// A rotated application key keeps the current key's scopes (an unscoped
// key would have all of its user's permissions), and the key value
// travels only in headers.
func TestApplicationKeyKeepsScopes(t *testing.T) {
	f := newFake(t, datadog.KeyTypeApplication)
	e := f.engine(t)
	doc, hand := f.NewSecret(t, "")
	acct := keytest.Secret(t, doc)
	key, err := e.CreateKey(context.Background(), rotator.CreateKeyRequest{Admin: acct, Account: acct, Name: "rotator-abc-1"})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got := live(f.app, key.Value)
	f.mu.Unlock()
	if got == nil || got.scopes == nil || !slices.Equal(*got.scopes, []string{"dashboards_read", "user_app_keys"}) || got.user != "app-user" {
		t.Fatalf("new key: %+v", got)
	}
	pending := acct.Clone()
	pending.SetString(datadog.FieldApplicationKey, key.Value)
	pending.SetString(datadog.FieldApplicationKeyID, key.ID)
	if err := e.TestKey(context.Background(), rotator.TestKeyRequest{Key: pending}); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeKey(context.Background(), rotator.KeyRequest{Admin: acct, Account: acct, ID: key.ID}); err != nil {
		t.Fatal(err)
	}
	err = e.TestKey(context.Background(), rotator.TestKeyRequest{Key: pending})
	if !errors.Is(err, rotator.ErrLoginFailed) {
		t.Fatalf("revoked key: %v, want ErrLoginFailed", err)
	}
	for _, u := range f.urls {
		rotatortest.AssertNoSecrets(t, "a request URL", u, key.Value, hand.Value)
	}
	// Without the current key's id there is nothing to copy scopes from.
	noID := acct.Clone()
	noID.Delete(datadog.FieldApplicationKeyID)
	var fe *rotator.FieldError
	if _, err := e.CreateKey(context.Background(), rotator.CreateKeyRequest{Admin: noID, Account: noID, Name: "x"}); !errors.As(err, &fe) || fe.Field != datadog.FieldApplicationKeyID {
		t.Fatalf("create without the current id: %v", err)
	}
}

// An API key: a revoked key fails /api/v1/validate (403) as
// ErrLoginFailed; without an application key the managing credential is
// named in the error; list filters by name across pages.
func TestAPIKeyCalls(t *testing.T) {
	f := newFake(t, datadog.KeyTypeAPI)
	e := f.engine(t)
	ctx := context.Background()
	doc, hand := f.NewSecret(t, "")
	acct := keytest.Secret(t, doc)
	var ids []string
	for range 205 {
		f.mu.Lock()
		ids = append(ids, f.issueAPI("rotator-many-"+keytest.RandomHex(2)).ID)
		f.mu.Unlock()
	}
	keys, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: acct, Account: acct, NamePrefix: "rotator-many-"})
	if err != nil || len(keys) != len(ids) {
		t.Fatalf("listed %d keys (%v), want %d over 3 pages", len(keys), err, len(ids))
	}
	dead := acct.Clone()
	dead.SetString(datadog.FieldAPIKey, "not-a-key")
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: dead}); !errors.Is(err, rotator.ErrLoginFailed) || !strings.Contains(err.Error(), "/api/v1/validate") {
		t.Fatalf("unknown key: %v", err)
	}
	noApp := acct.Clone()
	noApp.Delete(datadog.FieldApplicationKey)
	if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: noApp, Account: noApp}); err == nil || !strings.Contains(err.Error(), "application_key") {
		t.Fatalf("no application key: %v", err)
	}
	for _, u := range f.urls {
		rotatortest.AssertNoSecrets(t, "a request URL", u, hand.Value)
	}
}

// README: the fields of each key type; keys found by name; no limit.
func TestCapabilities(t *testing.T) {
	for kt, fields := range map[string][2]string{
		datadog.KeyTypeAPI:         {"api_key", "api_key_id"},
		datadog.KeyTypeApplication: {"application_key", "application_key_id"},
	} {
		e, _ := datadog.New(datadog.WithKeyType(kt))
		c := e.Capabilities()
		if c.ValueField != fields[0] || c.IDField != fields[1] || c.Finding != rotator.FindByName || c.MaxKeys != 0 || c.NeedsActivation {
			t.Fatalf("%s: capabilities %+v", kt, c)
		}
		if _, err := dualkey.New(e); err != nil {
			t.Fatal(err)
		}
	}
}
