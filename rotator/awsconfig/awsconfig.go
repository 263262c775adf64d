package awsconfig

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
)

// NewSecretsManagerClient builds the SDK client from the default AWS
// configuration (optFns add to it), honouring rotator.EnvEndpoint, which
// wins over the SDK's own endpoint variables as in AWS's templates.
// getenv is os.Getenv when nil.
func NewSecretsManagerClient(ctx context.Context, getenv func(string) string, optFns ...func(*config.LoadOptions) error) (*secretsmanager.Client, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	endpoint := strings.TrimSpace(getenv(rotator.EnvEndpoint))
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
