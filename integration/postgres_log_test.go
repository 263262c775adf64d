package integration

import (
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
)

// TestPostgresPlaintextNeverReachesServer rotates both kinds with
// log_statement = all (pgtest's local servers log every statement) and
// looks for every password the rotations generated in the server's log.
func TestPostgresPlaintextNeverReachesServer(t *testing.T) {
	pg := pgtest.Shared(t)
	user := pgtest.UniqueName("logged")
	pw := pgtest.RandomPassword(32)
	pg.CreateRole(t, user, pw, "LOGIN")
	singleRig := newPGRig(t, pg, singleUser, pg.Secret(user, pw))
	altRig := alternatingRig(t, pg, pgtest.UniqueName("logged_alt"), nil)
	rotateEach(t, 2, &singleRig.rig, &altRig.rig)
	log := pg.WaitLog(t, "ALTER ROLE")
	if !strings.Contains(log, "ALTER ROLE") {
		t.Fatal("the server log shows no ALTER ROLE: log_statement=all is not in effect, so this test would prove nothing")
	}
	assertStagesNotIn(t, log, &singleRig.rig, &altRig.rig)
}
