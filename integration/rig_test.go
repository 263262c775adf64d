package integration

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// rig is what the PostgreSQL rig (pgRig) and the MySQL rig (myRig) share:
// one secret in a fake Secrets Manager, rotated by real handlers that
// rotatortest's RotateSecret invokes, and the leak check of every password
// the rig held. The engine's rig embeds it and supplies the login check
// and the strategy.
type rig struct {
	t      *testing.T
	sm     *rotatortest.Server
	arn    string
	logs   *rotatortest.LogBuffer
	seen   []string // every password this rig ever held, for the leak check
	handle rotatortest.RotationFunc

	kind    strategyKind
	opts    []rotator.Option
	altOpts []alternating.Option

	// unique is the test server package's UniqueName.
	unique func(prefix string) string
	// canLogin tries a secret's credentials against the real server.
	canLogin func(*rotator.Secret) error

	mu   sync.Mutex // guards errs: sandboxes may run at once
	errs []string
	// masterARN is the master secret an alternating rig stored ("" otherwise).
	masterARN string
}

// init stores secret as the rig's secret (named by unique("rds/app")) and
// registers the leak check. The engine's rig then sets handle.
func (r *rig) init(t *testing.T, secret *rotator.Secret, unique func(string) string, canLogin func(*rotator.Secret) error) {
	t.Helper()
	r.t, r.sm, r.logs, r.unique, r.canLogin = t, rotatortest.NewServer(), &rotatortest.LogBuffer{}, unique, canLogin
	t.Cleanup(r.sm.Close)
	r.seen = append(r.seen, secret.Password())
	value, err := secret.Value()
	if err != nil {
		t.Fatal(err)
	}
	r.arn = r.sm.MustCreateSecret(t, unique("rds/app"), value)
	t.Cleanup(r.assertNoLeaks)
}

// sandboxWith returns a new handler for the rig's secret with the given
// strategy (and its own engine), as a separate Lambda sandbox would have.
// Errors it returns are kept for the leak check.
func (r *rig) sandboxWith(strategy rotator.Strategy) rotatortest.RotationFunc {
	r.t.Helper()
	h, err := rotator.New(r.sm.Client(), strategy, append([]rotator.Option{rotator.WithLogger(r.logs.Logger())}, r.opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		err := h.Handle(ctx, ev)
		if err != nil {
			r.mu.Lock()
			r.errs = append(r.errs, err.Error())
			r.mu.Unlock()
		}
		return err
	}
}

// rotate runs one rotation through RotateSecret and returns the outcome.
func (r *rig) rotate() rotatortest.RotationOutcome {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	for _, id := range []string{r.sm.VersionOf(r.arn, "AWSCURRENT"), r.sm.VersionOf(r.arn, "AWSPENDING")} {
		if s := r.valueAt(id); s != nil {
			r.seen = append(r.seen, s.Password())
		}
	}
	return out
}

// valueAt is the rig's secret at a version (nil: none).
func (r *rig) valueAt(versionID string) *rotator.Secret {
	r.t.Helper()
	return secretAt(r.t, r.sm, r.arn, versionID)
}

// secretAt parses a secret's value at a version; nil when versionID is ""
// or names no version.
func secretAt(t *testing.T, sm *rotatortest.Server, arn, versionID string) *rotator.Secret {
	t.Helper()
	if versionID == "" {
		return nil
	}
	v, ok := sm.ValueOf(arn, versionID)
	if !ok {
		return nil
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *rig) stage(stage string) *rotator.Secret {
	r.t.Helper()
	s := r.valueAt(r.sm.VersionOf(r.arn, stage))
	if s == nil {
		r.t.Fatalf("no %s value", stage)
	}
	return s
}

// putCurrent replaces AWSCURRENT (test set-up only).
func (r *rig) putCurrent(s *rotator.Secret) {
	r.t.Helper()
	v, err := s.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.sm.Client().PutSecretValue(context.Background(), putCurrentInput(r.arn, v)); err != nil {
		r.t.Fatal(err)
	}
}

// storeSecret stores another secret in the rig's Secrets Manager (a master
// secret, another application's secret) and returns its ARN.
func (r *rig) storeSecret(prefix string, s *rotator.Secret) string {
	r.t.Helper()
	v, err := s.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	r.seen = append(r.seen, s.Password())
	return r.sm.MustCreateSecret(r.t, r.unique(prefix), v)
}

// setMaster stores master as the master secret (named by
// unique("rds/master")) and names it in AWSCURRENT's "masterarn", with the
// extra fields.
func (r *rig) setMaster(master *rotator.Secret, extra map[string]string) {
	r.t.Helper()
	r.masterARN = r.storeSecret("rds/master", master)
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.masterARN)
	for k, v := range extra {
		cur.SetString(k, v)
	}
	r.putCurrent(cur)
}

// getSecret reads a secret's AWSCURRENT value from the rig's Secrets
// Manager, as a function's preflight does (rotator.PreflightInput).
func (r *rig) getSecret(ctx context.Context, id string) (*rotator.Secret, string, error) {
	out, err := r.sm.Client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		return nil, "", err
	}
	s, err := rotator.ParseSecret(aws.ToString(out.SecretString))
	return s, aws.ToString(out.ARN), err
}

// assertNoLeaks fails the test when a password the rig held appears in the
// handlers' logs or in an error they returned.
func (r *rig) assertNoLeaks() {
	logs := r.logs.String()
	r.mu.Lock()
	errs := r.errs
	r.mu.Unlock()
	for _, pw := range r.seen {
		if pw == "" {
			continue
		}
		if strings.Contains(logs, pw) {
			r.t.Errorf("a password appears in the handler's logs")
		}
		for _, e := range errs {
			if strings.Contains(e, pw) {
				r.t.Errorf("a password appears in a returned error")
			}
		}
	}
}

// step delivers one step of the rotation token to the rig's handler.
func (r *rig) step(step, token string) error {
	return r.handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token})
}

// beginRotation leaves the token at AWSPENDING with no value, as Secrets
// Manager does before it invokes createSecret (the function ARN is not
// registered, so the server invokes nothing): the test drives the steps.
func (r *rig) beginRotation(token string) {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, nil, rotatortest.WithToken(token), rotatortest.WithLambdaARN(rotatortest.FunctionARN("unregistered")))
	if r.sm.VersionOf(r.arn, "AWSPENDING") != token {
		r.t.Fatalf("token not pending after RotateSecret: %+v", out)
	}
}

// assertSingleUserRotations runs n single-user rotations with the
// everyChar generator: after each, AWSCURRENT logs in, the password it
// replaced does not, and the new one holds every printable character.
func (r *rig) assertSingleUserRotations(n int) {
	r.t.Helper()
	old := r.stage("AWSCURRENT")
	for i := 1; i <= n; i++ {
		out := r.rotate()
		if !out.Succeeded {
			r.t.Fatalf("rotation %d: %v", i, out.Err)
		}
		cur := r.stage("AWSCURRENT")
		if err := r.canLogin(cur); err != nil {
			r.t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
		}
		if err := r.canLogin(old); err == nil {
			r.t.Fatalf("rotation %d: the old password still logs in", i)
		}
		if cur.Password() == old.Password() || len(cur.Password()) != len(printable) {
			r.t.Fatalf("rotation %d: password not replaced by an every-character one", i)
		}
		old = cur
	}
}

// assertAlternatingRotations runs n alternating-users rotations: AWSCURRENT
// names clone, then base, in turn, and logs in; AWSPREVIOUS (the other
// user) keeps working; the password changes every time.
func (r *rig) assertAlternatingRotations(base, clone string, n int) {
	r.t.Helper()
	var previous *rotator.Secret
	for i := 1; i <= n; i++ {
		out := r.rotate()
		if !out.Succeeded {
			r.t.Fatalf("rotation %d: %v", i, out.Err)
		}
		cur := r.stage("AWSCURRENT")
		want := clone
		if i%2 == 0 {
			want = base
		}
		if cur.Username() != want {
			r.t.Fatalf("rotation %d: AWSCURRENT user %q, want %q", i, cur.Username(), want)
		}
		if err := r.canLogin(cur); err != nil {
			r.t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
		}
		if err := r.canLogin(r.stage("AWSPREVIOUS")); err != nil {
			r.t.Fatalf("rotation %d: AWSPREVIOUS (the other user) stopped working: %v", i, err)
		}
		if previous != nil && previous.Password() == cur.Password() {
			r.t.Fatalf("rotation %d: password not changed", i)
		}
		previous = cur
	}
}

// deliverTwice runs step for token on both sandboxes at once, as two Lambda
// sandboxes given the same event do, and returns both errors.
func (r *rig) deliverTwice(a, b rotatortest.RotationFunc, step, token string) [2]error {
	r.t.Helper()
	ev := events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token}
	var (
		errs  [2]error
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i, fn := range []rotatortest.RotationFunc{a, b} {
		wg.Go(func() {
			<-start
			errs[i] = fn(context.Background(), ev)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// rotateWithDuplicateSet runs one rotation step by step, delivering
// setSecret to two sandboxes at once; it fails the test unless both
// deliveries succeed, the pending password logs in, and the rotation
// finishes. The test's own login stands in for testSecret (one connection
// fewer per iteration).
func (r *rig) rotateWithDuplicateSet(a, b rotatortest.RotationFunc, token string) {
	r.t.Helper()
	r.beginRotation(token)
	if err := r.step("createSecret", token); err != nil {
		r.t.Fatalf("token %s: createSecret: %v", token, err)
	}
	pending := r.valueAt(token)
	r.seen = append(r.seen, pending.Password())
	for i, err := range r.deliverTwice(a, b, "setSecret", token) {
		if err != nil {
			r.t.Errorf("token %s: setSecret delivery %d of 2: %v", token, i+1, err)
		}
	}
	if err := r.canLogin(pending); err != nil {
		r.t.Fatalf("token %s: the pending password does not log in after two setSecrets at once: %v", token, err)
	}
	if err := r.step("finishSecret", token); err != nil {
		r.t.Fatalf("token %s: finishSecret: %v", token, err)
	}
	if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got != token {
		r.t.Fatalf("token %s: AWSCURRENT is %s", token, got)
	}
	if r.t.Failed() {
		r.t.FailNow()
	}
}

// withPort points a secret at host:port (the fault matrices' proxy).
func withPort(t *testing.T, s *rotator.Secret, host string, port int) *rotator.Secret {
	t.Helper()
	s.SetString(rotator.FieldHost, host)
	if err := s.Set(rotator.FieldPort, port); err != nil {
		t.Fatal(err)
	}
	return s
}

// rotateEach rotates each rig n times in turn, failing the test at the
// first rotation that does not succeed.
func rotateEach(t *testing.T, n int, rigs ...*rig) {
	t.Helper()
	for range n {
		for _, r := range rigs {
			if out := r.rotate(); !out.Succeeded {
				t.Fatal(out.Err)
			}
		}
	}
}

// assertStagesNotIn fails the test when a rig's AWSCURRENT or AWSPREVIOUS
// password appears in log (every statement a server received).
func assertStagesNotIn(t *testing.T, log string, rigs ...*rig) {
	t.Helper()
	for _, r := range rigs {
		for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			if strings.Contains(log, r.stage(stage).Password()) {
				t.Fatal("a generated password reached the server in plaintext")
			}
		}
	}
}
