package rotator

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Errors of this package.
var (
	// ErrInvalidProps: RotationProps are wrong; the error names the field.
	ErrInvalidProps = errors.New("invalid rotation props")
	// ErrUnknownFunction: FunctionByName knows no such function.
	ErrUnknownFunction = errors.New("unknown Rotator function")
)

// Defaults of RotationProps.
const (
	DefaultDistDir             = "dist"
	DefaultAutomaticallyAfter  = 30 * 24 * time.Hour
	DefaultTimeout             = 30 * time.Second
	DefaultMemorySize          = 128
	DefaultReservedConcurrency = 1
	DefaultLogRetention        = awslogs.RetentionDays_THREE_MONTHS
)

// CABundleLayerPath is where the CA bundle layer puts RotationProps.CABundle
// (/opt is where Lambda unpacks layers); the engines look there too.
const CABundleLayerPath = "/opt/rotator/rds-ca-bundle.pem"

// Schedule says when Secrets Manager rotates: every AutomaticallyAfter, or
// by a rate() or cron() Expression, inside a Window.
type Schedule struct {
	// AutomaticallyAfter is the interval, in whole days (1 to 1000).
	// DefaultAutomaticallyAfter when neither it nor Expression is set.
	AutomaticallyAfter time.Duration
	// Expression is Secrets Manager's ScheduleExpression instead:
	// "rate(10 days)", "rate(4 hours)", "cron(0 16 1,15 * ? *)".
	Expression string
	// Window is how long the rotation window stays open, in whole hours (1
	// to 24). Zero: Secrets Manager's default (to the end of the day, or the
	// interval's length when shorter).
	Window time.Duration
}

// PasswordPolicy is the database functions' password policy, passed in the
// environment variables AWS's rotation templates read (EXCLUDE_CHARACTERS
// and friends). Zero values leave the engine's defaults.
type PasswordPolicy struct {
	// Length is PASSWORD_LENGTH (0: the default, 32).
	Length int
	// ExcludeCharacters is EXCLUDE_CHARACTERS (the PostgreSQL engine
	// excludes :/@"'\ by default).
	ExcludeCharacters string
	// ExcludeNumbers ... IncludeSpace are EXCLUDE_NUMBERS,
	// EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE, EXCLUDE_LOWERCASE and
	// INCLUDE_SPACE, set to "true" when true.
	ExcludeNumbers, ExcludePunctuation, ExcludeUppercase, ExcludeLowercase, IncludeSpace bool
	// RequireEachIncludedType is REQUIRE_EACH_INCLUDED_TYPE (nil: the
	// default, true).
	RequireEachIncludedType *bool
	// FromAPI draws passwords with Secrets Manager's GetRandomPassword
	// (PASSWORD_SOURCE=api, and the permission for it) instead of locally
	// with crypto/rand, which costs no API call.
	FromAPI bool
}

func (p PasswordPolicy) isZero() bool {
	return p == PasswordPolicy{}
}

// RotationProps configure NewRotation.
type RotationProps struct {
	// Function is the Rotator function to deploy (required): one of the
	// package's variables, or a Function of your own.
	Function Function
	// Zip is the function's deployment package; default
	// DistDir/<arch>/<Function.Name>.zip, as `make build` writes it.
	Zip string
	// DistDir is where `make build` wrote the zips (DefaultDistDir).
	DistDir string
	// Architecture is the function's (default ARM_64, whose zips are in
	// DistDir/arm64; X86_64's are in DistDir/amd64).
	Architecture awslambda.Architecture

	// Secret is the secret to rotate (required).
	Secret awssecretsmanager.ISecret
	// Key is the KMS key that encrypts Secret; default
	// Secret.EncryptionKey(). None: the AWS managed key, which needs no
	// grant.
	Key awskms.IKey
	// MasterSecret is the secret that "masterarn" names (required by the
	// alternating-users functions, refused by the others).
	MasterSecret awssecretsmanager.ISecret
	// AdminSecret is the secret that "adminarn" names (optional for the
	// API-key functions, refused by the others).
	AdminSecret awssecretsmanager.ISecret
	// SecondKey is the KMS key of MasterSecret or AdminSecret; default
	// its EncryptionKey().
	SecondKey awskms.IKey

	// Vpc runs the function in a VPC (with VpcSubnets, default the VPC's
	// private subnets).
	Vpc        awsec2.IVpc
	VpcSubnets *awsec2.SubnetSelection
	// SecurityGroups are the function's; default one made for it, whose
	// only egress is HTTPS (Secrets Manager, through an endpoint or NAT)
	// and the Database's port.
	SecurityGroups []awsec2.ISecurityGroup
	// Database is what the function logs in to (an RDS instance or
	// cluster): its security group gets an ingress rule from the
	// function's on its default port.
	Database awsec2.IConnectable
	// Endpoint is SECRETS_MANAGER_ENDPOINT, for a Secrets Manager endpoint
	// the default resolution does not find.
	Endpoint string

	// Schedule is when Secrets Manager rotates.
	Schedule Schedule
	// RotateImmediately rotates once when the schedule is created or
	// changed (nil: true, as Secrets Manager does).
	RotateImmediately *bool
	// ScheduleElsewhere leaves the schedule out: the secret is in another
	// account, where NewRotationSchedule attaches it.
	ScheduleElsewhere bool

	// PasswordPolicy is for the database functions only.
	PasswordPolicy PasswordPolicy
	// CABundle is a PEM file of CA certificates (AWS's RDS bundle, which
	// you download from AWS; for the webhook function, your receiver's
	// CA), deployed as a layer at CABundleLayerPath and named by the
	// function's CABundleEnv: servers are then verified against it.
	CABundle string
	// Environment adds variables (ROTATOR_ALTERNATING_PAIRS,
	// ROTATOR_LOG_LEVEL, ...); it may not override those set from the
	// other props.
	Environment map[string]string

	// FunctionName and RoleName are physical names (default: generated),
	// for a secret in another account whose policies name them.
	FunctionName, RoleName string
	// Timeout (DefaultTimeout), MemorySize in MB (DefaultMemorySize).
	Timeout    time.Duration
	MemorySize int
	// ReservedConcurrency caps concurrent runs (DefaultReservedConcurrency:
	// Secrets Manager runs one step of one rotation at a time, so a runaway
	// loop of invocations cannot fan out).
	ReservedConcurrency int
	// LogRetention is the log group's (DefaultLogRetention).
	LogRetention awslogs.RetentionDays
}

// Rotation is the function that rotates one secret, its role, log group,
// invoke permission and schedule.
type Rotation struct {
	constructs.Construct
	Function      awslambda.Function
	Role          awsiam.Role
	LogGroup      awslogs.LogGroup
	Permission    awslambda.CfnPermission
	SecurityGroup awsec2.SecurityGroup                  // nil unless made here
	Schedule      awssecretsmanager.CfnRotationSchedule // nil with ScheduleElsewhere
	CABundle      awslambda.LayerVersion                // nil without RotationProps.CABundle
}

// NewRotation deploys props.Function for props.Secret with only the
// permissions that rotation needs, and attaches the rotation schedule. An
// error names the RotationProps field at fault; nothing is added to scope
// then.
func NewRotation(scope constructs.Construct, id string, props *RotationProps) (*Rotation, error) {
	if props == nil {
		return nil, fmt.Errorf("RotationProps: %w: nil", ErrInvalidProps)
	}
	p := *props
	if err := p.defaults(); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	env, err := p.environment()
	if err != nil {
		return nil, err
	}
	rules, err := p.Schedule.rules()
	if err != nil {
		return nil, err
	}
	var caDir string
	if p.CABundle != "" {
		if caDir, err = stageCABundle(p.CABundle); err != nil {
			return nil, err
		}
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	r := &Rotation{Construct: c}

	r.LogGroup = awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	r.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:      awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description:    jsii.String("Rotator " + p.Function.Name + ": rotates one secret"),
		RoleName:       optional(p.RoleName),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"Rotation": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: p.statements(r.LogGroup)})},
	})

	fnProps := &awslambda.FunctionProps{
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Handler:                      jsii.String("bootstrap"),
		Code:                         awslambda.Code_FromAsset(jsii.String(p.Zip), nil),
		Architecture:                 p.Architecture,
		Role:                         r.Role,
		LogGroup:                     r.LogGroup,
		FunctionName:                 optional(p.FunctionName),
		Description:                  jsii.String("Rotator " + p.Function.Name + " (Secrets Manager rotation)"),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(p.Timeout.Seconds())),
		MemorySize:                   jsii.Number(p.MemorySize),
		ReservedConcurrentExecutions: jsii.Number(p.ReservedConcurrency),
	}
	if len(env) > 0 {
		fnProps.Environment = &env
	}
	if p.Vpc != nil {
		fnProps.Vpc, fnProps.VpcSubnets = p.Vpc, p.VpcSubnets
		sgs := p.SecurityGroups
		if len(sgs) == 0 {
			r.SecurityGroup = awsec2.NewSecurityGroup(c, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
				Vpc:              p.Vpc,
				Description:      jsii.String("Rotator " + p.Function.Name + ": HTTPS to Secrets Manager and the database port"),
				AllowAllOutbound: jsii.Bool(false),
			})
			r.SecurityGroup.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
				jsii.String("HTTPS to Secrets Manager (an interface endpoint or NAT)"), nil)
			sgs = []awsec2.ISecurityGroup{r.SecurityGroup}
		}
		fnProps.SecurityGroups = &sgs
	}
	if caDir != "" {
		r.CABundle = awslambda.NewLayerVersion(c, jsii.String("CABundle"), &awslambda.LayerVersionProps{
			Code:                    awslambda.Code_FromAsset(jsii.String(caDir), nil),
			CompatibleArchitectures: &[]awslambda.Architecture{p.Architecture},
			Description:             jsii.String("CA bundle for Rotator at " + CABundleLayerPath),
		})
		fnProps.Layers = &[]awslambda.ILayerVersion{r.CABundle}
	}
	r.Function = awslambda.NewFunction(c, jsii.String("Function"), fnProps)
	if p.Database != nil {
		r.Function.Connections().AllowToDefaultPort(p.Database, jsii.String("Rotator "+p.Function.Name))
	}

	r.Permission = awslambda.NewCfnPermission(c, jsii.String("InvokeBySecretsManager"), &awslambda.CfnPermissionProps{
		Action:        jsii.String("lambda:InvokeFunction"),
		FunctionName:  r.Function.FunctionArn(),
		Principal:     jsii.String("secretsmanager.amazonaws.com"),
		SourceAccount: secretAccount(p.Secret),
		SourceArn:     secretArnForPolicies(p.Secret),
	})
	if !p.ScheduleElsewhere {
		r.Schedule = NewRotationSchedule(c, "Schedule", p.Secret, r.Function.FunctionArn(), rules, p.RotateImmediately)
		r.Schedule.Node().AddDependency(r.Permission)
	}
	return r, nil
}

// NewRotationSchedule attaches a rotation schedule by functionARN to
// secret: NewRotation does it, and a secret's own account does it for a
// function in another account (NewRotation with ScheduleElsewhere).
// rotateImmediately nil means true.
func NewRotationSchedule(scope constructs.Construct, id string, secret awssecretsmanager.ISecret, functionARN *string, rules *awssecretsmanager.CfnRotationSchedule_RotationRulesProperty, rotateImmediately *bool) awssecretsmanager.CfnRotationSchedule {
	if rotateImmediately == nil {
		rotateImmediately = jsii.Bool(true)
	}
	return awssecretsmanager.NewCfnRotationSchedule(scope, jsii.String(id), &awssecretsmanager.CfnRotationScheduleProps{
		SecretId:                  secret.SecretArn(),
		RotationLambdaArn:         functionARN,
		RotationRules:             rules,
		RotateImmediatelyOnUpdate: rotateImmediately,
	})
}

// Rules returns the schedule's RotationRules, or an error naming the field.
func (s Schedule) Rules() (*awssecretsmanager.CfnRotationSchedule_RotationRulesProperty, error) {
	return s.rules()
}

var scheduleExpression = regexp.MustCompile(`^(rate\([1-9][0-9]* (hours|days)\)|cron\([^()]+\))$`)

func (s Schedule) rules() (*awssecretsmanager.CfnRotationSchedule_RotationRulesProperty, error) {
	r := &awssecretsmanager.CfnRotationSchedule_RotationRulesProperty{}
	switch {
	case s.AutomaticallyAfter != 0 && s.Expression != "":
		return nil, fmt.Errorf("Schedule: %w: set AutomaticallyAfter or Expression, not both", ErrInvalidProps)
	case s.Expression != "":
		if !scheduleExpression.MatchString(s.Expression) {
			return nil, fmt.Errorf("Schedule.Expression %q: %w: rate(N hours), rate(N days) or cron(...)", s.Expression, ErrInvalidProps)
		}
		r.ScheduleExpression = jsii.String(s.Expression)
	default:
		after := s.AutomaticallyAfter
		if after == 0 {
			after = DefaultAutomaticallyAfter
		}
		const day = 24 * time.Hour
		if after%day != 0 || after < day || after > 1000*day {
			return nil, fmt.Errorf("Schedule.AutomaticallyAfter %v: %w: whole days from 1 to 1000 (for hours, Expression \"rate(4 hours)\")", after, ErrInvalidProps)
		}
		r.AutomaticallyAfterDays = jsii.Number(float64(after / day))
	}
	if s.Window != 0 {
		if s.Window%time.Hour != 0 || s.Window < time.Hour || s.Window > 24*time.Hour {
			return nil, fmt.Errorf("Schedule.Window %v: %w: whole hours from 1 to 24", s.Window, ErrInvalidProps)
		}
		r.Duration = jsii.String(strconv.Itoa(int(s.Window/time.Hour)) + "h")
	}
	return r, nil
}

func (p *RotationProps) defaults() error {
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	if p.DistDir == "" {
		p.DistDir = DefaultDistDir
	}
	if p.Zip == "" {
		arch, err := distArch(p.Architecture)
		if err != nil {
			return err
		}
		p.Zip = filepath.Join(p.DistDir, arch, p.Function.Name+".zip")
	}
	if p.Key == nil && p.Secret != nil {
		p.Key = p.Secret.EncryptionKey()
	}
	if second := p.second(); p.SecondKey == nil && second != nil {
		p.SecondKey = second.EncryptionKey()
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MemorySize == 0 {
		p.MemorySize = DefaultMemorySize
	}
	if p.ReservedConcurrency == 0 {
		p.ReservedConcurrency = DefaultReservedConcurrency
	}
	if p.LogRetention == "" {
		p.LogRetention = DefaultLogRetention
	}
	return nil
}

// distArch is the folder of dist/ for a Lambda architecture (Go's name).
func distArch(a awslambda.Architecture) (string, error) {
	switch name := *a.Name(); name {
	case "arm64":
		return "arm64", nil
	case "x86_64":
		return "amd64", nil
	default:
		return "", fmt.Errorf("Architecture %q: %w: ARM_64 or X86_64", name, ErrInvalidProps)
	}
}

// second is the master or admin secret, whichever is set.
func (p *RotationProps) second() awssecretsmanager.ISecret {
	if p.MasterSecret != nil {
		return p.MasterSecret
	}
	return p.AdminSecret
}

func (p *RotationProps) validate() error {
	bad := func(field, why string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", field, ErrInvalidProps, fmt.Sprintf(why, args...))
	}
	if err := p.Function.validate(); err != nil {
		return err
	}
	name := p.Function.Name
	if p.Secret == nil {
		return bad("Secret", "required: the secret to rotate")
	}
	switch {
	case p.Function.Second == MasterRequired && p.MasterSecret == nil:
		return bad("MasterSecret", "%s needs the master secret that the secret's \"masterarn\" names", name)
	case p.Function.Second != MasterRequired && p.MasterSecret != nil:
		return bad("MasterSecret", "%s reads no master secret", name)
	case p.Function.Second != AdminOptional && p.AdminSecret != nil:
		return bad("AdminSecret", "%s reads no admin secret", name)
	case p.SecondKey != nil && p.second() == nil:
		return bad("SecondKey", "no MasterSecret or AdminSecret to decrypt")
	}
	if st, err := os.Stat(p.Zip); err != nil || st.IsDir() {
		return bad("Zip", "%s is not a file: build it with `make build` (or set Zip or DistDir)", p.Zip)
	}
	if p.Vpc == nil {
		switch {
		case p.Database != nil:
			return bad("Database", "needs Vpc: the function reaches the database from inside its VPC")
		case len(p.SecurityGroups) > 0:
			return bad("SecurityGroups", "needs Vpc")
		case p.VpcSubnets != nil:
			return bad("VpcSubnets", "needs Vpc")
		}
	}
	if !p.Function.Database && !p.PasswordPolicy.isZero() {
		return bad("PasswordPolicy", "%s generates no passwords (its vendor issues the keys)", name)
	}
	if l := p.PasswordPolicy.Length; l < 0 || l > 4096 {
		return bad("PasswordPolicy.Length", "%d: from 1 to 4096 (0: the default)", l)
	}
	if p.CABundle != "" && p.Function.CABundleEnv == "" {
		return bad("CABundle", "%s takes no CA bundle (it verifies its vendor against the system's roots)", name)
	}
	if p.Timeout < time.Second || p.Timeout > 15*time.Minute || p.Timeout%time.Second != 0 {
		return bad("Timeout", "%v: whole seconds up to 15 minutes", p.Timeout)
	}
	if p.MemorySize < 128 || p.MemorySize > 10240 {
		return bad("MemorySize", "%d: from 128 to 10240 MB", p.MemorySize)
	}
	if p.ReservedConcurrency < 0 {
		return bad("ReservedConcurrency", "%d: at least 1 (0: the default)", p.ReservedConcurrency)
	}
	if p.ScheduleElsewhere && p.RotateImmediately != nil {
		return bad("RotateImmediately", "set it on NewRotationSchedule, in the secret's account (ScheduleElsewhere)")
	}
	return nil
}

// environment is the function's variables.
func (p *RotationProps) environment() (map[string]*string, error) {
	env := map[string]*string{}
	set := func(k, v string) { env[k] = jsii.String(v) }
	pp := p.PasswordPolicy
	if pp.Length != 0 {
		set("PASSWORD_LENGTH", strconv.Itoa(pp.Length))
	}
	if pp.ExcludeCharacters != "" {
		set("EXCLUDE_CHARACTERS", pp.ExcludeCharacters)
	}
	for _, b := range []struct {
		name string
		on   bool
	}{
		{"EXCLUDE_NUMBERS", pp.ExcludeNumbers}, {"EXCLUDE_PUNCTUATION", pp.ExcludePunctuation},
		{"EXCLUDE_UPPERCASE", pp.ExcludeUppercase}, {"EXCLUDE_LOWERCASE", pp.ExcludeLowercase},
		{"INCLUDE_SPACE", pp.IncludeSpace},
	} {
		if b.on {
			set(b.name, "true")
		}
	}
	if pp.RequireEachIncludedType != nil {
		set("REQUIRE_EACH_INCLUDED_TYPE", strconv.FormatBool(*pp.RequireEachIncludedType))
	}
	if pp.FromAPI {
		set("PASSWORD_SOURCE", "api")
	}
	if p.Endpoint != "" {
		set("SECRETS_MANAGER_ENDPOINT", p.Endpoint)
	}
	if p.CABundle != "" {
		set(p.Function.CABundleEnv, CABundleLayerPath)
	}
	keys := make([]string, 0, len(p.Environment))
	for k := range p.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, taken := env[k]; taken {
			return nil, fmt.Errorf("Environment[%q]: %w: set from another prop (PasswordPolicy, Endpoint or CABundle)", k, ErrInvalidProps)
		}
		set(k, p.Environment[k])
	}
	return env, nil
}

// statements are the role's permissions: nothing the rotation does not use.
func (p *RotationProps) statements(logs awslogs.LogGroup) *[]awsiam.PolicyStatement {
	stmt := func(sid string, actions, resources []string, conditions map[string]any) awsiam.PolicyStatement {
		ps := &awsiam.PolicyStatementProps{
			Sid:       jsii.String(sid),
			Effect:    awsiam.Effect_ALLOW,
			Actions:   jsii.Strings(actions...),
			Resources: jsii.Strings(resources...),
		}
		if conditions != nil {
			ps.Conditions = &conditions
		}
		return awsiam.NewPolicyStatement(ps)
	}
	secret := *secretArnForPolicies(p.Secret)
	out := []awsiam.PolicyStatement{
		stmt("RotateTheSecret", []string{
			"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
			"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
		}, []string{secret}, nil),
	}
	if p.Key != nil {
		out = append(out, stmt("UseTheSecretsKey", []string{"kms:Decrypt", "kms:GenerateDataKey"},
			[]string{*p.Key.KeyArn()}, viaSecretsManager(p.Secret)))
	}
	if second := p.second(); second != nil {
		sid := "ReadTheMasterSecret"
		if p.MasterSecret == nil {
			sid = "ReadTheAdminSecret"
		}
		out = append(out, stmt(sid, []string{"secretsmanager:GetSecretValue"}, []string{*secretArnForPolicies(second)}, nil))
		if p.SecondKey != nil {
			out = append(out, stmt(sid+"Key", []string{"kms:Decrypt"}, []string{*p.SecondKey.KeyArn()}, viaSecretsManager(second)))
		}
	}
	if p.PasswordPolicy.FromAPI {
		// GetRandomPassword acts on no resource: "*" is its only form.
		out = append(out, stmt("GeneratePasswords", []string{"secretsmanager:GetRandomPassword"}, []string{"*"}, nil))
	}
	out = append(out, stmt("WriteItsLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{*logs.LogGroupArn()}, nil))
	if p.Vpc != nil {
		// What Lambda does as the role to attach the function to the VPC
		// (AWSLambdaVPCAccessExecutionRole's actions); these actions take
		// no narrower resource that Lambda's calls would match.
		out = append(out, stmt("AttachToTheVpc", []string{
			"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
			"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
		}, []string{"*"}, nil))
	}
	return &out
}

// viaSecretsManager limits a KMS grant to Secrets Manager's use of the key
// for this one secret, in the secret's region.
func viaSecretsManager(secret awssecretsmanager.ISecret) map[string]any {
	region := secret.Env().Region
	return map[string]any{
		"StringEquals": map[string]any{
			"kms:ViaService": awscdk.Fn_Join(jsii.String(""), jsii.Strings("secretsmanager.", *region, ".amazonaws.com")),
		},
		"StringLike": map[string]any{
			"kms:EncryptionContext:SecretARN": secretArnForPolicies(secret),
		},
	}
}

// secretArnForPolicies is the secret's ARN, or, for a secret known by name
// or partial ARN, that ARN followed by the six characters Secrets Manager
// appends.
func secretArnForPolicies(s awssecretsmanager.ISecret) *string {
	if full := s.SecretFullArn(); full != nil {
		return full
	}
	return awscdk.Fn_Join(jsii.String(""), jsii.Strings(*s.SecretArn(), "-??????"))
}

// secretAccount is the account that holds the secret.
func secretAccount(s awssecretsmanager.ISecret) *string {
	return s.Env().Account
}

// stageCABundle checks that path holds PEM certificates and copies it to
// a fresh folder as rotator/rds-ca-bundle.pem: a layer's layout under /opt.
func stageCABundle(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("CABundle: %w: %v", ErrInvalidProps, err)
	}
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "", fmt.Errorf("CABundle %s: %w: certificate %d: %v", path, ErrInvalidProps, n+1, err)
		}
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("CABundle %s: %w: no PEM certificate in it", path, ErrInvalidProps)
	}
	dir, err := os.MkdirTemp("", "rotator-ca-bundle-")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "rotator"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(CABundleLayerPath[len("/opt/"):])), data, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
