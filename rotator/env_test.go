package rotator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// TestSecretsManagerEndpointFromEnv checks both variables that point the
// client at an endpoint: AWS's templates' SECRETS_MANAGER_ENDPOINT and the
// SDK's own AWS_ENDPOINT_URL_SECRETS_MANAGER. A call that reaches the test
// server shows up in its call log.
func TestSecretsManagerEndpointFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  func(url string) map[string]string
	}{
		{"SECRETS_MANAGER_ENDPOINT", func(u string) map[string]string { return map[string]string{rotator.EnvEndpoint: u} }},
		{"AWS_ENDPOINT_URL_SECRETS_MANAGER", func(u string) map[string]string {
			return map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": u}
		}},
		{"template variable wins", func(u string) map[string]string {
			return map[string]string{rotator.EnvEndpoint: u, "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rotatortest.NewServer()
			defer srv.Close()
			arn := srv.MustCreateSecret(t, "endpoint/check", `{"username":"u","password":"endpoint-test-pw"}`)
			env := tt.env(srv.URL())
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
			t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
			t.Setenv("AWS_ENDPOINT_URL", "")
			for k, v := range env {
				t.Setenv(k, v)
			}
			client, err := rotator.NewSecretsManagerClient(context.Background(), func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetCalls()
			if _, err := client.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}); err != nil {
				t.Fatalf("DescribeSecret through the configured endpoint: %v", err)
			}
			if srv.CallCounts()["DescribeSecret"] != 1 {
				t.Fatal("the call did not reach the configured endpoint")
			}
		})
	}
}

func TestEnvOptions(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"api passwords", map[string]string{rotator.EnvPasswordSource: "api"}, ""},
		{"unknown password source", map[string]string{rotator.EnvPasswordSource: "vault"}, "PASSWORD_SOURCE"},
		{"bad dry run", map[string]string{rotator.EnvDryRun: "perhaps"}, "ROTATOR_DRY_RUN"},
		{"bad log level", map[string]string{rotator.EnvLogLevel: "loud"}, "ROTATOR_LOG_LEVEL"},
		{"bad metrics switch", map[string]string{rotator.EnvMetrics: "sometimes"}, "ROTATOR_METRICS"},
		{"impossible policy names the variable", map[string]string{rotator.EnvPasswordLength: "0"}, "PASSWORD_LENGTH=0"},
	}
	srv := rotatortest.NewServer()
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := rotator.EnvOptions(func(k string) string { return tt.env[k] }, srv.Client())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to name %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(opts) == 0 {
				t.Fatalf("opts %d, err %v", len(opts), err)
			}
		})
	}
}
