package okta_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/apikey/okta"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/prismtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Every request the engine sends, alone and in a whole rotation at the
// two-secret cap (deactivate and delete the previous secret, create,
// activate, test), is valid against Okta's own OpenAPI descriptions (the
// management API's client secrets and the OAuth introspection endpoint;
// Prism validates), with an SSWS token and a Bearer token. (The test call
// with client_secret_post is checked against the fake only: Okta's
// description declares that method as an http scheme "postBody", which
// Prism cannot check.)
func TestOktaContract(t *testing.T) {
	srv := prismtest.Start(t, "okta-client-secrets.json", "okta-introspect.json")
	u, _ := url.Parse(srv.URL)
	e, err := okta.New(okta.WithAllowedHosts(u.Host), okta.WithRootCAs(srv.CAs))
	if err != nil {
		t.Fatal(err)
	}
	const app = "0oa1gjh63g214q0Hq0g4"
	doc := func(id, adminARN string) string {
		return `{"org_url":"` + srv.URL + `","client_id":"` + app + `","client_secret":"contract-client-secret-` + id + `","client_secret_id":"` + id + `","adminarn":"` + adminARN + `"}`
	}
	acct := keytest.Secret(t, doc("ocs2f50kZB0cITmYU0g4", "arn"))
	ctx := t.Context()
	if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: acct}); err != nil {
		t.Fatalf("test: %v", err)
	}
	for _, adminDoc := range []string{
		`{"org_url":"` + srv.URL + `","api_token":"contract-api-token"}`,
		`{"org_url":"` + srv.URL + `","access_token":"contract-access-token"}`,
	} {
		admin := keytest.Secret(t, adminDoc)
		key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: admin, Account: acct})
		if err != nil || key.ID == "" || key.Value == "" {
			t.Fatalf("create: %q %v", key.ID, err)
		}
		if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: acct}); err != nil {
			t.Fatalf("list: %v", err)
		}
		req := rotator.KeyRequest{Admin: admin, Account: acct, ID: key.ID}
		for name, call := range map[string]func(context.Context, rotator.KeyRequest) error{
			"activate": e.ActivateKey, "deactivate": e.DeactivateKey, "delete": e.RevokeKey,
		} {
			if err := call(ctx, req); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}

	// A whole rotation at the cap: Okta's example app has two secrets,
	// AWSCURRENT's and AWSPREVIOUS's.
	sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
	t.Cleanup(sm.Close)
	adminARN := sm.MustCreateSecret(t, "okta/admin", `{"org_url":"`+srv.URL+`","api_token":"contract-api-token"}`)
	arn := sm.MustCreateSecret(t, "app/okta", doc("ocs2f4zrZbs8nUa7p0g4", adminARN))
	if _, err := sm.Client().PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String(doc("ocs2f50kZB0cITmYU0g4", adminARN)),
	}); err != nil {
		t.Fatal(err)
	}
	logs := &rotatortest.LogBuffer{}
	h := keytest.Handler(t, sm, e, logs)
	n := len(srv.Requests())
	if out, _ := rotatortest.Rotate(t, sm, arn, h.Handle); !out.Succeeded {
		t.Fatalf("rotation against the mock: %v", out.Err)
	}
	rotatortest.AssertNoSecrets(t, "the logs", logs.String(), "contract-api-token", "contract-client-secret-ocs2f50kZB0cITmYU0g4", "DRUFXGF9XbLn......a3x3POBiIxDreBCdZuFs5B")
	srv.AssertValid(t)
	base := "/api/v1/apps/" + app + "/credentials/secrets"
	want := []string{
		"GET " + base,
		"POST " + base + "/ocs2f4zrZbs8nUa7p0g4/lifecycle/deactivate",
		"DELETE " + base + "/ocs2f4zrZbs8nUa7p0g4",
		"POST " + base,
		"POST " + base + "/ocs2f50kZB0cITmYU0g4/lifecycle/activate",
		"POST /oauth2/v1/introspect",
	}
	got := srv.Requests()[n:]
	i := 0
	for _, r := range got {
		if i < len(want) && r == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("rotation at the cap sent %v, want in this order %v", got, want)
	}
}
