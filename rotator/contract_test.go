package rotator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// target is the system whose credential the test strategy turns over: a
// user -> password map. It stands for a database in these engine-level
// tests; the engines have their own tests against real servers.
type target struct {
	mu        sync.Mutex
	passwords map[string]string
	sets      int
	finishes  int
}

func newTarget(user, pw string) *target {
	return &target{passwords: map[string]string{user: pw}}
}

func (t *target) login(s *rotator.Secret) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pw, ok := t.passwords[s.Username()]; !ok || pw != s.Password() {
		// Deliberately careless, as some drivers are: the error quotes the
		// password it tried. The handler must scrub it.
		return fmt.Errorf("%w: user %s password %s rejected", rotator.ErrLoginFailed, s.Username(), s.Password())
	}
	return nil
}

func (t *target) password(user string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.passwords[user]
}

// trivial is the smallest correct strategy: the single-user rotation of the
// target map. Hooks let a test make a step fail or panic.
type trivial struct {
	t        *target
	failSet  func() error
	panicSet bool
}

func (s *trivial) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	pw, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	p := cur.Clone()
	p.SetString(rotator.FieldPassword, pw)
	return p, nil
}

func (s *trivial) SetPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if s.panicSet {
		panic("driver exploded while setting " + p.Password())
	}
	if s.failSet != nil {
		if err := s.failSet(); err != nil {
			return fmt.Errorf("set %s: %w", p.Password(), err)
		}
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	if r.DryRun {
		return s.t.login(cur) // check, change nothing
	}
	if err := s.t.login(cur); err != nil {
		if s.t.login(p) == nil {
			return nil // an earlier attempt already set it
		}
		return err
	}
	s.t.mu.Lock()
	s.t.passwords[p.Username()] = p.Password()
	s.t.sets++
	s.t.mu.Unlock()
	return nil
}

func (s *trivial) TestPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	return s.t.login(p)
}

func (s *trivial) AfterPromotion(ctx context.Context, r *rotator.Rotation) error {
	s.t.mu.Lock()
	s.t.finishes++
	s.t.mu.Unlock()
	return nil
}

const (
	lambdaARN  = "arn:aws:lambda:us-east-1:123456789012:function:rotator-test"
	initialPW  = `Init!al "pw" \ $x`
	initialDoc = `{"engine":"postgres","host":"db.internal","port":5432,"username":"app","password":"Init!al \"pw\" \\ $x","custom":{"keep":[1,"two",3.0]},"note":"byte-for-byte"}`
)

// fixture is a server, a secret, a target and a handler, with a log buffer
// that the leak check reads at the end of every test.
type fixture struct {
	t      *testing.T
	srv    *rotatortest.Server
	arn    string
	target *target
	strat  *trivial
	h      *rotator.Handler
	logs   *rotatortest.LogBuffer
	errs   []error
}

func newFixture(t *testing.T, opts ...rotator.Option) *fixture {
	t.Helper()
	srv := rotatortest.NewServer()
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, target: newTarget("app", initialPW), logs: &rotatortest.LogBuffer{}}
	f.arn = srv.MustCreateSecret(t, "app/db", initialDoc)
	f.strat = &trivial{t: f.target}
	logger := f.logs.Logger()
	h, err := rotator.New(srv.Client(), f.strat, append([]rotator.Option{rotator.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	srv.RegisterFunction(lambdaARN, f.handle)
	t.Cleanup(f.assertNoLeaks)
	return f
}

// handle is the function the server invokes; it keeps every error for the
// leak check.
func (f *fixture) handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	err := f.h.Handle(ctx, ev)
	if err != nil {
		f.errs = append(f.errs, err)
	}
	return err
}

// assertNoLeaks checks that no password the test ever saw (initial, any
// generated one, anything stored in any version) is in a log line or in a
// returned error.
func (f *fixture) assertNoLeaks() {
	t := f.t
	values := []string{initialPW}
	for user, pw := range f.target.passwords {
		_ = user
		values = append(values, pw)
	}
	for id := range f.srv.StagesOf(f.arn) {
		if v, ok := f.srv.ValueOf(f.arn, id); ok {
			s, err := rotator.ParseSecret(v)
			if err == nil {
				values = append(values, s.Password())
			}
		}
	}
	logs := f.logs.String()
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(logs, v) {
			t.Errorf("a secret value appears in the logs")
		}
		for _, e := range f.errs {
			if strings.Contains(e.Error(), v) {
				t.Errorf("a secret value appears in a returned error: %v", e)
			}
		}
	}
}

// beginRotation makes the state Secrets Manager leaves before createSecret:
// rotation enabled and the token's version at AWSPENDING with no value.
// RotateSecret names a function that is not registered, so the server
// invokes nothing (as moto does without Docker).
func (f *fixture) beginRotation(token string) {
	f.t.Helper()
	_, err := f.srv.Client().RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId:           aws.String(f.arn),
		ClientRequestToken: aws.String(token),
		RotationLambdaARN:  aws.String(rotatortest.FunctionARN("not-registered")),
	})
	if err != nil {
		f.t.Fatalf("RotateSecret: %v", err)
	}
	if st := f.srv.StagesOf(f.arn)[token]; len(st) != 1 || st[0] != "AWSPENDING" {
		f.t.Fatalf("token not at AWSPENDING after RotateSecret: %v", st)
	}
	if _, ok := f.srv.ValueOf(f.arn, token); ok {
		f.t.Fatal("token already has a value")
	}
}

// putUnlabelledVersion stores a version with a value but neither
// AWSPENDING nor AWSCURRENT (only a custom label) and returns its id.
func (f *fixture) putUnlabelledVersion() string {
	f.t.Helper()
	id := "99999999-0000-0000-0000-000000000009"
	_, err := f.srv.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(f.arn), ClientRequestToken: aws.String(id),
		SecretString: aws.String(`{"username":"app","password":"other-version-password-42"}`), VersionStages: []string{"CUSTOM"},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) step(step, token string) error {
	return f.handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: step, SecretID: f.arn, ClientRequestToken: token,
	})
}

func (f *fixture) current() *rotator.Secret {
	f.t.Helper()
	out, err := f.srv.Client().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(f.arn)})
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := rotator.ParseSecret(aws.ToString(out.SecretString))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestFullRotation(t *testing.T) {
	f := newFixture(t)
	out, calls := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if !out.Succeeded {
		t.Fatalf("rotation failed: %v", out.Err)
	}
	cur := f.current()
	if cur.Password() == initialPW || f.target.password("app") != cur.Password() {
		t.Fatal("AWSCURRENT does not hold the password the target accepts")
	}
	if f.target.login(cur) != nil {
		t.Fatal("AWSCURRENT does not log in")
	}
	stages := f.srv.StagesOf(f.arn)
	var sawPrev bool
	for id, st := range stages {
		if strings.Contains(strings.Join(st, ","), "AWSPREVIOUS") {
			sawPrev = true
			v, _ := f.srv.ValueOf(f.arn, id)
			if !strings.Contains(v, `Init!al`) {
				t.Fatal("AWSPREVIOUS is not the old value")
			}
		}
	}
	if !sawPrev {
		t.Fatalf("no AWSPREVIOUS after rotation: %v", stages)
	}
	if f.target.finishes != 1 {
		t.Fatalf("AfterPromotion ran %d times", f.target.finishes)
	}
	if len(calls) == 0 {
		t.Fatal("no calls logged")
	}
}

// callBudget is the budget (ARCHITECTURE.md) of Secrets Manager calls for a full
// single-user rotation with every check: createSecret 4 (DescribeSecret,
// GetSecretValue at the token to never replace a stored value, current,
// PutSecretValue), setSecret 3 (pending, DescribeSecret for rotation
// enabled, current), testSecret 1 (pending), finishSecret 2
// (DescribeSecret, UpdateSecretVersionStage; the token's value was seen by
// testSecret in the same process).
const callBudget = 10

func TestSecretsManagerCallBudget(t *testing.T) {
	f := newFixture(t)
	f.srv.ResetCalls()
	token := "11111111-2222-3333-4444-555555555555"
	f.beginRotation(token)
	f.srv.ResetCalls() // count only the function's calls, not the test's RotateSecret
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if err := f.step(step, token); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	counts := f.srv.CallCounts()
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("Secrets Manager calls for a full rotation: %d %v", total, counts)
	if total > callBudget {
		t.Fatalf("%d Secrets Manager calls, budget is %d: %v", total, callBudget, counts)
	}
	if counts["GetRandomPassword"] != 0 {
		t.Fatal("local password generation must not call GetRandomPassword")
	}
}

func TestCreateSecretTwiceWithOneToken(t *testing.T) {
	f := newFixture(t)
	token := "aaaaaaaa-0000-0000-0000-000000000001"
	f.beginRotation(token)
	if err := f.step("createSecret", token); err != nil {
		t.Fatal(err)
	}
	first, ok := f.srv.ValueOf(f.arn, token)
	if !ok {
		t.Fatal("no pending value after createSecret")
	}
	if err := f.step("createSecret", token); err != nil {
		t.Fatalf("second createSecret: %v", err)
	}
	second, _ := f.srv.ValueOf(f.arn, token)
	if first != second {
		t.Fatal("second createSecret changed the pending value")
	}
}

func TestEachStepDeliveredTwiceAtOnce(t *testing.T) {
	f := newFixture(t)
	token := "bbbbbbbb-0000-0000-0000-000000000002"
	f.beginRotation(token)
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f.h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: f.arn, ClientRequestToken: token})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				f.errs = append(f.errs, err)
				t.Fatalf("%s delivered twice: %v", step, err)
			}
		}
	}
	cur := f.current()
	if f.target.login(cur) != nil {
		t.Fatal("AWSCURRENT does not log in after doubled deliveries")
	}
	if v, _ := f.srv.ValueOf(f.arn, token); v == "" || f.srv.VersionOf(f.arn, "AWSCURRENT") != token {
		t.Fatal("token is not AWSCURRENT")
	}
}

func TestStaleAWSPENDINGDoesNotBlock(t *testing.T) {
	t.Run("aborted rotation is reattempted", func(t *testing.T) {
		f := newFixture(t)
		// A rotation whose setSecret keeps failing leaves AWSPENDING, with a
		// value, on its version.
		f.strat.failSet = func() error { return errors.New("network down") }
		out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
		if out.Succeeded {
			t.Fatal("rotation succeeded")
		}
		stale := out.Token
		if _, ok := f.srv.ValueOf(f.arn, stale); !ok {
			t.Fatal("aborted rotation left no pending value")
		}
		// The cause is fixed; Secrets Manager reattempts the same rotation.
		f.strat.failSet = nil
		again, ok := f.srv.ResumeRotation(f.arn)
		if !ok || !again.Succeeded {
			t.Fatalf("reattempt failed: %+v", again)
		}
		if f.srv.VersionOf(f.arn, "AWSCURRENT") != stale || f.target.login(f.current()) != nil {
			t.Fatal("reattempted rotation did not promote a working credential")
		}
	})
	t.Run("label moved by a locally driven rotation", func(t *testing.T) {
		f := newFixture(t, rotator.WithLocalDriver(true))
		stale := "cccccccc-0000-0000-0000-00000000dead"
		_, err := f.srv.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(f.arn), ClientRequestToken: aws.String(stale),
			SecretString: aws.String(`{"username":"app","password":"stale-never-set"}`), VersionStages: []string{"AWSPENDING"},
		})
		if err != nil {
			t.Fatal(err)
		}
		token := "cccccccc-0000-0000-0000-00000000beef"
		for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
			if err := f.step(step, token); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		if st := f.srv.StagesOf(f.arn)[stale]; len(st) != 0 {
			t.Fatalf("stale version still labelled %v", st)
		}
		if f.srv.VersionOf(f.arn, "AWSCURRENT") != token || f.target.login(f.current()) != nil {
			t.Fatal("AWSCURRENT does not log in")
		}
	})
}

func TestRotationTokenPassedThrough(t *testing.T) {
	f := newFixture(t)
	token := "dddddddd-0000-0000-0000-000000000004"
	f.beginRotation(token)
	f.srv.ResetCalls()
	err := f.handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: "createSecret", SecretID: f.arn, ClientRequestToken: token, RotationToken: "rot-token-xyz-123",
	})
	if err != nil {
		t.Fatal(err)
	}
	var put *rotatortest.Call
	for _, c := range f.srv.Calls() {
		if c.Operation == "PutSecretValue" {
			put = &c
		}
	}
	if put == nil || put.RotationToken != "rot-token-xyz-123" {
		t.Fatalf("PutSecretValue did not carry the RotationToken: %+v", put)
	}
	if strings.Contains(f.logs.String(), "rot-token-xyz-123") {
		t.Fatal("the RotationToken (sensitive) was logged")
	}
}

func TestUnknownFieldsSurviveRotation(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		if out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle); !out.Succeeded {
			t.Fatal(out.Err)
		}
	}
	v, _ := f.srv.ValueOf(f.arn, f.srv.VersionOf(f.arn, "AWSCURRENT"))
	for _, want := range []string{`"custom":{"keep":[1,"two",3.0]}`, `"note":"byte-for-byte"`, `"port":5432`, `"host":"db.internal"`} {
		if !strings.Contains(v, want) {
			t.Errorf("after 3 rotations the value lost %s", want)
		}
	}
}

func TestPreDispatchChecks(t *testing.T) {
	token := "eeeeeeee-0000-0000-0000-000000000005"
	tests := []struct {
		name    string
		setup   func(f *fixture) (step, token string)
		wantErr error
	}{
		{"unknown step", func(f *fixture) (string, string) { f.beginRotation(token); return "dropSecret", token }, rotator.ErrUnknownStep},
		{"empty token", func(f *fixture) (string, string) { return "createSecret", "" }, rotator.ErrInvalidEvent},
		{"rotation not enabled", func(f *fixture) (string, string) { return "createSecret", token }, rotator.ErrRotationDisabled},
		{"token not a version", func(f *fixture) (string, string) {
			f.beginRotation(token)
			return "createSecret", "ffffffff-0000-0000-0000-00000000000f"
		}, rotator.ErrTokenNotFound},
		{"token not a version (setSecret)", func(f *fixture) (string, string) {
			f.beginRotation(token)
			return "setSecret", "ffffffff-0000-0000-0000-00000000000f"
		}, rotator.ErrTokenNotFound},
		{"token not AWSPENDING", func(f *fixture) (string, string) {
			f.beginRotation(token)
			other := f.putUnlabelledVersion()
			return "setSecret", other
		}, rotator.ErrTokenNotPending},
		{"token not AWSPENDING (finishSecret)", func(f *fixture) (string, string) {
			f.beginRotation(token)
			other := f.putUnlabelledVersion()
			return "finishSecret", other
		}, rotator.ErrTokenNotPending},
		{"setSecret before createSecret", func(f *fixture) (string, string) { f.beginRotation(token); return "setSecret", token }, rotator.ErrPendingValueMissing},
		{"finishSecret before createSecret", func(f *fixture) (string, string) { f.beginRotation(token); return "finishSecret", token }, rotator.ErrPendingValueMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			step, tok := tt.setup(f)
			before := f.srv.StagesOf(f.arn)
			err := f.step(step, tok)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var se *rotator.StepError
			if !errors.As(err, &se) || se.Step != rotator.Step(step) {
				t.Fatalf("error is not a StepError for %s: %T", step, err)
			}
			if after := f.srv.StagesOf(f.arn); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a rejected step changed the stages: %v -> %v", before, after)
			}
			if f.target.password("app") != initialPW {
				t.Fatal("a rejected step changed the target")
			}
		})
	}
}

func TestTokenAlreadyCurrentIsANoop(t *testing.T) {
	f := newFixture(t)
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if !out.Succeeded {
		t.Fatal(out.Err)
	}
	pw := f.target.password("app")
	finishes := f.target.finishes
	f.srv.ResetCalls()
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if err := f.step(step, out.Token); err != nil {
			t.Fatalf("%s on a current token: %v", step, err)
		}
	}
	for _, c := range f.srv.Calls() {
		if c.Operation == "PutSecretValue" || c.Operation == "UpdateSecretVersionStage" {
			t.Fatalf("a replay of a finished rotation wrote: %s", c.Operation)
		}
	}
	if f.target.password("app") != pw || f.target.sets != 1 {
		t.Fatal("a replay changed the target")
	}
	// The after-promotion clean-up is idempotent and runs again, so that a
	// crash between promotion and clean-up is completed by the retry.
	if f.target.finishes != finishes+1 {
		t.Fatalf("AfterPromotion ran %d times, want %d", f.target.finishes, finishes+1)
	}
}

func TestFailedStepIsRetriedAndCurrentKeepsWorking(t *testing.T) {
	f := newFixture(t)
	failures := 1
	f.strat.failSet = func() error {
		if failures > 0 {
			failures--
			return errors.New("connection reset")
		}
		return nil
	}
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if !out.Succeeded || out.Attempts != 2 {
		t.Fatalf("want success on attempt 2: %+v", out)
	}
	if f.target.login(f.current()) != nil {
		t.Fatal("AWSCURRENT does not log in")
	}
}

func TestFailingRotationLeavesCurrentWorking(t *testing.T) {
	f := newFixture(t)
	f.strat.failSet = func() error { return errors.New("permission denied") }
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if out.Succeeded {
		t.Fatal("rotation succeeded although setSecret always fails")
	}
	cur := f.current()
	if cur.Password() != initialPW || f.target.login(cur) != nil {
		t.Fatal("AWSCURRENT changed or stopped working after a failed rotation")
	}
	if len(f.errs) == 0 {
		t.Fatal("no error reached the caller")
	}
	for _, e := range f.errs {
		if !strings.Contains(e.Error(), "permission denied") || !strings.Contains(e.Error(), rotator.Redacted) {
			t.Fatalf("error lost its cause or was not scrubbed: %v", e)
		}
	}
}

func TestPanicIsScrubbedAndReturned(t *testing.T) {
	f := newFixture(t)
	f.strat.panicSet = true
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if out.Succeeded {
		t.Fatal("rotation succeeded although setSecret panics")
	}
	if len(f.errs) == 0 || !strings.Contains(f.errs[0].Error(), "panic") {
		t.Fatalf("panic not turned into an error: %v", f.errs)
	}
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	f := newFixture(t)
	f.srv.InjectFault("GetSecretValue", rotatortest.Fault{ErrorType: "ThrottlingException", Status: 400, Message: "Rate exceeded", Times: 2})
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if !out.Succeeded || out.Attempts != 1 {
		t.Fatalf("throttling should be absorbed by the SDK's retries: %+v", out)
	}
}

func TestAPIPasswordsOption(t *testing.T) {
	f := newFixture(t)
	policy := rotator.PasswordPolicy{Length: 40, ExcludePunctuation: true, RequireEachIncludedType: true}
	gen, err := rotator.NewAPIPasswords(f.srv.Client(), policy)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rotator.New(f.srv.Client(), f.strat, rotator.WithPasswordGenerator(gen), rotator.WithLogger(f.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv.ResetCalls()
	out, _ := rotatortest.Rotate(t, f.srv, f.arn, f.handle)
	if !out.Succeeded {
		t.Fatal(out.Err)
	}
	if n := f.srv.CallCounts()["GetRandomPassword"]; n != 1 {
		t.Fatalf("GetRandomPassword called %d times", n)
	}
	pw := f.current().Password()
	if len(pw) != 40 || strings.ContainsAny(pw, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") {
		t.Fatalf("password does not follow the policy (len %d)", len(pw))
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, rotator.WithDryRun(true))
	token := "12121212-0000-0000-0000-000000000012"
	f.beginRotation(token)
	before := f.srv.StagesOf(f.arn)
	f.srv.ResetCalls()
	if err := f.step("createSecret", token); err != nil {
		t.Fatal(err)
	}
	if err := f.step("finishSecret", token); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.srv.Calls() {
		if c.Operation == "PutSecretValue" || c.Operation == "UpdateSecretVersionStage" {
			t.Fatalf("dry run wrote: %s", c.Operation)
		}
	}
	if fmt.Sprint(f.srv.StagesOf(f.arn)) != fmt.Sprint(before) {
		t.Fatal("dry run changed the stages")
	}
}

func TestMalformedCurrentSecret(t *testing.T) {
	srv := rotatortest.NewServer()
	defer srv.Close()
	arn := srv.MustCreateSecret(t, "broken", `{"username":"app","password":"s3cr3t-in-broken-json"`)
	var logs bytes.Buffer
	h, err := rotator.New(srv.Client(), &trivial{t: newTarget("app", "target-password-for-broken")}, rotator.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	var got error
	srv.RegisterFunction(lambdaARN, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		err := h.Handle(ctx, ev)
		if got == nil {
			got = err
		}
		return err
	})
	out, _ := rotatortest.Rotate(t, srv, arn, h.Handle)
	if out.Succeeded {
		t.Fatal("rotated a malformed secret")
	}
	err = out.Err
	if !errors.Is(err, rotator.ErrMalformedSecret) && !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(logs.String(), "s3cr3t") {
		t.Fatal("the malformed value leaked")
	}
	if v, _ := srv.ValueOf(arn, srv.VersionOf(arn, "AWSCURRENT")); !strings.Contains(v, "s3cr3t-in-broken-json") {
		t.Fatal("AWSCURRENT changed")
	}
}
