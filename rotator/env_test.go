package rotator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/awsconfig"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// TestSecretsManagerEndpointFromEnv checks the variables that point the
// client at an endpoint: AWS's templates' SECRETS_MANAGER_ENDPOINT and the
// SDK's own AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL, for the
// Lambda client (NewLambdaClient) and the full configuration chain
// (awsconfig). A call that reaches the test server shows up in its call
// log.
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
		{"AWS_ENDPOINT_URL", func(u string) map[string]string { return map[string]string{"AWS_ENDPOINT_URL": u} }},
	}
	clients := map[string]func(env map[string]string) (*secretsmanager.Client, error){
		"lambda": func(env map[string]string) (*secretsmanager.Client, error) {
			return rotator.NewLambdaClient(func(k string) string {
				if v, ok := env[k]; ok {
					return v
				}
				return map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret"}[k]
			})
		},
		"awsconfig": func(env map[string]string) (*secretsmanager.Client, error) {
			return awsconfig.NewSecretsManagerClient(context.Background(), func(k string) string { return env[k] })
		},
	}
	for _, tt := range tests {
		for cname, newClient := range clients {
			t.Run(tt.name+"/"+cname, func(t *testing.T) {
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
				client, err := newClient(env)
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
}

// NewLambdaClient needs what Lambda always sets, and says which variable
// is missing; it never echoes a credential.
func TestNewLambdaClientMissingEnvironment(t *testing.T) {
	full := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret-key", "AWS_SESSION_TOKEN": "tok"}
	tests := []struct {
		drop, want string
	}{
		{"AWS_REGION", "AWS_REGION"},
		{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"},
		{"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.drop, func(t *testing.T) {
			_, err := rotator.NewLambdaClient(func(k string) string {
				if k == tt.drop {
					return ""
				}
				return full[k]
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "example-secret-key") {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
	c, err := rotator.NewLambdaClient(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := c.Options().Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "tok" || c.Options().Region != "eu-west-1" {
		t.Fatalf("client from the environment: %+v, %v", c.Options().Region, err)
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
