package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/twilio"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

var _ dualkey.Engine = (*twilio.Engine)(nil)

// The behaviour suite: full rotations through rotatortest with the
// dual-key strategy against the stateful fake.
func TestBehaviour(t *testing.T) {
	keytest.Run(t, func(t testing.TB) keytest.Vendor { return newFake(t) })
}

// Keys made with the 2010-04-01 API (TWILIO_CREATE_API=2010) rotate the
// same way.
func TestCreateVia2010(t *testing.T) {
	t.Setenv(twilio.EnvCreateAPI, "2010")
	if _, err := twilio.NewFromEnv(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(twilio.EnvCreateAPI, "v3")
	if _, err := twilio.NewFromEnv(); err == nil || !strings.Contains(err.Error(), twilio.EnvCreateAPI) {
		t.Fatalf("bad %s: %v", twilio.EnvCreateAPI, err)
	}
	f := newFake(t)
	e := f.engine(t, twilio.WithCreateVia2010())
	doc, _ := f.NewSecret(t, "arn")
	acct := keytest.Secret(t, doc)
	key, err := e.CreateKey(context.Background(), rotator.CreateKeyRequest{Admin: keytest.Secret(t, f.tokenAdmin()), Account: acct, Name: "rotator-x-1"})
	if err != nil || !f.Works(key.Value) {
		t.Fatalf("create via 2010-04-01: %v", err)
	}
	created := false
	for _, u := range f.URLs() {
		if strings.HasPrefix(u, "/v1/Keys") {
			t.Fatalf("IAM v1 used: %s", u)
		}
		created = created || strings.HasSuffix(u, "/Keys.json")
	}
	if !created {
		t.Fatal("no 2010-04-01 create")
	}
}

// Hostile or malformed fields are refused with the field named, before
// any request.
func TestValidateNamesTheField(t *testing.T) {
	e, err := twilio.New()
	if err != nil {
		t.Fatal(err)
	}
	ac := "AC" + strings.Repeat("a", 32)
	sk := "SK" + strings.Repeat("b", 32)
	for _, tt := range []struct {
		name, doc, field string
	}{
		{"missing account", `{"api_key_sid":"` + sk + `","api_key_secret":"s","adminarn":"x"}`, "account_sid"},
		{"path in account", `{"account_sid":"../../evil/` + ac + `","api_key_sid":"` + sk + `","api_key_secret":"s","adminarn":"x"}`, "account_sid"},
		{"account of a host", `{"account_sid":"evil.example.com","api_key_sid":"` + sk + `","api_key_secret":"s","adminarn":"x"}`, "account_sid"},
		{"bad key sid", `{"account_sid":"` + ac + `","api_key_sid":"SK/../../x","api_key_secret":"s","adminarn":"x"}`, "api_key_sid"},
		{"secret without sid", `{"account_sid":"` + ac + `","api_key_secret":"s","adminarn":"x"}`, "api_key_sid"},
		{"no admin", `{"account_sid":"` + ac + `","api_key_sid":"` + sk + `","api_key_secret":"s"}`, "adminarn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Validate(keytest.Secret(t, tt.doc))
			var fe *rotator.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError naming %q", err, tt.field)
			}
		})
	}
	if err := e.Validate(keytest.Secret(t, `{"account_sid":"`+ac+`","api_key_sid":"`+sk+`","api_key_secret":"s","adminarn":"x"}`)); err != nil {
		t.Fatalf("a valid secret was refused: %v", err)
	}
}

// An admin secret of another account, or without a credential, is
// refused.
func TestValidateAdmin(t *testing.T) {
	e, _ := twilio.New()
	acct := keytest.Secret(t, `{"account_sid":"AC`+strings.Repeat("a", 32)+`","adminarn":"x"}`)
	other := keytest.Secret(t, `{"account_sid":"AC`+strings.Repeat("c", 32)+`","auth_token":"t"}`)
	if err := e.ValidateAdmin(other, acct); !errors.Is(err, rotator.ErrNotAllowed) {
		t.Fatalf("admin of another account: got %v, want ErrNotAllowed", err)
	}
	none := keytest.Secret(t, `{"account_sid":"AC`+strings.Repeat("a", 32)+`"}`)
	var fe *rotator.FieldError
	if err := e.ValidateAdmin(none, acct); !errors.As(err, &fe) || fe.Field != "auth_token" {
		t.Fatalf("admin without credential: got %v", err)
	}
	ok := keytest.Secret(t, `{"account_sid":"AC`+strings.Repeat("a", 32)+`","auth_token":"t"}`)
	if err := e.ValidateAdmin(ok, acct); err != nil {
		t.Fatal(err)
	}
}

// The account's auth token manages keys as a Main key does; a revoked
// key fails its test with ErrLoginFailed; keys and tokens travel only in
// the Authorization header, never in a URL.
func TestAuthTokenAdminAndRevokedKey(t *testing.T) {
	f := newFake(t)
	e := f.engine(t)
	ctx := context.Background()
	doc, _ := f.NewSecret(t, "arn:admin")
	acct := keytest.Secret(t, doc)
	admin := keytest.Secret(t, f.tokenAdmin())
	key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct, Name: "rotator-abc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Works(key.Value) || key.Created.IsZero() {
		t.Fatalf("the new key does not work or has no date")
	}
	pending := acct.Clone()
	pending.SetString(twilio.FieldKeySID, key.ID)
	pending.SetString(twilio.FieldKeySecret, key.Value)
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: pending}); err != nil {
		t.Fatalf("test of the new key: %v", err)
	}
	keys, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: acct, NamePrefix: "rotator-"})
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID || keys[0].Name != "rotator-abc-1" {
		t.Fatalf("list with prefix: %v %+v", err, keys)
	}
	if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}); err != nil {
		t.Fatalf("revoking a key already gone: %v", err)
	}
	err = e.TestKey(ctx, rotator.TestKeyRequest{Key: pending})
	if !errors.Is(err, rotator.ErrLoginFailed) {
		t.Fatalf("test of a revoked key: got %v, want ErrLoginFailed", err)
	}
	rotatortest.AssertNoSecrets(t, "the error", err.Error(), key.Value, f.authToken)
	for _, u := range f.URLs() {
		rotatortest.AssertNoSecrets(t, "a request URL", u, key.Value, f.authToken)
	}
}

// A Standard key cannot be the admin: the vendor's 403 comes back as
// ErrPermission naming Twilio and the call.
func TestStandardKeyCannotManage(t *testing.T) {
	f := newFake(t)
	e := f.engine(t)
	doc, _ := f.NewSecret(t, "arn:admin")
	acct := keytest.Secret(t, doc)
	_, err := e.ListKeys(context.Background(), rotator.ListKeysRequest{Admin: acct, Account: acct})
	if !errors.Is(err, rotator.ErrPermission) || !strings.Contains(err.Error(), "twilio: list keys") {
		t.Fatalf("got %v", err)
	}
}

// Listing follows next_page_uri through every page, and refuses a
// next_page_uri that leaves the list (it would carry the admin
// credential elsewhere).
func TestListPages(t *testing.T) {
	f := newFake(t)
	f.maxPage = 2
	e := f.engine(t)
	admin := keytest.Secret(t, f.tokenAdmin())
	doc, _ := f.NewSecret(t, "arn:admin")
	acct := keytest.Secret(t, doc)
	for i := range 4 {
		f.mu.Lock()
		f.issue(fmt.Sprintf("rotator-x-%d", i), false)
		f.mu.Unlock()
	}
	keys, err := e.ListKeys(context.Background(), rotator.ListKeysRequest{Admin: admin, Account: acct})
	if err != nil || len(keys) != 5 {
		t.Fatalf("got %d keys, %v; want 5 over 3 pages", len(keys), err)
	}
	for _, hostile := range []string{"https://evil.example/2010-04-01/Accounts/x/Keys.json?Page=1", "/2010-04-01/Accounts/ACother/Keys.json?Page=1", "//evil.example/x"} {
		f.nextPage = hostile
		n := len(f.URLs())
		_, err := e.ListKeys(context.Background(), rotator.ListKeysRequest{Admin: admin, Account: acct})
		if err == nil || !strings.Contains(err.Error(), "next_page_uri") {
			t.Fatalf("next_page_uri %q: got %v", hostile, err)
		}
		if got := len(f.URLs()) - n; got != 1 {
			t.Fatalf("next_page_uri %q: %d requests, want 1 (the hostile page never followed)", hostile, got)
		}
	}
}

// README: keys found by their FriendlyName (64 characters at most), no
// key limit, no activation; the key's SID and secret are the fields.
func TestCapabilities(t *testing.T) {
	e, _ := twilio.New()
	c := e.Capabilities()
	if c.MaxKeys != 0 || c.Finding != rotator.FindByName || c.MaxNameLength != 64 || c.ValueField != "api_key_secret" || c.IDField != "api_key_sid" || c.RollsInPlace || c.NeedsActivation {
		t.Fatalf("capabilities: %+v", c)
	}
	if _, err := dualkey.New(e); err != nil {
		t.Fatal(err)
	}
}
