package okta_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/okta"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

var (
	_ dualkey.Engine    = (*okta.Engine)(nil)
	_ dualkey.Activator = (*okta.Engine)(nil)
)

// The behaviour suite: full rotations through rotatortest with the
// dual-key strategy against the stateful fake (which refuses a third
// secret, deleting an active one, and deactivating the last active one).
func TestBehaviour(t *testing.T) {
	keytest.Run(t, func(t testing.TB) keytest.Vendor { return newFake(t) })
}

// At Okta's cap of two secrets, every rotation frees the slot first:
// AWSPREVIOUS's secret is deactivated, then deleted, before the new one
// is created (INACTIVE) and then activated; AWSCURRENT's secret is never
// deactivated.
func TestTwoSecretCap(t *testing.T) {
	f := newFake(t)
	sm := rotatortest.NewServer()
	t.Cleanup(sm.Close)
	adminARN := sm.MustCreateSecret(t, "okta/admin", f.NewAdmin(t))
	doc, _ := f.NewSecret(t, adminARN)
	arn := sm.MustCreateSecret(t, "app/okta", doc)
	s, err := dualkey.New(f.Engine(t))
	if err != nil {
		t.Fatal(err)
	}
	logs := &rotatortest.LogBuffer{}
	h, err := rotator.New(sm.Client(), s, rotator.WithLogger(logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	idAt := func(stage string) string {
		ver := sm.VersionOf(arn, stage)
		if ver == "" {
			return ""
		}
		raw, _ := sm.ValueOf(arn, ver)
		v, _ := keytest.Secret(t, raw).String(okta.FieldClientSecretID)
		return v
	}
	for i := range 4 {
		prev, cur := idAt("AWSPREVIOUS"), idAt("AWSCURRENT")
		n := len(f.calls())
		if out, _ := rotatortest.Rotate(t, sm, arn, h.Handle); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i+1, out.Err)
		}
		calls := f.calls()[n:]
		create := slices.Index(calls, "create")
		if create < 0 {
			t.Fatalf("rotation %d made no secret: %v", i+1, calls)
		}
		if prev != "" {
			de, del := slices.Index(calls, "deactivate "+prev), slices.Index(calls, "delete "+prev)
			if de < 0 || del < de || create < del {
				t.Fatalf("rotation %d: want deactivate, delete of the previous secret, then create: %v", i+1, calls)
			}
		}
		if slices.Contains(calls, "deactivate "+cur) {
			t.Fatalf("rotation %d deactivated AWSCURRENT's secret: %v", i+1, calls)
		}
		if act := slices.Index(calls, "activate "+idAt("AWSCURRENT")); act < create {
			t.Fatalf("rotation %d: the new secret was not activated after its creation: %v", i+1, calls)
		}
		live := 0
		for _, k := range keytest.Live(f) {
			if !strings.HasPrefix(k.Name, "admin") {
				live++
			}
		}
		if live > okta.MaxSecrets {
			t.Fatalf("rotation %d: %d secrets", i+1, live)
		}
	}
	var values []string
	for _, k := range f.Keys() {
		values = append(values, k.Value)
	}
	rotatortest.AssertNoSecrets(t, "the logs", logs.String(), values...)
}

// An org URL elsewhere than Okta (or an allowed custom domain) is refused
// with the field named, before any request.
func TestHostileOrgURL(t *testing.T) {
	f := newFake(t)
	e := f.engine(t)
	for _, u := range []string{
		"http://acme.okta.com", "https://evil.example", "https://acme.okta.com.evil.example",
		"https://evil.example/.okta.com", "https://acme.okta.com@evil.example", "https://acme.okta.com/api/v1",
		"https://acme.okta.com:8443", "https://a.b.okta.com", "https://okta.com", "https://.okta.com",
		"https://acme.okta.com?x=1", "acme.okta.com", "https://login.acme.example",
	} {
		acct := keytest.Secret(t, `{"org_url":"`+u+`","client_id":"0oa1","client_secret":"s","adminarn":"a"}`)
		var fe *rotator.FieldError
		if err := e.Validate(acct); !errors.As(err, &fe) || fe.Field != okta.FieldOrgURL {
			t.Errorf("org_url %q: Validate gave %v", u, err)
		}
		n := len(f.calls())
		admin := keytest.Secret(t, `{"org_url":"`+u+`","api_token":"t"}`)
		if _, err := e.ListKeys(context.Background(), rotator.ListKeysRequest{Admin: admin, Account: acct}); !errors.As(err, &fe) {
			t.Errorf("org_url %q: ListKeys gave %v", u, err)
		}
		if err := e.TestKey(context.Background(), rotator.TestKeyRequest{Key: acct}); !errors.As(err, &fe) {
			t.Errorf("org_url %q: TestKey gave %v", u, err)
		}
		if len(f.calls()) != n {
			t.Errorf("org_url %q: a request was sent", u)
		}
	}
	for _, u := range []string{"https://dev-123.okta.com", "https://ACME.oktapreview.com/", "https://acme.okta-emea.com"} {
		if err := e.Validate(keytest.Secret(t, `{"org_url":"`+u+`","client_id":"0oa1","adminarn":"a"}`)); err != nil {
			t.Errorf("org_url %q refused: %v", u, err)
		}
	}
	custom, _ := okta.New(okta.WithAllowedHosts("login.acme.example"))
	if err := custom.Validate(keytest.Secret(t, `{"org_url":"https://login.acme.example","client_id":"0oa1","adminarn":"a"}`)); err != nil {
		t.Errorf("allowed custom domain refused: %v", err)
	}
	t.Setenv(okta.EnvAllowedHosts, " id.acme.example ,")
	env, _ := okta.NewFromEnv()
	if err := env.Validate(keytest.Secret(t, `{"org_url":"https://id.acme.example","client_id":"0oa1","adminarn":"a"}`)); err != nil {
		t.Errorf("custom domain from %s refused: %v", okta.EnvAllowedHosts, err)
	}
}

// The other fields: client id, auth method, adminarn; an admin secret of
// another org or without a token.
func TestValidateFields(t *testing.T) {
	e, _ := okta.New()
	org := `"org_url":"https://acme.okta.com"`
	for _, tt := range []struct{ doc, field string }{
		{`{` + org + `,"adminarn":"a"}`, okta.FieldClientID},
		{`{` + org + `,"client_id":"0oa1"}`, okta.FieldAdminARN},
		{`{` + org + `,"client_id":"0oa1","adminarn":"a","token_endpoint_auth_method":"private_key_jwt"}`, okta.FieldAuthMethod},
	} {
		var fe *rotator.FieldError
		if err := e.Validate(keytest.Secret(t, tt.doc)); !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: got %v, want field %q", tt.doc, err, tt.field)
		}
	}
	acct := keytest.Secret(t, `{`+org+`,"client_id":"0oa1","adminarn":"a"}`)
	if err := e.ValidateAdmin(keytest.Secret(t, `{"org_url":"https://other.okta.com","api_token":"t"}`), acct); !errors.Is(err, rotator.ErrNotAllowed) {
		t.Errorf("admin of another org: %v", err)
	}
	var fe *rotator.FieldError
	if err := e.ValidateAdmin(keytest.Secret(t, `{`+org+`}`), acct); !errors.As(err, &fe) || fe.Field != okta.FieldAPIToken {
		t.Errorf("admin without token: %v", err)
	}
	if err := e.ValidateAdmin(keytest.Secret(t, `{`+org+`,"access_token":"t"}`), acct); err != nil {
		t.Errorf("admin with an access token: %v", err)
	}
}

// The test call: client_secret_basic and client_secret_post both
// authenticate an active secret; an inactive or unknown one is
// ErrLoginFailed, with no secret in the error or any URL.
func TestIntrospectionTest(t *testing.T) {
	f := newFake(t)
	e := f.engine(t)
	ctx := context.Background()
	doc, hand := f.NewSecret(t, "arn")
	acct := keytest.Secret(t, doc)
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: acct}); err != nil {
		t.Fatalf("basic: %v", err)
	}
	post := acct.Clone()
	post.SetString(okta.FieldAuthMethod, "client_secret_post")
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: post}); err != nil {
		t.Fatalf("post: %v", err)
	}
	admin := keytest.Secret(t, f.NewAdmin(t))
	key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct})
	if err != nil {
		t.Fatal(err)
	}
	pending := acct.Clone()
	pending.SetString(okta.FieldClientSecret, key.Value)
	err = e.TestKey(ctx, rotator.TestKeyRequest{Key: pending})
	if !errors.Is(err, rotator.ErrLoginFailed) {
		t.Fatalf("inactive secret: %v, want ErrLoginFailed", err)
	}
	rotatortest.AssertNoSecrets(t, "the error", err.Error(), key.Value, hand.Value)
	if err := e.ActivateKey(ctx, rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: pending}); err != nil {
		t.Fatalf("activated secret: %v", err)
	}
	// A third secret is refused by Okta: the error names the call and
	// Okta's reason.
	_, err = e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct})
	if err == nil || !strings.Contains(err.Error(), "okta: create client secret") || !strings.Contains(err.Error(), "400") {
		t.Fatalf("third secret: %v", err)
	}
	// Deleting without deactivating fails; deactivating then deleting
	// works, and twice is success.
	req := rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}
	if err := e.RevokeKey(ctx, req); err == nil {
		t.Fatal("an active secret was deleted")
	}
	for range 2 {
		if err := e.DeactivateKey(ctx, req); err != nil {
			t.Fatal(err)
		}
		if err := e.RevokeKey(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range f.urls {
		rotatortest.AssertNoSecrets(t, "a request URL", u, key.Value, hand.Value)
	}
}

// README: two secrets at most, found by recorded ids, activated once
// stored.
func TestCapabilities(t *testing.T) {
	e, _ := okta.New()
	c := e.Capabilities()
	if c.MaxKeys != 2 || c.Finding != rotator.FindByRecordedID || !c.NeedsActivation || c.ValueField != "client_secret" || c.IDField != "client_secret_id" || c.RollsInPlace {
		t.Fatalf("capabilities: %+v", c)
	}
	if _, err := dualkey.New(e); err != nil {
		t.Fatal(err)
	}
}
