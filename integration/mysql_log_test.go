package integration

import (
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
)

// TestMySQLPlaintextNeverReachesServer rotates both kinds with the general
// log on (every statement the server receives) and looks for every
// password the rotations generated in it.
func TestMySQLPlaintextNeverReachesServer(t *testing.T) {
	db := myShared(t)
	singleRig := newMyRig(t, db, singleUser, myUser(t, db, "logged"), myRigConfig{})
	altRig := myAlternatingRig(t, db, mariadbtest.UniqueName("logged_alt"), nil, myRigConfig{})
	rotateEach(t, 3, &singleRig.rig, &altRig.rig)
	log := db.ReadLog(t)
	for _, want := range []string{"SET PASSWORD FOR", "CREATE USER `" + altRig.stage("AWSPREVIOUS").Username()} {
		if !strings.Contains(log, want) {
			t.Fatalf("the general log shows no %q: it is not logging every statement, so this test would prove nothing", want)
		}
	}
	assertStagesNotIn(t, log, &singleRig.rig, &altRig.rig)
}
