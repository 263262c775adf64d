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
	for i := 0; i < 2; i++ {
		for _, r := range []*pgRig{singleRig, altRig} {
			if out := r.rotate(); !out.Succeeded {
				t.Fatal(out.Err)
			}
		}
	}
	log := pg.ReadLog(t)
	if !strings.Contains(log, "ALTER ROLE") {
		t.Fatal("the server log shows no ALTER ROLE: log_statement=all is not in effect, so this test would prove nothing")
	}
	var generated []string
	for _, r := range []*pgRig{singleRig, altRig} {
		for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			generated = append(generated, r.stage(stage).Password())
		}
	}
	for _, g := range generated {
		if strings.Contains(log, g) {
			t.Fatal("a generated password reached the server in plaintext")
		}
	}
}
