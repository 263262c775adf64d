package stacks

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// CrossAccountProps place the secret in one account and the function in
// another (same region).
type CrossAccountProps struct {
	DistDir                        string
	Region                         string
	SecretAccount, FunctionAccount string
	// FunctionName and RoleName are the function's physical names in
	// FunctionAccount: the secret's policies name them before they exist.
	FunctionName, RoleName string
	// SecretName is the secret's name: the other stacks know it by name.
	SecretName string
}

// CrossAccount is three stacks, deployed in this order:
//
//  1. Secret (SecretAccount): a customer-managed key and the secret it
//     encrypts; the secret's resource policy and the key's policy let the
//     function's role in FunctionAccount use them (through Secrets
//     Manager only, for the key).
//  2. Function (FunctionAccount): the function, its role and the invoke
//     permission for Secrets Manager from SecretAccount for this secret;
//     it knows the secret by name and takes the key's ARN, stack 1's
//     output, as a parameter.
//  3. Schedule (SecretAccount): the rotation schedule on the secret, by
//     the function in FunctionAccount. Secrets Manager then passes a
//     RotationToken with each step, which the function hands back on
//     PutSecretValue.
type CrossAccount struct {
	Secret, Function, Schedule awscdk.Stack
	Key                        awskms.Key
	SecretValue                awssecretsmanager.Secret
	Rotation                   *rotator.Rotation
}

// NewCrossAccount builds the three stacks.
func NewCrossAccount(scope constructs.Construct, prefix string, p *CrossAccountProps) (*CrossAccount, error) {
	inSecretAccount := &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(p.SecretAccount), Region: jsii.String(p.Region)}}
	inFunctionAccount := &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(p.FunctionAccount), Region: jsii.String(p.Region)}}
	out := &CrossAccount{}
	partition := "aws"
	roleARN := "arn:" + partition + ":iam::" + p.FunctionAccount + ":role/" + p.RoleName
	functionARN := "arn:" + partition + ":lambda:" + p.Region + ":" + p.FunctionAccount + ":function:" + p.FunctionName
	// The role does not exist when stack 1 is deployed, and key and
	// resource policies refuse an unknown principal: they name the
	// function's account and require the role's ARN.
	fromTheRole := func() awsiam.IPrincipal {
		return awsiam.NewAccountPrincipal(jsii.String(p.FunctionAccount)).WithConditions(&map[string]any{
			"ArnEquals": map[string]any{"aws:PrincipalArn": roleARN},
		})
	}

	// 1. The secret and its key.
	out.Secret = awscdk.NewStack(scope, jsii.String(prefix+"Secret"), inSecretAccount)
	out.Key = awskms.NewKey(out.Secret, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the cross-account example's secret"),
		EnableKeyRotation: jsii.Bool(true),
	})
	out.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("RotatorInTheFunctionAccount"),
		Principals: &[]awsiam.IPrincipal{fromTheRole()},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "secretsmanager." + p.Region + ".amazonaws.com"},
		},
	}), jsii.Bool(false))
	out.SecretValue = awssecretsmanager.NewSecret(out.Secret, jsii.String("Secret"), &awssecretsmanager.SecretProps{
		SecretName:    jsii.String(p.SecretName),
		Description:   jsii.String("Rotated by Rotator from account " + p.FunctionAccount),
		EncryptionKey: out.Key,
	})
	out.SecretValue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("RotatorInTheFunctionAccount"),
		Principals: &[]awsiam.IPrincipal{fromTheRole()},
		Actions: jsii.Strings("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
			"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
		Resources: jsii.Strings("*"), // in a resource policy, "*" is this secret
	}))
	awscdk.NewCfnOutput(out.Secret, jsii.String("KeyArn"), &awscdk.CfnOutputProps{Value: out.Key.KeyArn()})
	cdknag.NagSuppressions_AddResourceSuppressions(out.SecretValue, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Its rotation schedule is in stack " + prefix + "Schedule (same account), attached once the function in the other account exists"),
	}}, jsii.Bool(true))

	// 2. The function, in the other account.
	out.Function = awscdk.NewStack(scope, jsii.String(prefix+"Function"), inFunctionAccount)
	keyArn := awscdk.NewCfnParameter(out.Function, jsii.String("KeyArn"), &awscdk.CfnParameterProps{
		Description:    jsii.String("The secret's key's ARN (output KeyArn of " + prefix + "Secret)"),
		AllowedPattern: jsii.String(`^arn:aws[a-z-]*:kms:` + p.Region + `:` + p.SecretAccount + `:key/.+$`),
	})
	key := awskms.Key_FromKeyArn(out.Function, jsii.String("Key"), keyArn.ValueAsString())
	secret := awssecretsmanager.Secret_FromSecretAttributes(out.Function, jsii.String("Secret"), &awssecretsmanager.SecretAttributes{
		SecretPartialArn: jsii.String("arn:" + partition + ":secretsmanager:" + p.Region + ":" + p.SecretAccount + ":secret:" + p.SecretName),
		EncryptionKey:    key,
	})
	r, err := rotator.NewRotation(out.Function, "Rotation", &rotator.RotationProps{
		Function:          rotator.Webhook,
		DistDir:           p.DistDir,
		Secret:            secret,
		FunctionName:      p.FunctionName,
		RoleName:          p.RoleName,
		ScheduleElsewhere: true,
	})
	if err != nil {
		return nil, err
	}
	out.Rotation = r

	// 3. The schedule, back in the secret's account.
	out.Schedule = awscdk.NewStack(scope, jsii.String(prefix+"Schedule"), inSecretAccount)
	out.Schedule.AddStackDependency(out.Secret, jsii.String("the secret"))
	rules, err := rotator.Schedule{AutomaticallyAfter: 30 * 24 * time.Hour}.Rules()
	if err != nil {
		return nil, err
	}
	named := awssecretsmanager.Secret_FromSecretNameV2(out.Schedule, jsii.String("Secret"), jsii.String(p.SecretName))
	rotator.NewRotationSchedule(out.Schedule, "Schedule", named, jsii.String(functionARN), rules, nil)
	return out, nil
}
