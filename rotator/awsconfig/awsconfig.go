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
// getenv is os.Getenv when nil. Its retryer is rotator.NewRetryer's, as
// a Lambda function's client has, whatever the configuration's retry
// settings say: a run from the command line then retries as the function
// would.
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
		o.Retryer = rotator.NewRetryer()
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
