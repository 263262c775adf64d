package rotator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Environment variables read by NewFromEnv, besides the password policy's.
const (
	// EnvEndpoint is the Secrets Manager endpoint, named as AWS's rotation
	// templates name it (a VPC endpoint, say). The SDK's own
	// AWS_ENDPOINT_URL_SECRETS_MANAGER works too; this one wins.
	EnvEndpoint = "SECRETS_MANAGER_ENDPOINT"
	// EnvDryRun turns on dry runs (true/1/yes).
	EnvDryRun = "ROTATOR_DRY_RUN"
	// EnvLogLevel is debug, info (default), warn or error.
	EnvLogLevel = "ROTATOR_LOG_LEVEL"
	// EnvMetrics turns the CloudWatch Embedded Metric Format lines on or
	// off; they are on by default inside Lambda.
	EnvMetrics = "ROTATOR_METRICS"
)

// NewSecretsManagerClient builds the SDK client from the default AWS
// configuration, honouring EnvEndpoint.
func NewSecretsManagerClient(ctx context.Context, getenv func(string) string, optFns ...func(*config.LoadOptions) error) (*secretsmanager.Client, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	endpoint := strings.TrimSpace(getenv(EnvEndpoint))
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// NewFromEnv builds a Handler the way a Lambda function wants it: the SDK
// client from the environment, the password policy from AWS's template
// variables, JSON logs on stdout, dry run from ROTATOR_DRY_RUN. opts come
// last and win.
func NewFromEnv(ctx context.Context, s Strategy, opts ...Option) (*Handler, error) {
	client, err := NewSecretsManagerClient(ctx, os.Getenv)
	if err != nil {
		return nil, err
	}
	base, err := EnvOptionsFor(nil, client, s)
	if err != nil {
		return nil, err
	}
	return New(client, s, append(base, opts...)...)
}

// EnvOptions returns the options the environment asks for: password policy
// and source, logger level, dry run.
func EnvOptions(getenv func(string) string, api RandomPasswordAPI) ([]Option, error) {
	return EnvOptionsFor(getenv, api, nil)
}

// EnvOptionsFor is EnvOptions for strategy s: the password policy starts
// from s's defaults (DefaultPasswordPolicyFor).
//
// getenv nil reads the process environment (see PasswordPolicyFromEnvWith).
func EnvOptionsFor(getenv func(string) string, api RandomPasswordAPI, s Strategy) ([]Option, error) {
	policy, err := PasswordPolicyFromEnvWith(getenv, DefaultPasswordPolicyFor(s))
	if getenv == nil {
		getenv = os.Getenv
	}
	if err != nil {
		return nil, err
	}
	var gen PasswordGenerator
	switch src := strings.ToLower(strings.TrimSpace(getenv(EnvPasswordSource))); src {
	case "", "local":
		gen, err = NewLocalPasswords(policy)
	case "api":
		gen, err = NewAPIPasswords(api, policy)
	default:
		return nil, fmt.Errorf("%s=%q: use local or api", EnvPasswordSource, src)
	}
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if v := strings.TrimSpace(getenv(EnvLogLevel)); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", EnvLogLevel, v, err)
		}
	}
	dry, err := ParseBool(getenv(EnvDryRun))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDryRun, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	opts := []Option{WithPasswordGenerator(gen), WithLogger(logger), WithDryRun(dry)}
	metrics := strings.TrimSpace(getenv(EnvMetrics))
	if metrics == "" && getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
		metrics = "true"
	}
	if on, err := ParseBool(metrics); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvMetrics, err)
	} else if on {
		opts = append(opts, WithObserver(NewEMF(os.Stdout)))
	}
	return opts, nil
}
