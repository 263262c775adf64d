package sendgrid_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/sendgrid"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

var _ dualkey.Engine = (*sendgrid.Engine)(nil)

// The behaviour suite against the stateful fake.
func TestSendGridBehaviour(t *testing.T) {
	keytest.Run(t, func(t testing.TB) keytest.Vendor { return newFake(t) })
}

func TestValidate(t *testing.T) {
	e, err := sendgrid.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		doc, field string
	}{
		{`{"api_key":"SG.x"}`, "scopes"},
		{`{"api_key":"SG.x","scopes":[]}`, "scopes"},
		{`{"api_key":"SG.x","scopes":"mail.send"}`, "scopes"},
		{`{"api_key":"SG.x","scopes":["mail.send"],"region":"mars"}`, "region"},
		{`{"api_key":"SG.x","scopes":["mail.send"],"on_behalf_of":""}`, "on_behalf_of"},
	} {
		s, _ := rotator.ParseSecret(tt.doc)
		err := e.Validate(s)
		var fe *rotator.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: want an error naming %q, got %v", tt.doc, tt.field, err)
		}
	}
	ok, _ := rotator.ParseSecret(`{"api_key":"SG.x","scopes":["mail.send"],"region":"EU"}`)
	if err := e.Validate(ok); err != nil {
		t.Errorf("valid secret refused: %v", err)
	}
}

// An admin secret for another region is refused: the admin key would be
// sent to a host the rotated secret does not use.
func TestAdminForAnotherRegion(t *testing.T) {
	e, _ := sendgrid.New()
	admin, _ := rotator.ParseSecret(`{"api_key":"SG.admin","region":"eu"}`)
	app, _ := rotator.ParseSecret(`{"api_key":"SG.app","scopes":["mail.send"]}`)
	if err := e.ValidateAdmin(admin, app); !errors.Is(err, rotator.ErrNotAllowed) || !strings.Contains(err.Error(), "region") {
		t.Fatalf("want ErrNotAllowed naming the region, got %v", err)
	}
}

// A key that lacks the api_keys scopes gets SendGrid's 403, named.
func TestMissingScopeIsNamed(t *testing.T) {
	f := newFake(t)
	e := f.Engine(t)
	k := f.HandMade(t) // mail.send only
	s, _ := rotator.ParseSecret(`{"api_key":"` + k.Value + `","scopes":["mail.send"]}`)
	_, err := e.CreateKey(t.Context(), rotator.CreateKeyRequest{Admin: s, Account: s, Name: "rotator-x"})
	if !errors.Is(err, rotator.ErrPermission) || !strings.Contains(err.Error(), "sendgrid: create key: POST /v3/api_keys: status 403") {
		t.Fatalf("want a 403 naming the call, got %v", err)
	}
	if strings.Contains(err.Error(), k.Value) {
		t.Fatal("the key is in the error")
	}
}

// README: SendGrid's limit of 100 keys an account is respected (the
// strategy frees a slot at the limit; strategies/dualkey tests how).
func TestCapabilities(t *testing.T) {
	e, _ := sendgrid.New()
	c := e.Capabilities()
	if c.MaxKeys != 100 || c.Finding != rotator.FindByName || c.ValueField != "api_key" || c.RollsInPlace || c.NeedsActivation {
		t.Fatalf("capabilities: %+v", c)
	}
	if _, err := dualkey.New(e); err != nil {
		t.Fatal(err)
	}
}
