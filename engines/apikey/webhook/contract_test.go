package webhook_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/prismtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Every request the engine sends, in each credential mode and in a whole
// rotation, is valid against the contract's own OpenAPI description
// (openapi.json, which doc.go and README describe).
func TestWebhookContract(t *testing.T) {
	spec, err := filepath.Abs("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := prismtest.Start(t, spec)
	e := webhook.New(webhook.WithRootCAs(srv.CAs))
	ep := srv.URL
	self, _ := rotator.ParseSecret(fmt.Sprintf(`{"api_key":"sk_current","key_id":"key_0","endpoint":%q}`, ep))
	hmacAdmin, _ := rotator.ParseSecret(fmt.Sprintf(`{"endpoint":%q,"signing_secret":"whsec"}`, ep))
	bearerAdmin, _ := rotator.ParseSecret(fmt.Sprintf(`{"endpoint":%q,"bearer_token":"tok"}`, ep))
	ctx := t.Context()
	for _, admin := range []*rotator.Secret{self, hmacAdmin, bearerAdmin} {
		k, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: self, Name: "rotator-0123456789ab-token"})
		if err != nil || k.ID == "" || k.Value == "" {
			t.Fatalf("create: %v", err)
		}
		if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: self}); err != nil {
			t.Fatalf("list: %v", err)
		}
		if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: admin, Account: self, ID: k.ID}); err != nil {
			t.Fatalf("revoke: %v", err)
		}
	}
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: self}); err != nil {
		t.Fatalf("test: %v", err)
	}

	sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
	t.Cleanup(sm.Close)
	arn := sm.MustCreateSecret(t, "app/webhook", fmt.Sprintf(`{"api_key":"sk_current","key_id":"key_0","endpoint":%q}`, ep))
	logs := &rotatortest.LogBuffer{}
	h := keytest.Handler(t, sm, e, logs)
	// The mock's /whoami always names key_0, the mock's new key is key_1:
	// testSecret refuses it, and every request up to there is checked.
	out, _ := rotatortest.Rotate(t, sm, arn, h.Handle)
	if out.Succeeded {
		t.Fatal("a key the receiver does not name passed testSecret")
	}
	srv.AssertValid(t)
}
