package rotator_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

var rotateActions = []any{
	"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
	"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
}

var vpcActions = []any{
	"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
	"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
}

// viaSecretsManager is the condition every KMS grant carries.
func viaSecretsManager(secretARN any) map[string]any {
	return map[string]any{
		"StringEquals": map[string]any{"kms:ViaService": map[string]any{
			"Fn::Join": []any{"", []any{"secretsmanager.", map[string]any{"Ref": "AWS::Region"}, ".amazonaws.com"}},
		}},
		"StringLike": map[string]any{"kms:EncryptionContext:SecretARN": secretARN},
	}
}

func statement(sid string, actions any, resource any, condition map[string]any) map[string]any {
	s := map[string]any{"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
	if condition != nil {
		s["Condition"] = condition
	}
	return s
}

// rolePolicy returns the role's one inline policy's statements, after
// checking that the role has nothing else: no managed policy, no other
// inline policy, and no AWS::IAM::Policy attached anywhere in the stack.
func rolePolicy(t *testing.T, tpl map[string]any) []any {
	t.Helper()
	role := only(t, tpl, "AWS::IAM::Role")
	if _, ok := role["ManagedPolicyArns"]; ok {
		t.Errorf("the role has managed policies: %v", role["ManagedPolicyArns"])
	}
	if n := len(resources(tpl, "AWS::IAM::Policy")); n != 0 {
		t.Errorf("%d AWS::IAM::Policy resources: the role's permissions are its inline policy only", n)
	}
	equal(t, "trust policy", role["AssumeRolePolicyDocument"], map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow",
			"Principal": map[string]any{"Service": "lambda.amazonaws.com"},
		}},
	})
	policies, _ := role["Policies"].([]any)
	if len(policies) != 1 {
		t.Fatalf("role has %d inline policies, want 1", len(policies))
	}
	doc := policies[0].(map[string]any)["PolicyDocument"].(map[string]any)
	return doc["Statement"].([]any)
}

// The alternating-users function in a VPC, with the secret and the master
// secret under customer-managed keys: exactly these permissions, each on
// exactly its resource.
func TestAlternatingUsersInAVPCGetsExactlyItsPermissions(t *testing.T) {
	stack := newStack()
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("I"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}}})
	dbSG := awsec2.NewSecurityGroup(stack, jsii.String("DbSG"), &awsec2.SecurityGroupProps{Vpc: vpc})
	db := awsec2.NewConnections(&awsec2.ConnectionsProps{SecurityGroups: &[]awsec2.ISecurityGroup{dbSG}, DefaultPort: awsec2.Port_Tcp(jsii.Number(5433))})
	key := awskms.NewKey(stack, jsii.String("AppKey"), nil)
	masterKey := awskms.NewKey(stack, jsii.String("MasterKey"), nil)
	app := awssecretsmanager.NewSecret(stack, jsii.String("App"), &awssecretsmanager.SecretProps{EncryptionKey: key})
	master := awssecretsmanager.NewSecret(stack, jsii.String("Master"), &awssecretsmanager.SecretProps{EncryptionKey: masterKey})
	r, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function:     rotator.PostgresAlternatingUsers,
		Secret:       app,
		MasterSecret: master,
		Vpc:          vpc,
		Database:     db,
	})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, stack)

	equal(t, "role policy", rolePolicy(t, tpl), []any{
		statement("RotateTheSecret", rotateActions, ref(app), nil),
		statement("UseTheSecretsKey", []any{"kms:Decrypt", "kms:GenerateDataKey"}, getAtt(key, "Arn"), viaSecretsManager(ref(app))),
		statement("ReadTheMasterSecret", "secretsmanager:GetSecretValue", ref(master), nil),
		statement("ReadTheMasterSecretKey", "kms:Decrypt", getAtt(masterKey, "Arn"), viaSecretsManager(ref(master))),
		statement("WriteItsLogs", []any{"logs:CreateLogStream", "logs:PutLogEvents"}, getAtt(r.LogGroup, "Arn"), nil),
		statement("AttachToTheVpc", vpcActions, "*", nil),
	})

	fn := only(t, tpl, "AWS::Lambda::Function")
	equal(t, "runtime", fn["Runtime"], "provided.al2023")
	equal(t, "handler", fn["Handler"], "bootstrap")
	equal(t, "architectures", fn["Architectures"], []any{"arm64"})
	equal(t, "reserved concurrency", fn["ReservedConcurrentExecutions"], rotator.DefaultReservedConcurrency)
	equal(t, "timeout", fn["Timeout"], 30)
	equal(t, "role", fn["Role"], getAtt(r.Role, "Arn"))
	equal(t, "logging", fn["LoggingConfig"], map[string]any{"LogGroup": ref(r.LogGroup)})
	equal(t, "security groups", fn["VpcConfig"].(map[string]any)["SecurityGroupIds"], []any{getAtt(r.SecurityGroup, "GroupId")})
	if _, ok := fn["Environment"]; ok {
		t.Errorf("environment %v: no prop asked for a variable", fn["Environment"])
	}

	logs := only(t, tpl, "AWS::Logs::LogGroup")
	equal(t, "log retention", logs["RetentionInDays"], 90)

	// The function's security group reaches HTTPS and the database's port
	// and nothing else; the database's accepts the function on its port.
	sg := resources(tpl, "AWS::EC2::SecurityGroup")[logicalID(r.SecurityGroup)]["Properties"].(map[string]any)
	equal(t, "function egress (inline)", sg["SecurityGroupEgress"], []any{map[string]any{
		"CidrIp": "0.0.0.0/0", "Description": "HTTPS to Secrets Manager (an interface endpoint or NAT)",
		"FromPort": 443, "IpProtocol": "tcp", "ToPort": 443,
	}})
	equal(t, "function egress to the database", only(t, tpl, "AWS::EC2::SecurityGroupEgress"), map[string]any{
		"GroupId": getAtt(r.SecurityGroup, "GroupId"), "DestinationSecurityGroupId": getAtt(dbSG, "GroupId"),
		"Description": "Rotator postgres-alternating-users", "FromPort": 5433, "ToPort": 5433, "IpProtocol": "tcp",
	})
	equal(t, "database ingress", only(t, tpl, "AWS::EC2::SecurityGroupIngress"), map[string]any{
		"GroupId": getAtt(dbSG, "GroupId"), "SourceSecurityGroupId": getAtt(r.SecurityGroup, "GroupId"),
		"Description": "Rotator postgres-alternating-users", "FromPort": 5433, "ToPort": 5433, "IpProtocol": "tcp",
	})

	equal(t, "invoke permission", only(t, tpl, "AWS::Lambda::Permission"), map[string]any{
		"Action": "lambda:InvokeFunction", "FunctionName": getAtt(r.Function, "Arn"),
		"Principal": "secretsmanager.amazonaws.com", "SourceAccount": map[string]any{"Ref": "AWS::AccountId"},
		"SourceArn": ref(app),
	})
	schedule := resources(tpl, "AWS::SecretsManager::RotationSchedule")[logicalID(r.Schedule)]
	equal(t, "schedule", schedule["Properties"], map[string]any{
		"SecretId": ref(app), "RotationLambdaARN": getAtt(r.Function, "Arn"),
		"RotationRules": map[string]any{"AutomaticallyAfterDays": 30}, "RotateImmediatelyOnUpdate": true,
	})
	// Secrets Manager calls the function as soon as the schedule exists: the
	// permission must exist by then.
	deps, _ := schedule["DependsOn"].([]any)
	if !containsString(deps, logicalID(r.Permission)) {
		t.Errorf("schedule DependsOn %v: want the invoke permission %s", deps, logicalID(r.Permission))
	}
}

// inPartition is "arn:" + the stack's partition + rest, as CDK writes it.
func inPartition(rest string) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, rest}}}
}

func containsString(xs []any, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// A single-user function outside a VPC, with the AWS managed key: no
// master, no KMS, no EC2 permission, no GetRandomPassword.
func TestSingleUserWithoutVPCGetsNoNetworkOrKeyPermissions(t *testing.T) {
	stack := newStack()
	secret := awssecretsmanager.NewSecret(stack, jsii.String("S"), nil)
	r, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function:     rotator.MySQLSingleUser,
		Secret:       secret,
		Architecture: awslambda.Architecture_X86_64(),
		Schedule:     rotator.Schedule{Expression: "rate(4 hours)", Window: 2 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, stack)
	equal(t, "role policy", rolePolicy(t, tpl), []any{
		statement("RotateTheSecret", rotateActions, ref(secret), nil),
		statement("WriteItsLogs", []any{"logs:CreateLogStream", "logs:PutLogEvents"}, getAtt(r.LogGroup, "Arn"), nil),
	})
	fn := only(t, tpl, "AWS::Lambda::Function")
	if _, ok := fn["VpcConfig"]; ok {
		t.Errorf("VpcConfig %v without a Vpc", fn["VpcConfig"])
	}
	equal(t, "architectures", fn["Architectures"], []any{"x86_64"})
	if n := len(resources(tpl, "AWS::EC2::SecurityGroup")); n != 0 {
		t.Errorf("%d security groups without a Vpc", n)
	}
	equal(t, "rules", only(t, tpl, "AWS::SecretsManager::RotationSchedule")["RotationRules"],
		map[string]any{"ScheduleExpression": "rate(4 hours)", "Duration": "2h"})
}

// The password policy reaches the function under AWS's variable names, and
// only FromAPI grants GetRandomPassword.
func TestPasswordPolicyEnvironmentAndGetRandomPassword(t *testing.T) {
	stack := newStack()
	secret := awssecretsmanager.NewSecret(stack, jsii.String("S"), nil)
	r, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function: rotator.PostgresSingleUser,
		Secret:   secret,
		PasswordPolicy: rotator.PasswordPolicy{
			Length: 40, ExcludeCharacters: `/@"'\`, ExcludePunctuation: true, IncludeSpace: true,
			RequireEachIncludedType: jsii.Bool(false), FromAPI: true,
		},
		Endpoint:          "https://secretsmanager.eu-west-1.amazonaws.com",
		Environment:       map[string]string{"ROTATOR_LOG_LEVEL": "debug"},
		RotateImmediately: jsii.Bool(false),
		Schedule:          rotator.Schedule{AutomaticallyAfter: 10 * 24 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, stack)
	equal(t, "environment", only(t, tpl, "AWS::Lambda::Function")["Environment"], map[string]any{"Variables": map[string]any{
		"PASSWORD_LENGTH": "40", "EXCLUDE_CHARACTERS": `/@"'\`, "EXCLUDE_PUNCTUATION": "true", "INCLUDE_SPACE": "true",
		"REQUIRE_EACH_INCLUDED_TYPE": "false", "PASSWORD_SOURCE": "api",
		"SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.eu-west-1.amazonaws.com", "ROTATOR_LOG_LEVEL": "debug",
	}})
	equal(t, "role policy", rolePolicy(t, tpl), []any{
		statement("RotateTheSecret", rotateActions, ref(secret), nil),
		statement("GeneratePasswords", "secretsmanager:GetRandomPassword", "*", nil),
		statement("WriteItsLogs", []any{"logs:CreateLogStream", "logs:PutLogEvents"}, getAtt(r.LogGroup, "Arn"), nil),
	})
	sched := only(t, tpl, "AWS::SecretsManager::RotationSchedule")
	equal(t, "rules", sched["RotationRules"], map[string]any{"AutomaticallyAfterDays": 10})
	equal(t, "rotate immediately", sched["RotateImmediatelyOnUpdate"], false)
}

// An API-key function with an admin secret known by name: the policy and
// the permission name the secret's ARN with Secrets Manager's six-character
// suffix, and the admin secret is read-only.
func TestAPIKeyFunctionWithAdminSecretByName(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Test"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")},
	})
	key := awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("Key"), jsii.String("vendor/key"))
	admin := awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("Admin"), jsii.String("vendor/admin"))
	_, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function: rotator.SendGridAPIKey, Secret: key, AdminSecret: admin, ReservedConcurrency: 2,
		LogRetention: awslogs.RetentionDays_ONE_YEAR,
	})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, stack)
	keyARN := inPartition(":secretsmanager:eu-west-1:123456789012:secret:vendor/key-??????")
	adminARN := inPartition(":secretsmanager:eu-west-1:123456789012:secret:vendor/admin-??????")
	statements := rolePolicy(t, tpl)
	equal(t, "role policy (secrets)", statements[:2], []any{
		statement("RotateTheSecret", rotateActions, keyARN, nil),
		statement("ReadTheAdminSecret", "secretsmanager:GetSecretValue", adminARN, nil),
	})
	equal(t, "permission", only(t, tpl, "AWS::Lambda::Permission")["SourceArn"], keyARN)
	equal(t, "permission account", only(t, tpl, "AWS::Lambda::Permission")["SourceAccount"], "123456789012")
	equal(t, "reserved concurrency", only(t, tpl, "AWS::Lambda::Function")["ReservedConcurrentExecutions"], 2)
	equal(t, "log retention", only(t, tpl, "AWS::Logs::LogGroup")["RetentionInDays"], 365)
	equal(t, "secret id", only(t, tpl, "AWS::SecretsManager::RotationSchedule")["SecretId"],
		inPartition(":secretsmanager:eu-west-1:123456789012:secret:vendor/key"))
}

// A CA bundle becomes a layer at the path the engine is told about.
func TestCABundleLayer(t *testing.T) {
	pemFile := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(pemFile, testCertificatePEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := newStack()
	secret := awssecretsmanager.NewSecret(stack, jsii.String("S"), nil)
	r, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function: rotator.MySQLDualPassword, Secret: secret, CABundle: pemFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, stack)
	fn := only(t, tpl, "AWS::Lambda::Function")
	equal(t, "layers", fn["Layers"], []any{ref(r.CABundle)})
	equal(t, "environment", fn["Environment"], map[string]any{"Variables": map[string]any{"ROTATOR_MYSQL_CA_BUNDLE": "/opt/rotator/rds-ca-bundle.pem"}})
	equal(t, "layer architectures", only(t, tpl, "AWS::Lambda::LayerVersion")["CompatibleArchitectures"], []any{"arm64"})
}

// Bad props: an error naming the field, wrapping ErrInvalidProps, and
// nothing added to the stack.
func TestInvalidPropsNameTheFieldAndAddNothing(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := newStack()
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(1), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("I"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}}})
	secret := awssecretsmanager.NewSecret(stack, jsii.String("S"), nil)
	other := awssecretsmanager.NewSecret(stack, jsii.String("O"), nil)
	sg := awsec2.NewSecurityGroup(stack, jsii.String("SG"), &awsec2.SecurityGroupProps{Vpc: vpc})
	children := len(*stack.Node().Children())
	for _, c := range []struct {
		name  string
		props rotator.RotationProps
		field string
	}{
		{"no secret", rotator.RotationProps{Function: rotator.PostgresSingleUser}, "Secret:"},
		{"no function", rotator.RotationProps{Secret: secret}, "Function.Name"},
		{"bad function name", rotator.RotationProps{Function: rotator.Function{Name: "../x"}, Secret: secret}, "Function.Name"},
		{"no master", rotator.RotationProps{Function: rotator.PostgresAlternatingUsers, Secret: secret}, "MasterSecret:"},
		{"master on single user", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, MasterSecret: other}, "MasterSecret:"},
		{"master on API key", rotator.RotationProps{Function: rotator.OktaClientSecret, Secret: secret, MasterSecret: other}, "MasterSecret:"},
		{"admin on database", rotator.RotationProps{Function: rotator.MySQLSingleUser, Secret: secret, AdminSecret: other}, "AdminSecret:"},
		{"second key alone", rotator.RotationProps{Function: rotator.MySQLSingleUser, Secret: secret, SecondKey: awskms.NewKey(awscdk.NewStack(nil, nil, nil), jsii.String("K"), nil)}, "SecondKey:"},
		{"no zip", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, DistDir: "nowhere"}, "Zip:"},
		{"zip is a folder", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Zip: distDir}, "Zip:"},
		{"database without VPC", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Database: sg}, "Database:"},
		{"security groups without VPC", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, SecurityGroups: []awsec2.ISecurityGroup{sg}}, "SecurityGroups:"},
		{"subnets without VPC", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, VpcSubnets: &awsec2.SubnetSelection{}}, "VpcSubnets:"},
		{"password policy for a key", rotator.RotationProps{Function: rotator.TwilioAPIKey, Secret: secret, PasswordPolicy: rotator.PasswordPolicy{Length: 20}}, "PasswordPolicy:"},
		{"length", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, PasswordPolicy: rotator.PasswordPolicy{Length: 5000}}, "PasswordPolicy.Length"},
		{"CA bundle for a vendor", rotator.RotationProps{Function: rotator.DatadogAPIKey, Secret: secret, CABundle: notPEM}, "CABundle:"},
		{"CA bundle not PEM", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, CABundle: notPEM}, "CABundle " + notPEM},
		{"CA bundle missing", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, CABundle: notPEM + ".missing"}, "CABundle:"},
		{"timeout", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Timeout: 20 * time.Minute}, "Timeout:"},
		{"memory", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, MemorySize: 64}, "MemorySize:"},
		{"concurrency", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, ReservedConcurrency: -1}, "ReservedConcurrency:"},
		{"both schedules", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{AutomaticallyAfter: 24 * time.Hour, Expression: "rate(1 days)"}}, "Schedule:"},
		{"hours as days", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{AutomaticallyAfter: 36 * time.Hour}}, "Schedule.AutomaticallyAfter"},
		{"too many days", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{AutomaticallyAfter: 1001 * 24 * time.Hour}}, "Schedule.AutomaticallyAfter"},
		{"expression", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{Expression: "every day"}}, "Schedule.Expression"},
		{"window", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{Window: 90 * time.Minute}}, "Schedule.Window"},
		{"window too long", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, Schedule: rotator.Schedule{Window: 25 * time.Hour}}, "Schedule.Window"},
		{"environment override", rotator.RotationProps{Function: rotator.PostgresSingleUser, Secret: secret, PasswordPolicy: rotator.PasswordPolicy{Length: 20}, Environment: map[string]string{"PASSWORD_LENGTH": "8"}}, `Environment["PASSWORD_LENGTH"]`},
		{"immediately elsewhere", rotator.RotationProps{Function: rotator.Webhook, Secret: secret, ScheduleElsewhere: true, RotateImmediately: jsii.Bool(true)}, "RotateImmediately:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rotator.NewRotation(stack, "Rotation", &c.props)
			if !errors.Is(err, rotator.ErrInvalidProps) {
				t.Fatalf("err = %v, want ErrInvalidProps", err)
			}
			if !strings.HasPrefix(err.Error(), c.field) {
				t.Errorf("err = %q, want it to start with the field %q", err, c.field)
			}
			if n := len(*stack.Node().Children()); n != children {
				t.Errorf("the stack has %d children after the error, had %d", n, children)
			}
		})
	}
	if _, err := rotator.NewRotation(stack, "R", nil); !errors.Is(err, rotator.ErrInvalidProps) {
		t.Errorf("nil props: err = %v", err)
	}
}

// ScheduleElsewhere leaves the schedule out (the secret's account attaches
// it) and keeps the permission for the secret's account and ARN.
func TestScheduleElsewhere(t *testing.T) {
	stack := newStack()
	secret := awssecretsmanager.Secret_FromSecretPartialArn(stack, jsii.String("S"),
		jsii.String("arn:aws:secretsmanager:eu-west-1:111111111111:secret:shared"))
	r, err := rotator.NewRotation(stack, "Rotation", &rotator.RotationProps{
		Function: rotator.Webhook, Secret: secret, ScheduleElsewhere: true, FunctionName: "fn", RoleName: "role",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Schedule != nil {
		t.Error("Schedule made despite ScheduleElsewhere")
	}
	tpl := template(t, stack)
	if n := len(resources(tpl, "AWS::SecretsManager::RotationSchedule")); n != 0 {
		t.Errorf("%d schedules", n)
	}
	perm := only(t, tpl, "AWS::Lambda::Permission")
	equal(t, "source", []any{perm["SourceAccount"], perm["SourceArn"]},
		[]any{"111111111111", "arn:aws:secretsmanager:eu-west-1:111111111111:secret:shared-??????"})
	equal(t, "names", []any{only(t, tpl, "AWS::Lambda::Function")["FunctionName"], only(t, tpl, "AWS::IAM::Role")["RoleName"]}, []any{"fn", "role"})
}
