package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The command line knows the Twilio, Datadog and Okta functions: a
// preflight of a secret whose field points elsewhere (another host, a
// path in an id) fails naming the field, a dry run stops at createSecret
// with the same words, no request reaches the host the field names, and
// the admin's token never appears in the output.
func TestVendorFunctionsRefuseHostileFields(t *testing.T) {
	cleanEnv(t)
	var hits atomic.Int32
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer evil.Close()
	const token = "admin-token-never-printed-0123456789"
	srv := newSM(t)
	for _, tt := range []struct {
		function, field, admin, app string
	}{
		{"okta-client-secret", "org_url",
			`{"org_url":"` + evil.URL + `","api_token":"` + token + `"}`,
			`{"org_url":"` + evil.URL + `","client_id":"0oa1","client_secret":"s3cr3t-value-xyz","client_secret_id":"ocs1","adminarn":"ADMIN"}`},
		{"datadog-api-key", "site",
			`{"site":"evil.example","api_key":"` + token + `","application_key":"` + token + `"}`,
			`{"site":"evil.example","api_key":"s3cr3t-value-xyz","api_key_id":"k1","adminarn":"ADMIN"}`},
		{"twilio-api-key", "account_sid",
			`{"account_sid":"../../evil","auth_token":"` + token + `"}`,
			`{"account_sid":"../../evil","api_key_sid":"SK` + strings.Repeat("a", 32) + `","api_key_secret":"s3cr3t-value-xyz","adminarn":"ADMIN"}`},
	} {
		t.Run(tt.function, func(t *testing.T) {
			adminARN := srv.MustCreateSecret(t, "vendor/admin-"+tt.function, tt.admin)
			arn := srv.MustCreateSecret(t, "app/"+tt.function, strings.Replace(tt.app, "ADMIN", adminARN, 1))
			code, out, errOut := cliRun(t, "preflight", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", tt.function)
			if code != exitFailed || !strings.Contains(out+errOut, tt.field) {
				t.Fatalf("preflight: exit %d, want %d and the field %q named:\n%s%s", code, exitFailed, tt.field, out, errOut)
			}
			noSecrets(t, out+errOut, token, "s3cr3t-value-xyz")
			code, out, errOut = cliRun(t, "rotate", "--dry-run", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", tt.function)
			if code != exitFailed || !strings.Contains(out+errOut, tt.field) {
				t.Fatalf("dry run: exit %d, want %d and the field %q named:\n%s%s", code, exitFailed, tt.field, out, errOut)
			}
			noSecrets(t, out+errOut, token, "s3cr3t-value-xyz")
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the host a secret named", n)
	}
}
