package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/awsconfig"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// awsFlags name the Secrets Manager a command talks to, spelled as the AWS
// CLI spells them so that a user's habits (and scripts) carry over:
// --endpoint-url, --region, --profile. --endpoint, this command's first
// spelling, stays as an alias so that existing scripts keep working.
type awsFlags struct {
	endpoint, region, profile string
}

// register defines the flags on fs.
func (a *awsFlags) register(fs *flagSet) {
	fs.StringVar(&a.endpoint, "endpoint-url", "", "the Secrets Manager endpoint, e.g. http://127.0.0.1:8484 (rotator local); default: AWS, or $"+rotator.EnvEndpoint+", $AWS_ENDPOINT_URL_SECRETS_MANAGER")
	fs.alias("endpoint", "endpoint-url")
	fs.StringVar(&a.region, "region", "", "the AWS region; default: $AWS_REGION, $AWS_DEFAULT_REGION or the profile's (us-east-1 for an endpoint on this machine)")
	fs.StringVar(&a.profile, "profile", "", "a named profile of the AWS CLI's files (~/.aws/config, ~/.aws/credentials); default: $AWS_PROFILE, else the default profile")
}

// args returns the flags that name the same Secrets Manager again, for the
// commands a message suggests ("" when none were given).
func (a awsFlags) args() string {
	var b strings.Builder
	for _, f := range []struct{ name, v string }{{"--endpoint-url", a.endpoint}, {"--region", a.region}, {"--profile", a.profile}} {
		if f.v != "" {
			b.WriteString(" " + f.name + " " + f.v)
		}
	}
	return b.String()
}

// secretsManager builds the Secrets Manager client: the SDK's default
// configuration (credentials, region, profile), the endpoint from
// --endpoint-url or $SECRETS_MANAGER_ENDPOINT / $AWS_ENDPOINT_URL_SECRETS_MANAGER,
// the region from --region and the profile from --profile. An endpoint on
// this machine (rotator local, moto) checks no credentials and has no
// region of its own: it gets placeholder credentials unless the
// environment or --profile names some, and region us-east-1 unless one is
// configured, so that it works on a machine without an AWS account.
func (c *cli) secretsManager(ctx context.Context, a awsFlags) (*secretsmanager.Client, error) {
	getenv := c.getenv
	if endpoint := a.endpoint; endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--endpoint-url %q: want a URL such as http://127.0.0.1:8484", endpoint)
		}
		getenv = func(k string) string {
			if k == rotator.EnvEndpoint {
				return endpoint
			}
			return c.getenv(k)
		}
	}
	effective := firstNonEmpty(getenv(rotator.EnvEndpoint), getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"), getenv("AWS_ENDPOINT_URL"))
	var opts []func(*config.LoadOptions) error
	if a.region != "" {
		opts = append(opts, config.WithRegion(a.region))
	}
	if a.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.profile))
	}
	if isLoopback(effective) {
		opts = append(opts, config.WithDefaultRegion(rotatortest.Region))
		if a.profile == "" && !hasCredentialsInEnv(getenv) {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("rotator-local", "rotator-local", "")))
		}
	}
	client, err := awsconfig.NewSecretsManagerClient(ctx, getenv, opts...)
	if err != nil {
		if a.profile != "" {
			return nil, fmt.Errorf("--profile %s: %w", a.profile, err)
		}
		return nil, err
	}
	if client.Options().Region == "" {
		return nil, errors.New("no AWS region: pass --region, set AWS_REGION, or name a profile with a region (--profile)")
	}
	return client, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// isLoopback reports whether an endpoint URL names this machine.
func isLoopback(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hasCredentialsInEnv(getenv func(string) string) bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if getenv(k) != "" {
			return true
		}
	}
	return false
}

// apiFix suggests what to do about a Secrets Manager error.
func apiFix(err error, what string) string {
	var nf *types.ResourceNotFoundException
	var ae smithy.APIError
	switch {
	case errors.As(err, &nf):
		return "check " + what + " (a name or an ARN), the region (--region) and the account (--profile)"
	case errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "UnrecognizedClientException"):
		return "check the AWS credentials, and that they allow secretsmanager:DescribeSecret and GetSecretValue on the secret (and kms:Decrypt on its key)"
	case errors.As(err, &ae):
		return "see the Secrets Manager error above"
	case strings.Contains(err.Error(), "get credentials") || strings.Contains(err.Error(), "get identity"):
		return "no AWS credentials: configure them (aws configure, aws sso login) and name the profile (--profile, AWS_PROFILE), or point --endpoint-url at a local Secrets Manager (rotator local)"
	}
	return "check that the Secrets Manager endpoint is reachable (--endpoint-url, $" + rotator.EnvEndpoint + ") and the AWS credentials"
}

// describeSecret returns the secret's ARN, name and version stages.
func describeSecret(ctx context.Context, sm *secretsmanager.Client, id string) (*secretsmanager.DescribeSecretOutput, error) {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, &smError{op: "DescribeSecret", id: id, err: err}
	}
	return out, nil
}

// smError is a Secrets Manager error told in a line: the operation, the
// secret, and the service's error code and message (the SDK's own text
// adds the request id and HTTP details).
type smError struct {
	op, id string
	err    error
}

func (e *smError) Error() string {
	var ae smithy.APIError
	if errors.As(e.err, &ae) {
		return fmt.Sprintf("%s %s: %s: %s", e.op, e.id, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Sprintf("%s %s: %v", e.op, e.id, e.err)
}

func (e *smError) Unwrap() error { return e.err }

// versionWith returns the version holding stage, or "".
func versionWith(stages map[string][]string, stage string) string {
	for id, st := range stages {
		for _, s := range st {
			if s == stage {
				return id
			}
		}
	}
	return ""
}
