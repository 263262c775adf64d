package stacks

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// Props are what every example stack takes.
type Props struct {
	awscdk.StackProps
	// DistDir is where `make build` wrote the zips.
	DistDir string
	// CABundle is AWS's RDS CA bundle, downloaded by you (optional).
	CABundle string
}

// Postgres is the database example's parts.
type Postgres struct {
	Stack              awscdk.Stack
	Database           awsrds.DatabaseInstance
	AppSecret          awssecretsmanager.Secret
	MasterRotation     *rotator.Rotation
	AppUserRotation    *rotator.Rotation
	SecretsManagerEndp awsec2.InterfaceVpcEndpoint
}

// NewPostgres is a VPC without internet access, a PostgreSQL instance
// whose master secret RDS generates, a Secrets Manager endpoint, the
// master secret rotated by postgres-single-user and an application user's
// secret rotated by postgres-alternating-users.
func NewPostgres(scope constructs.Construct, id string, props *Props) (*Postgres, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	out := &Postgres{Stack: stack}

	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Isolated"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(false),
	})
	vpc.AddFlowLog(jsii.String("FlowLogs"), nil)
	// The functions call Secrets Manager through this endpoint (the VPC
	// has no route to the internet); only they may reach it.
	out.SecretsManagerEndp = vpc.AddInterfaceEndpoint(jsii.String("SecretsManager"), &awsec2.InterfaceVpcEndpointOptions{
		Service: awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(),
		Open:    jsii.Bool(false),
	})

	db := awsrds.NewDatabaseInstance(stack, jsii.String("Database"), &awsrds.DatabaseInstanceProps{
		Engine:             awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17_6()}),
		InstanceType:       awsec2.InstanceType_Of(awsec2.InstanceClass_BURSTABLE4_GRAVITON, awsec2.InstanceSize_MICRO),
		Vpc:                vpc,
		VpcSubnets:         &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		Credentials:        awsrds.Credentials_FromGeneratedSecret(jsii.String("postgres"), nil),
		DatabaseName:       jsii.String("app"),
		Port:               jsii.Number(5433),
		StorageEncrypted:   jsii.Bool(true),
		IamAuthentication:  jsii.Bool(true),
		DeletionProtection: jsii.Bool(true),
		BackupRetention:    awscdk.Duration_Days(jsii.Number(7)),
		MultiAz:            jsii.Bool(true),
	})
	out.Database = db

	// The master secret, rotated by itself (single user).
	master, err := rotator.NewRotation(stack, "MasterRotation", &rotator.RotationProps{
		Function: rotator.PostgresSingleUser,
		DistDir:  props.DistDir,
		Secret:   db.Secret(),
		Vpc:      vpc,
		Database: db,
		CABundle: props.CABundle,
		Schedule: rotator.Schedule{AutomaticallyAfter: 30 * 24 * time.Hour, Window: 4 * time.Hour},
	})
	if err != nil {
		return nil, err
	}
	out.MasterRotation = master

	// An application user's secret: the alternating-users function clones
	// the user and changes passwords with the master secret ("masterarn").
	out.AppSecret = awssecretsmanager.NewSecret(stack, jsii.String("AppSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("The application's database user (rotated by Rotator, alternating users)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: stack.ToJsonString(map[string]any{
				"engine": "postgres", "username": "app", "dbname": "app",
				"host": db.DbInstanceEndpointAddress(), "port": db.DbInstanceEndpointPort(),
				"masterarn": db.Secret().SecretArn(),
			}, nil),
			GenerateStringKey: jsii.String("password"),
			ExcludeCharacters: jsii.String(`:/@"'\`),
		},
	})
	app, err := rotator.NewRotation(stack, "AppUserRotation", &rotator.RotationProps{
		Function:     rotator.PostgresAlternatingUsers,
		DistDir:      props.DistDir,
		Secret:       out.AppSecret,
		MasterSecret: db.Secret(),
		Vpc:          vpc,
		Database:     db,
		CABundle:     props.CABundle,
		Schedule:     rotator.Schedule{AutomaticallyAfter: 7 * 24 * time.Hour, Window: 2 * time.Hour},
		// The first rotation waits for the user "app" to exist with the
		// secret's password (CREATE ROLE app LOGIN PASSWORD '...'): rotate
		// it then with `aws secretsmanager rotate-secret`.
		RotateImmediately: jsii.Bool(false),
	})
	if err != nil {
		return nil, err
	}
	out.AppUserRotation = app
	for _, r := range []*rotator.Rotation{master, app} {
		out.SecretsManagerEndp.Connections().AllowDefaultPortFrom(r.Function, jsii.String("Rotator's functions"))
		SuppressVPCAccess(r)
	}
	return out, nil
}

// SuppressVPCAccess records why a rotation in a VPC keeps its one
// wildcard: cdk-nag's IAM5 flags every "*" resource.
func SuppressVPCAccess(r *rotator.Rotation) {
	cdknag.NagSuppressions_AddResourceSuppressions(r.Role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Lambda creates, describes and deletes the function's network interfaces as its role; those EC2 actions take no narrower resource (statement AttachToTheVpc)"),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(false))
}
