package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// SendGrid is the API-key example's parts.
type SendGrid struct {
	Stack    awscdk.Stack
	Rotation *rotator.Rotation
}

// SendGridProps name the secrets you made (aws secretsmanager
// create-secret): the key to rotate, and the admin key that manages keys.
type SendGridProps struct {
	Props
	KeySecretName, AdminSecretName string
}

// NewSendGrid rotates a SendGrid API key with sendgrid-api-key: no VPC
// (the function calls SendGrid's API and Secrets Manager over the
// internet), and the admin key's secret read-only.
func NewSendGrid(scope constructs.Construct, id string, props *SendGridProps) (*SendGrid, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	key := awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("Key"), jsii.String(props.KeySecretName))
	admin := awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("Admin"), jsii.String(props.AdminSecretName))
	r, err := rotator.NewRotation(stack, "KeyRotation", &rotator.RotationProps{
		Function:    rotator.SendGridAPIKey,
		DistDir:     props.DistDir,
		Secret:      key,
		AdminSecret: admin,
		Schedule:    rotator.Schedule{Expression: "rate(30 days)"},
	})
	if err != nil {
		return nil, err
	}
	return &SendGrid{Stack: stack, Rotation: r}, nil
}
