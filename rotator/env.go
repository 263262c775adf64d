package rotator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// Environment variables that NewLambdaClient reads, as Lambda sets them.
const (
	envRegion           = "AWS_REGION"
	envDefaultRegion    = "AWS_DEFAULT_REGION"
	envAccessKeyID      = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey  = "AWS_SECRET_ACCESS_KEY"
	envSessionToken     = "AWS_SESSION_TOKEN"
	envEndpointService  = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	envEndpointAll      = "AWS_ENDPOINT_URL"
	envIgnoreEndpoints  = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	envUseFIPSEndpoint  = "AWS_USE_FIPS_ENDPOINT"
	envUseDualStackEndp = "AWS_USE_DUALSTACK_ENDPOINT"
)

// NewLambdaClient builds the Secrets Manager client from what Lambda puts
// in a function's environment: the region, the execution role's
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), and the endpoint variables (EnvEndpoint, then the
// SDK's AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL), FIPS and
// dual-stack switches. It does not link the SDK's full configuration chain
// (profiles, SSO, web identity): a Lambda function never uses it, and it
// is a third of a bootstrap. Outside Lambda, use rotator/awsconfig.
// Its retryer is NewRetryer's: bounded backoff, and no retry that would
// run into the invocation's deadline.
// getenv is os.Getenv when nil.
func NewLambdaClient(getenv func(string) string) (*secretsmanager.Client, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	region := env(envRegion)
	if region == "" {
		region = env(envDefaultRegion)
	}
	if region == "" {
		return nil, fmt.Errorf("no AWS region: %s is not set (Lambda sets it)", envRegion)
	}
	id, key := env(envAccessKeyID), env(envSecretAccessKey)
	if id == "" || key == "" {
		return nil, fmt.Errorf("no credentials: %s and %s are not set (Lambda sets them from the execution role)", envAccessKeyID, envSecretAccessKey)
	}
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: key, SessionToken: env(envSessionToken), Source: "environment"}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
	}
	endpoint := env(EnvEndpoint)
	if endpoint == "" && !truthy(env(envIgnoreEndpoints)) {
		endpoint = env(envEndpointService)
		if endpoint == "" {
			endpoint = env(envEndpointAll)
		}
	}
	fips, err := ParseBool(env(envUseFIPSEndpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envUseFIPSEndpoint, err)
	}
	dual, err := ParseBool(env(envUseDualStackEndp))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envUseDualStackEndp, err)
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.Retryer = NewRetryer()
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if fips {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if dual {
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	}), nil
}

func truthy(s string) bool {
	b, err := ParseBool(s)
	return err == nil && b
}

// NewFromEnv builds a Handler the way a Lambda function wants it: the SDK
// client from the environment (NewLambdaClient), the password policy from AWS's template
// variables, JSON logs on stdout, dry run from ROTATOR_DRY_RUN. opts come
// last and win.
func NewFromEnv(ctx context.Context, s Strategy, opts ...Option) (*Handler, error) {
	client, err := NewLambdaClient(os.Getenv)
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
		return nil, fmt.Errorf("%s=%s: use local or api", EnvPasswordSource, Quote(src))
	}
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if v := strings.TrimSpace(getenv(EnvLogLevel)); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			// slog's error quotes the value raw: say it once, quoted.
			return nil, fmt.Errorf("%s=%s: not a log level (debug, info, warn or error, with an optional +N or -N)", EnvLogLevel, Quote(v))
		}
	}
	dry, err := ParseBool(getenv(EnvDryRun))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDryRun, err)
	}
	local, err := localDriverFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	opts := []Option{WithPasswordGenerator(gen), WithLogger(logger), WithDryRun(dry), WithLocalDriver(local)}
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
