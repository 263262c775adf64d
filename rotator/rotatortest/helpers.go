package rotatortest

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// MustCreateSecret creates a secret with a string value (its first version,
// labelled AWSCURRENT) and returns its ARN; it fails the test if that is
// not possible. It goes through CreateSecret's own code but is not logged
// as a call, so that the call log holds only what the code under test does.
func (s *Server) MustCreateSecret(t testing.TB, name, value string) (arn string) {
	t.Helper()
	body, err := json.Marshal(createSecretIn{Name: name, SecretString: &value})
	if err != nil {
		t.Fatalf("rotatortest: MustCreateSecret(%q): %v", name, err)
	}
	var call Call
	out, aerr := s.createSecret(body, &call)
	if aerr != nil {
		t.Fatalf("rotatortest: MustCreateSecret(%q): %v", name, aerr)
	}
	return out.(arnNameVersion).ARN
}

// RotateOption configures [Rotate].
type RotateOption func(*rotateConfig)

type rotateConfig struct {
	token       string
	lambdaARN   string
	rules       *types.RotationRulesType
	immediately *bool
}

// WithToken sets the RotateSecret ClientRequestToken (the new version's
// id). By default the SDK makes a UUID.
func WithToken(token string) RotateOption {
	return func(c *rotateConfig) { c.token = token }
}

// WithLambdaARN sets the RotationLambdaARN that the function is registered
// under and passed to RotateSecret. By default a fresh ARN is made for each
// Rotate with a function, and none is passed when the function is nil (the
// secret's configured one is used).
func WithLambdaARN(arn string) RotateOption {
	return func(c *rotateConfig) { c.lambdaARN = arn }
}

// WithRotationRules sets the RotateSecret RotationRules.
func WithRotationRules(r types.RotationRulesType) RotateOption {
	return func(c *rotateConfig) { c.rules = &r }
}

// WithRotateImmediately sets RotateImmediately (default true). With false,
// Secrets Manager only runs testSecret against a temporary AWSPENDING
// version.
func WithRotateImmediately(b bool) RotateOption {
	return func(c *rotateConfig) { c.immediately = &b }
}

// Rotate plays a rotation of secretID (name or ARN) the way Secrets Manager
// runs one: it registers fn (unless nil), calls RotateSecret through the
// real SDK client, which creates the AWSPENDING version and invokes fn
// through createSecret, setSecret, testSecret and finishSecret, retrying a
// failed rotation as configured with [WithRotationAttempts]. It returns the
// outcome and the calls the server logged meanwhile (RotateSecret first,
// then those fn made; calls from other goroutines using the same server
// show up too).
//
// If RotateSecret itself fails (e.g. "A previous rotation isn't complete"),
// the outcome has Attempts 0 and Err set to the SDK's error.
func Rotate(t testing.TB, s *Server, secretID string, fn RotationFunc, opts ...RotateOption) (RotationOutcome, []Call) {
	t.Helper()
	var cfg rotateConfig
	for _, o := range opts {
		o(&cfg)
	}
	if fn != nil {
		if cfg.lambdaARN == "" {
			cfg.lambdaARN = FunctionARN("rotatortest-" + newUUID()[:8])
		}
		s.RegisterFunction(cfg.lambdaARN, fn)
	}
	in := &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(secretID),
		RotationRules:     cfg.rules,
		RotateImmediately: cfg.immediately,
	}
	if cfg.token != "" {
		in.ClientRequestToken = aws.String(cfg.token)
	}
	if cfg.lambdaARN != "" {
		in.RotationLambdaARN = aws.String(cfg.lambdaARN)
	}
	seq := s.lastSeq()
	out, err := s.Client().RotateSecret(t.Context(), in)
	calls := s.callsSince(seq)
	if err != nil {
		arn := s.ARNOf(secretID)
		if arn == "" {
			arn = secretID
		}
		return RotationOutcome{SecretID: arn, Token: cfg.token, LambdaARN: cfg.lambdaARN, Err: err}, calls
	}
	o, ok := s.LastRotation(aws.ToString(out.ARN))
	if !ok {
		t.Fatalf("rotatortest: RotateSecret(%s) succeeded but recorded no rotation", secretID)
	}
	return o, calls
}
