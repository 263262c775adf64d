package rotator_test

// The scenario tests run the same rotation scenarios, with the real
// Handler, against two Secrets Manager implementations: rotatortest (ours)
// and moto_server (moto 5.x, written by others). Where the two disagree,
// AWS's API reference decides: rotatortest must follow it, and a moto
// behaviour that departs from it is asserted as a known divergence and
// logged as such (see motoExpectDocumented). This file holds the backends
// and the per-scenario environment; moto_scenarios_test.go the scenarios.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/rotatorkit/rotator/internal/mototest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// motoBackend is one Secrets Manager implementation. Everything else the
// scenarios do goes through the SDK client, identically on both.
type motoBackend interface {
	// Name is the subtest name: "rotatortest" or "moto".
	Name() string
	// IsMoto says whether known moto divergences may show up.
	IsMoto() bool
	// ClientOptions points a Secrets Manager client at the backend.
	ClientOptions() func(*secretsmanager.Options)
	// RotateSecret starts a rotation of secretID with token as its
	// ClientRequestToken such that nothing is invoked: Secrets Manager's
	// state before it calls createSecret.
	RotateSecret(ctx context.Context, c *secretsmanager.Client, secretID, token string) error
	// Server is the in-process server, nil for moto.
	Server() *rotatortest.Server
}

type motoRotatortestBackend struct{ srv *rotatortest.Server }

func (b *motoRotatortestBackend) Name() string { return "rotatortest" }
func (b *motoRotatortestBackend) IsMoto() bool { return false }
func (b *motoRotatortestBackend) ClientOptions() func(*secretsmanager.Options) {
	return b.srv.ClientOptions()
}
func (b *motoRotatortestBackend) Server() *rotatortest.Server { return b.srv }

// RotateSecret names a function that is not registered: rotatortest then
// creates the pending version and invokes nothing (see its package doc),
// as moto does without Docker.
func (b *motoRotatortestBackend) RotateSecret(ctx context.Context, c *secretsmanager.Client, secretID, token string) error {
	_, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String(secretID),
		ClientRequestToken: aws.String(token),
		RotationLambdaARN:  aws.String(rotatortest.FunctionARN("rotator-moto-scenarios-unregistered")),
		RotationRules:      &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(mototest.RotationDays)},
	})
	return err
}

type motoServerBackend struct{ srv *mototest.Server }

func (b *motoServerBackend) Name() string { return "moto" }
func (b *motoServerBackend) IsMoto() bool { return true }
func (b *motoServerBackend) ClientOptions() func(*secretsmanager.Options) {
	return b.srv.ClientOptions()
}
func (b *motoServerBackend) Server() *rotatortest.Server { return nil }

func (b *motoServerBackend) RotateSecret(ctx context.Context, c *secretsmanager.Client, secretID, token string) error {
	return mototest.RotateSecret(ctx, c, secretID, token)
}

// motoExpectDocumented checks one behaviour that AWS's API reference
// documents. followsDocs says whether the backend behaved as documented;
// knownDivergence whether it behaved as moto is known to behave instead.
// rotatortest must follow the documentation. moto may show the known
// divergence, which is logged with both sides; the documentation wins, so
// nothing in the project may rely on moto's behaviour there. Any third
// outcome fails.
func motoExpectDocumented(t *testing.T, be motoBackend, followsDocs, knownDivergence bool, documented, divergence string) {
	t.Helper()
	switch {
	case followsDocs:
		if be.IsMoto() {
			t.Logf("moto now follows the documentation here (%s); the divergence note can go", documented)
		}
	case be.IsMoto() && knownDivergence:
		t.Logf("MOTO DIVERGES FROM AWS's DOCUMENTATION (the documentation wins): moto: %s; documented: %s", divergence, documented)
	default:
		t.Errorf("%s does not follow AWS's documentation: %s", be.Name(), documented)
	}
}

// motoCallCounter counts the Secrets Manager requests a client sends, by
// the operation in their X-Amz-Target header (SDK retries count too, as
// they do on the server's side).
type motoCallCounter struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	mu     sync.Mutex
	counts map[string]int
}

func (c *motoCallCounter) Do(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
	c.mu.Unlock()
	return c.next.Do(r)
}

func (c *motoCallCounter) Reset() {
	c.mu.Lock()
	c.counts = nil
	c.mu.Unlock()
}

func (c *motoCallCounter) Counts() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, total := map[string]int{}, 0
	for k, v := range c.counts {
		out[k] = v
		total += v
	}
	return out, total
}

const (
	motoInitialPW  = `M0to-Init!al "pw" \ $x`
	motoInitialDoc = `{"engine":"postgres","host":"db.internal","port":5432,"username":"app","password":"M0to-Init!al \"pw\" \\ $x","custom":{"keep":[1,"two",3.0]},"note":"byte-for-byte"}`
)

var motoSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// motoEnv is one scenario on one backend: a fresh secret, a target, a
// handler whose client counts its calls, and the handler's logs and
// errors, which the leak check reads when the scenario ends.
type motoEnv struct {
	t      *testing.T
	be     motoBackend
	sm     *secretsmanager.Client // the test's own client (not counted)
	hc     *secretsmanager.Client // the handler's client (counted)
	calls  *motoCallCounter
	arn    string
	target *target
	h      *rotator.Handler
	logger *slog.Logger
	logs   *rotatortest.LogBuffer

	mu             sync.Mutex
	handled        int // steps handed to the handler
	errs           []error
	rotationTokens []string // PutSecretValueInput.RotationToken as sent
	sensitive      []string // more values the leak check looks for
}

func newMotoEnv(t *testing.T, be motoBackend, opts ...rotator.Option) *motoEnv {
	t.Helper()
	e := &motoEnv{
		t: t, be: be,
		calls:  &motoCallCounter{next: awshttp.NewBuildableClient()},
		target: newTarget("app", motoInitialPW),
		logs:   &rotatortest.LogBuffer{},
	}
	e.sm = secretsmanager.New(secretsmanager.Options{}, be.ClientOptions())
	e.hc = secretsmanager.New(secretsmanager.Options{}, be.ClientOptions(), func(o *secretsmanager.Options) {
		o.HTTPClient = e.calls
		o.APIOptions = append(o.APIOptions, e.captureRotationToken)
	})
	e.arn = e.createSecret(motoInitialDoc)
	e.logger = e.logs.Logger()
	e.rebuild(opts...)
	t.Cleanup(e.assertNoLeaks)
	return e
}

// rebuild makes the handler again with opts (on the counted client, with
// the captured logger).
func (e *motoEnv) rebuild(opts ...rotator.Option) {
	e.t.Helper()
	h, err := rotator.New(e.hc, &trivial{t: e.target}, append([]rotator.Option{rotator.WithLogger(e.logger), rotator.WithFunctionName("moto-scenarios")}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.h = h
}

// captureRotationToken records the RotationToken of every PutSecretValue
// the handler sends (client side: works on both backends).
func (e *motoEnv) captureRotationToken(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("motoCaptureRotationToken",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*secretsmanager.PutSecretValueInput); ok {
				e.mu.Lock()
				e.rotationTokens = append(e.rotationTokens, aws.ToString(p.RotationToken))
				e.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

var motoNameChars = regexp.MustCompile(`[^A-Za-z0-9/_+=.@-]+`)

func motoRandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// motoToken returns a fresh ClientRequestToken (a UUID's shape).
func motoToken() string {
	h := motoRandHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// createSecret makes a secret with a name unique on the shared server
// (no "-XXXXXX" ending, which would read as an ARN suffix).
func (e *motoEnv) createSecret(value string) string {
	e.t.Helper()
	name := "rotator-moto/" + motoNameChars.ReplaceAllString(e.t.Name(), "_") + "_" + motoRandHex(4)
	out, err := e.sm.CreateSecret(e.t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		e.t.Fatalf("CreateSecret: %v", err)
	}
	return aws.ToString(out.ARN)
}

// begin makes the state Secrets Manager leaves before createSecret and
// checks it through the SDK, the same way on both backends.
func (e *motoEnv) begin(token string) {
	e.t.Helper()
	if e.be.IsMoto() {
		// The helper under test: it checks the same state itself.
		mototest.BeginRotation(e.t, e.sm, e.arn, token)
	} else if err := e.be.RotateSecret(e.t.Context(), e.sm, e.arn, token); err != nil {
		e.t.Fatalf("RotateSecret: %v", err)
	}
	d := e.describe()
	if !aws.ToBool(d.RotationEnabled) {
		e.t.Fatal("RotationEnabled is false after RotateSecret")
	}
	if st := d.VersionIdsToStages[token]; !slices.Equal(st, []string{"AWSPENDING"}) {
		e.t.Fatalf("token at %v after RotateSecret, want [AWSPENDING]", st)
	}
	if _, ok := e.valueAt(token); ok {
		e.t.Fatal("the token's version holds a value before createSecret")
	}
}

func (e *motoEnv) handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	err := e.h.Handle(ctx, ev)
	e.mu.Lock()
	e.handled++
	if err != nil {
		e.errs = append(e.errs, err)
	}
	e.mu.Unlock()
	return err
}

func (e *motoEnv) step(step, token string) error {
	return e.handle(e.t.Context(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: e.arn, ClientRequestToken: token})
}

// rotate runs the four steps, failing the test on an error.
func (e *motoEnv) rotate(token string) {
	e.t.Helper()
	for _, s := range motoSteps {
		if err := e.step(s, token); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

func (e *motoEnv) describe() *secretsmanager.DescribeSecretOutput {
	e.t.Helper()
	d, err := e.sm.DescribeSecret(e.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.arn)})
	if err != nil {
		e.t.Fatalf("DescribeSecret: %v", err)
	}
	return d
}

// stages is DescribeSecret's VersionIdsToStages with each list sorted;
// versions listed with no stage are dropped (see the AWSPREVIOUS scenario
// for the difference this hides on moto).
func (e *motoEnv) stages() map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for id, st := range e.describe().VersionIdsToStages {
		if len(st) > 0 {
			out[id] = slices.Sorted(slices.Values(st))
		}
	}
	return out
}

// listed is ListSecretVersionIds (one page) as version -> sorted stages.
func (e *motoEnv) listed(includeDeprecated bool) map[string][]string {
	e.t.Helper()
	out, err := e.sm.ListSecretVersionIds(e.t.Context(), &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(e.arn), IncludeDeprecated: aws.Bool(includeDeprecated),
	})
	if err != nil {
		e.t.Fatalf("ListSecretVersionIds: %v", err)
	}
	m := map[string][]string{}
	for _, v := range out.Versions {
		m[aws.ToString(v.VersionId)] = slices.Sorted(slices.Values(v.VersionStages))
	}
	return m
}

// valueAt reads a version's value; false when it has none.
func (e *motoEnv) valueAt(versionID string) (string, bool) {
	out, err := e.sm.GetSecretValue(e.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.arn), VersionId: aws.String(versionID)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			e.t.Fatalf("GetSecretValue(%s): %v", versionID, err)
		}
		return "", false
	}
	return aws.ToString(out.SecretString), true
}

// atStage reads the version at a stage (always naming the stage: see the
// GetSecretValue-default scenario for why).
func (e *motoEnv) atStage(stage string) (versionID, value string) {
	e.t.Helper()
	out, err := e.sm.GetSecretValue(e.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.arn), VersionStage: aws.String(stage)})
	if err != nil {
		e.t.Fatalf("GetSecretValue(%s): %v", stage, err)
	}
	return aws.ToString(out.VersionId), aws.ToString(out.SecretString)
}

func (e *motoEnv) currentSecret() *rotator.Secret {
	e.t.Helper()
	_, v := e.atStage("AWSCURRENT")
	s, err := rotator.ParseSecret(v)
	if err != nil {
		e.t.Fatalf("AWSCURRENT is not a secret document: %v", err)
	}
	return s
}

// putVersion stores a version with the given stages (the test's own
// client) and returns its id.
func (e *motoEnv) putVersion(value string, stages ...string) string {
	e.t.Helper()
	id := motoToken()
	if _, err := e.sm.PutSecretValue(e.t.Context(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(e.arn), ClientRequestToken: aws.String(id), SecretString: aws.String(value), VersionStages: stages,
	}); err != nil {
		e.t.Fatalf("PutSecretValue(%v): %v", stages, err)
	}
	return id
}

func (e *motoEnv) addSensitive(v ...string) {
	e.mu.Lock()
	e.sensitive = append(e.sensitive, v...)
	e.mu.Unlock()
}

// assertNoLeaks checks that no password the scenario saw (the initial
// one, the target's, any stored in any version, any the test added) nor
// a RotationToken appears in the handler's logs or in an error it
// returned, raw or JSON-escaped (the logs are JSON).
func (e *motoEnv) assertNoLeaks() {
	t := e.t
	values := []string{motoInitialPW}
	e.target.mu.Lock()
	for _, pw := range e.target.passwords {
		values = append(values, pw)
	}
	e.target.mu.Unlock()
	ctx := context.Background() // t.Context is cancelled before Cleanup runs
	if out, err := e.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(e.arn), IncludeDeprecated: aws.Bool(true)}); err == nil {
		for _, v := range out.Versions {
			gv, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.arn), VersionId: v.VersionId})
			if err != nil {
				continue
			}
			if s, err := rotator.ParseSecret(aws.ToString(gv.SecretString)); err == nil {
				values = append(values, s.Password())
			}
		}
	} else {
		t.Errorf("leak check: ListSecretVersionIds: %v", err)
	}
	e.mu.Lock()
	values = append(values, e.sensitive...)
	values = append(values, e.rotationTokens...)
	errs := slices.Clone(e.errs)
	handled := e.handled
	e.mu.Unlock()

	logs := e.logs.String()
	if handled > 0 && logs == "" {
		t.Error("leak check: the handler logged nothing (is the logger wired?)")
	}
	for _, v := range values {
		if len(v) < 8 {
			continue
		}
		forms := []string{v}
		if j, err := json.Marshal(v); err == nil {
			forms = append(forms, string(j[1:len(j)-1]))
		}
		for _, f := range forms {
			if strings.Contains(logs, f) {
				t.Errorf("leak check: a secret value appears in the handler's logs")
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), f) {
					t.Errorf("leak check: a secret value appears in a returned error")
				}
			}
		}
	}
}

// motoStepError checks that err is a *rotator.StepError for step wrapping
// want.
func motoStepError(t *testing.T, step string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", step, err, want)
	}
	var se *rotator.StepError
	if !errors.As(err, &se) || se.Step != rotator.Step(step) {
		t.Fatalf("%s: not a StepError for the step: %T", step, err)
	}
}
