package sendgrid_test

import (
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/sendgrid"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/prismtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Every request the engine sends, alone and in a whole rotation, is
// valid against SendGrid's own OpenAPI description (Prism validates).
func TestSendGridContract(t *testing.T) {
	srv := prismtest.Start(t, "sendgrid-api-keys.json", "sendgrid-scopes.json")
	e, err := sendgrid.New(sendgrid.WithBaseURL(srv.URL), sendgrid.WithRootCAs(srv.CAs))
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"api_key":"SG.contract-test-key","key_id":"abc123","scopes":["mail.send"],"on_behalf_of":"subuser1"}`
	s := keytest.Secret(t, doc)
	ctx := t.Context()
	key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: s, Account: s, Name: "rotator-0123456789ab-token"})
	if err != nil || key.ID == "" || key.Value == "" {
		t.Fatalf("create: %+v %v", key.ID, err)
	}
	if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: s, Account: s}); err != nil {
		t.Fatalf("list: %v", err)
	}
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: s}); err != nil {
		t.Fatalf("test: %v", err)
	}
	if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: s, Account: s, ID: key.ID}); err != nil {
		t.Fatalf("revoke: %v", err)
	}

	// A whole rotation through the strategy and the real handler.
	sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
	t.Cleanup(sm.Close)
	arn := sm.MustCreateSecret(t, "app/sendgrid", doc)
	logs := &rotatortest.LogBuffer{}
	h := keytest.Handler(t, sm, e, logs)
	if out, _ := rotatortest.Rotate(t, sm, arn, h.Handle); !out.Succeeded {
		t.Fatalf("rotation against the mock: %v", out.Err)
	}
	rotatortest.AssertNoSecrets(t, "the logs", logs.String(), "SG.contract-test-key", key.Value)
	srv.AssertValid(t)
	srv.AssertSent(t, 0, "POST /v3/api_keys", "GET /v3/api_keys", "GET /v3/scopes")
}
