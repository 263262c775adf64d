package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestPostgresSingleUserRetries replays steps the way Secrets Manager's
// retries and Lambda's double deliveries do, against the real server.
func TestPostgresSingleUserRetries(t *testing.T) {
	pg := pgtest.Shared(t)
	user := pgtest.UniqueName("retry")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	r := newPGRig(t, pg, singleUser, pg.Secret(user, pw))
	token := "0a0a0a0a-1111-2222-3333-444444444444"
	r.beginRotation(token)

	for _, step := range []string{"createSecret", "setSecret", "setSecret", "createSecret", "testSecret", "setSecret", "testSecret"} {
		if err := r.step(step, token); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	pending := r.valueAt(token)
	if err := r.login(pending); err != nil {
		t.Fatalf("pending does not log in after replays: %v", err)
	}
	// Before finishSecret, AWSCURRENT no longer logs in: that is what
	// setSecret's fall-back to the pending password is for.
	if err := r.step("finishSecret", token); err != nil {
		t.Fatal(err)
	}
	if err := r.step("finishSecret", token); err != nil {
		t.Fatalf("finishSecret replayed: %v", err)
	}
	if r.sm.VersionOf(r.arn, "AWSCURRENT") != token {
		t.Fatal("token not promoted")
	}
	r.seen = append(r.seen, pending.Password())
}

func TestPostgresPendingMustNameTheSameUser(t *testing.T) {
	pg := pgtest.Shared(t)
	user, other := pgtest.UniqueName("mine"), pgtest.UniqueName("theirs")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	otherPW := pgtest.RandomPassword(30)
	pg.CreateRole(t, other, otherPW, "LOGIN")
	r := newPGRig(t, pg, singleUser, pg.Secret(user, pw))
	token := "0b0b0b0b-1111-2222-3333-444444444444"
	r.beginRotation(token)
	// Someone stores a pending value naming another user: setSecret must
	// not change that user's password.
	hostile := r.stage("AWSCURRENT")
	hostile.SetString(rotator.FieldUsername, other)
	hostile.SetString(rotator.FieldPassword, "attacker-chosen-password-1")
	v, _ := hostile.Value()
	if _, err := r.sm.Client().PutSecretValue(context.Background(), putPendingInput(r.arn, token, v)); err != nil {
		t.Fatal(err)
	}
	r.seen = append(r.seen, "attacker-chosen-password-1", otherPW)
	err := r.step("setSecret", token)
	if !errors.Is(err, rotator.ErrPendingMismatch) || !strings.Contains(err.Error(), `"username"`) {
		t.Fatalf("err = %v, want ErrPendingMismatch naming the field", err)
	}
	if err := r.login(pg.Secret(other, otherPW)); err != nil {
		t.Fatalf("the other user's password changed: %v", err)
	}
}

func TestPostgresAlternatingNameTooLong(t *testing.T) {
	pg := pgtest.Shared(t)
	base := pgtest.UniqueName(strings.Repeat("l", 50)) // 61 bytes: the clone would need 67
	r := alternatingRig(t, pg, base, nil)
	out := r.rotate()
	if out.Succeeded {
		t.Fatal("rotated to a clone whose name exceeds 63 bytes")
	}
	if !errors.Is(out.Err, rotator.ErrInvalidField) || !strings.Contains(out.Err.Error(), "63 bytes") {
		t.Fatalf("err = %v", out.Err)
	}
	if err := r.login(r.stage("AWSCURRENT")); err != nil {
		t.Fatal(err)
	}
}
