package datadog_test

import (
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/datadog"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/prismtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// Every request the engine sends, for API keys and for application keys,
// alone and in a whole rotation, is valid against Datadog's own OpenAPI
// descriptions (v2 keys, v1 validate; Prism validates).
func TestDatadogContract(t *testing.T) {
	srv := prismtest.Start(t, "datadog-keys.json", "datadog-validate.json")
	for _, tt := range []struct {
		keyType, doc string
		want         []string
	}{
		{datadog.KeyTypeAPI,
			`{"site":"datadoghq.eu","api_key":"contract-api-key","api_key_id":"00000000-0000-1234-0000-000000000000","application_key":"contract-app-key"}`,
			[]string{"POST /api/v2/api_keys", "GET /api/v2/api_keys", "GET /api/v1/validate", "DELETE /api/v2/api_keys/00000000-0000-1234-0000-000000000000"}},
		{datadog.KeyTypeApplication,
			`{"site":"us5.datadoghq.com","api_key":"contract-api-key","application_key":"contract-app-key","application_key_id":"11111111-2222-3333-4444-555555555555"}`,
			[]string{"POST /api/v2/current_user/application_keys", "GET /api/v2/current_user/application_keys", "GET /api/v2/current_user/application_keys/11111111-2222-3333-4444-555555555555", "DELETE /api/v2/current_user/application_keys/11111111-2222-3333-4444-555555555555"}},
	} {
		t.Run(tt.keyType, func(t *testing.T) {
			e, err := datadog.New(datadog.WithKeyType(tt.keyType), datadog.WithBaseURL(srv.URL), datadog.WithRootCAs(srv.CAs))
			if err != nil {
				t.Fatal(err)
			}
			s := keytest.Secret(t, tt.doc)
			ctx := t.Context()
			n := len(srv.Requests())
			key, err := e.CreateKey(ctx, rotator.CreateKeyRequest{Admin: s, Account: s, Name: "rotator-0123456789ab-token"})
			if err != nil || key.ID == "" || key.Value == "" {
				t.Fatalf("create: %q %v", key.ID, err)
			}
			if _, err := e.ListKeys(ctx, rotator.ListKeysRequest{Admin: s, Account: s, NamePrefix: "rotator-"}); err != nil {
				t.Fatalf("list: %v", err)
			}
			if err := e.TestKey(ctx, rotator.TestKeyRequest{Key: s}); err != nil {
				t.Fatalf("test: %v", err)
			}
			id, _ := s.String(e.Capabilities().IDField)
			if err := e.RevokeKey(ctx, rotator.KeyRequest{Admin: s, Account: s, ID: id}); err != nil {
				t.Fatalf("revoke: %v", err)
			}

			// A whole rotation through the strategy and the real handler.
			sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
			t.Cleanup(sm.Close)
			arn := sm.MustCreateSecret(t, "app/datadog", tt.doc)
			logs := &rotatortest.LogBuffer{}
			h := keytest.Handler(t, sm, e, logs)
			if out, _ := rotatortest.Rotate(t, sm, arn, h.Handle); !out.Succeeded {
				t.Fatalf("rotation against the mock: %v", out.Err)
			}
			rotatortest.AssertNoSecrets(t, "the logs", logs.String(), "contract-api-key", "contract-app-key", key.Value)
			srv.AssertSent(t, n, tt.want...)
		})
	}
	srv.AssertValid(t)
}
