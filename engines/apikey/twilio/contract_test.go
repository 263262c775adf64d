package twilio_test

import (
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/twilio"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/prismtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Every request the engine sends, alone and in a whole rotation, is
// valid against Twilio's own OpenAPI descriptions (IAM v1 for the
// create, 2010-04-01 for list, delete and the Balance test; Prism
// validates), with the auth token and with a Main key as the admin.
func TestTwilioContract(t *testing.T) {
	srv := prismtest.Start(t, "twilio-iam-keys.json", "twilio-api-keys.json", "twilio-balance.json")
	e, err := twilio.New(twilio.WithBaseURLs(srv.URL, srv.URL), twilio.WithRootCAs(srv.CAs))
	if err != nil {
		t.Fatal(err)
	}
	e2010, err := twilio.New(twilio.WithBaseURLs(srv.URL, srv.URL), twilio.WithRootCAs(srv.CAs), twilio.WithCreateVia2010())
	if err != nil {
		t.Fatal(err)
	}
	// The current key is the one Twilio's example list holds: the strategy
	// checks that the admin's account holds it before creating anything.
	ac, sk := "AC"+strings.Repeat("0123456789abcdef", 2), "SK"+strings.Repeat("a", 32)
	doc := `{"account_sid":"` + ac + `","api_key_sid":"` + sk + `","api_key_secret":"contract-test-secret","adminarn":"ADMIN"}`
	acct := keytest.Secret(t, doc)
	ctx := t.Context()
	for _, adminDoc := range []string{
		`{"account_sid":"` + ac + `","auth_token":"contract-test-token"}`,
		`{"account_sid":"` + ac + `","api_key_sid":"SK` + strings.Repeat("1", 32) + `","api_key_secret":"contract-main-secret"}`,
	} {
		admin := keytest.Secret(t, adminDoc)
		key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct, Name: "rotator-0123456789ab-token"})
		if err != nil || key.ID == "" || key.Value == "" {
			t.Fatalf("create: %q %v", key.ID, err)
		}
		if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: acct, NamePrefix: "rotator-"}); err != nil {
			t.Fatalf("list: %v", err)
		}
		if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: acct}); err != nil {
			t.Fatalf("test: %v", err)
		}
		if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if key, err := e2010.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct, Name: "rotator-0123456789ab-token"}); err != nil || key.ID == "" || key.Value == "" {
			t.Fatalf("create via 2010-04-01: %q %v", key.ID, err)
		}
	}

	// A whole rotation through the strategy and the real handler.
	sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
	t.Cleanup(sm.Close)
	adminARN := sm.MustCreateSecret(t, "twilio/admin", `{"account_sid":"`+ac+`","auth_token":"contract-test-token"}`)
	arn := sm.MustCreateSecret(t, "app/twilio", strings.Replace(doc, "ADMIN", adminARN, 1))
	logs := &rotatortest.LogBuffer{}
	h := keytest.Handler(t, sm, e, logs)
	if out, _ := rotatortest.Rotate(t, sm, arn, h.Handle); !out.Succeeded {
		t.Fatalf("rotation against the mock: %v", out.Err)
	}
	rotatortest.AssertNoSecrets(t, "the logs", logs.String(), "contract-test-secret", "contract-test-token", "contract-main-secret")
	srv.AssertValid(t)
	srv.AssertSent(t, 0,
		"POST /v1/Keys",
		"POST /2010-04-01/Accounts/"+ac+"/Keys.json",
		"GET /2010-04-01/Accounts/"+ac+"/Keys.json",
		"DELETE /2010-04-01/Accounts/"+ac+"/Keys/"+"SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json",
		"GET /2010-04-01/Accounts/"+ac+"/Balance.json",
	)
}
