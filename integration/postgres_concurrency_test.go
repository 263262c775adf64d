package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// concurrentIterations is how many rotations each concurrency test runs.
// Before SetPassword serialised on the role, one setSecret in about three
// failed with "tuple concurrently updated" (SQLSTATE XX000).
const concurrentIterations = 40

// deliverTwice runs step for token on both sandboxes at once, as two Lambda
// sandboxes given the same event do, and returns both errors.
func (r *pgRig) deliverTwice(a, b rotatortest.RotationFunc, step, token string) [2]error {
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
func (r *pgRig) rotateWithDuplicateSet(a, b rotatortest.RotationFunc, token string) {
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
	if err := r.login(pending); err != nil {
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

func concurrentToken(i int) string {
	return fmt.Sprintf("c0c0c0c0-%04d-4000-8000-000000000000", i)
}

// TestPostgresConcurrentSetSecretSingleUser delivers each rotation's
// setSecret twice at once: both log in with the current password, or the
// second finds it already replaced and falls back to the pending one.
func TestPostgresConcurrentSetSecretSingleUser(t *testing.T) {
	pg := pgtest.Shared(t)
	user := pgtest.UniqueName("twice")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	r := newPGRig(t, pg, singleUser, pg.Secret(user, pw))
	a, b := r.sandbox(), r.sandbox()
	for i := range concurrentIterations {
		r.rotateWithDuplicateSet(a, b, concurrentToken(i))
	}
}

// TestPostgresConcurrentSetSecretAlternatingUsers does the same as the
// master: EnsureUser and SetPassword twice at once. Each secret is rotated
// twice, so half the rotations are the first one, which creates the clone
// (both deliveries try to create it), and half set the base user's password.
func TestPostgresConcurrentSetSecretAlternatingUsers(t *testing.T) {
	pg := pgtest.Shared(t)
	for i := range concurrentIterations / 2 {
		r := alternatingRig(t, pg, pgtest.UniqueName("twice_alt"), nil)
		a, b := r.sandbox(), r.sandbox()
		for j := range 2 {
			r.rotateWithDuplicateSet(a, b, concurrentToken(2*i+j))
		}
	}
}
