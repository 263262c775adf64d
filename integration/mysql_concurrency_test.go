package integration

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

func (r *myRig) step(step, token string) error {
	return r.handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token})
}

// rotateWithDuplicateSet runs one rotation step by step, delivering
// setSecret to two sandboxes at once; both deliveries must succeed, the
// pending password log in, and the rotation finish.
func (r *myRig) rotateWithDuplicateSet(a, b rotatortest.RotationFunc, token string) {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, nil, rotatortest.WithToken(token), rotatortest.WithLambdaARN(rotatortest.FunctionARN("unregistered")))
	if r.sm.VersionOf(r.arn, "AWSPENDING") != token {
		r.t.Fatalf("token not pending after RotateSecret: %+v", out)
	}
	if err := r.step("createSecret", token); err != nil {
		r.t.Fatalf("token %s: createSecret: %v", token, err)
	}
	pending := r.valueAt(token)
	r.seen = append(r.seen, pending.Password())
	ev := events.SecretsManagerSecretRotationEvent{Step: "setSecret", SecretID: r.arn, ClientRequestToken: token}
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
	for i, err := range errs {
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

// TestMySQLConcurrentSetSecretSingleUser delivers each rotation's
// setSecret twice at once.
func TestMySQLConcurrentSetSecretSingleUser(t *testing.T) {
	db := myShared(t)
	r := newMyRig(t, db, singleUser, myUser(t, db, "twice"), myRigConfig{})
	a, b := r.sandbox(), r.sandbox()
	for i := range concurrentIterations {
		r.rotateWithDuplicateSet(a, b, concurrentToken(i))
	}
}

// TestMySQLConcurrentSetSecretAlternatingUsers does the same as the master:
// half the rotations are a first one, where both deliveries create the
// clone and copy the grants at once.
func TestMySQLConcurrentSetSecretAlternatingUsers(t *testing.T) {
	db := myShared(t)
	for i := range concurrentIterations / 2 {
		r := myAlternatingRig(t, db, mariadbtest.UniqueName("twice_alt"), nil, myRigConfig{})
		db.Exec(t, "GRANT SELECT ON mysql_twice_db.* TO "+mariadbtest.Account(r.stage("AWSCURRENT").Username(), mariadbtest.UserHost))
		a, b := r.sandbox(), r.sandbox()
		for j := range 2 {
			r.rotateWithDuplicateSet(a, b, concurrentToken(2*i+j))
		}
	}
}
