package integration

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
)

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
