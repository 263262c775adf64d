package integration

import (
	"fmt"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
)

// concurrentIterations is how many rotations each concurrency test runs.
// Before SetPassword serialised on the role, one setSecret in about three
// failed with "tuple concurrently updated" (SQLSTATE XX000).
const concurrentIterations = 40

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
