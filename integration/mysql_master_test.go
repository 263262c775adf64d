package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// rdsMariaDBMasterGrant is what RDS gives the master user of a MariaDB
// instance: no SUPER, every other common privilege WITH GRANT OPTION.
const rdsMariaDBMasterGrant = "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO %s WITH GRANT OPTION"

// TestMySQLAlternatingWithRDSLikeMaster rotates with a master like RDS's
// MariaDB master (no SUPER), on a server where the clone marker role was
// made by another administrator, with a base user that has a role.
func TestMySQLAlternatingWithRDSLikeMaster(t *testing.T) {
	db := myShared(t)
	master, masterPW := mariadbtest.UniqueName("rdsmaster"), mariadbtest.RandomPassword(30)
	db.CreateUser(t, master, mariadbtest.UserHost, masterPW, rdsMariaDBMasterGrant)
	role := mariadbtest.UniqueName("approle")
	db.Exec(t, "CREATE ROLE "+role, "GRANT SELECT ON "+role+"_db.* TO "+role)
	base := mariadbtest.UniqueName("rdsapp")
	pw := mariadbtest.RandomPassword(30)
	db.CreateUser(t, base, mariadbtest.UserHost, pw, "GRANT SELECT ON "+base+"_db.* TO %s", "GRANT "+role+" TO %s")
	r := newMyRig(t, db, alternatingUsers, db.Secret(base, pw), myRigConfig{})
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", db.Secret(master, masterPW)))
	r.putCurrent(cur)
	// The marker role was made by another administrator (myShared): the
	// first attempt fails naming what to grant, and leaves nothing behind.
	out := r.rotate()
	if out.Succeeded {
		t.Fatal("the master granted a role it holds no ADMIN OPTION on")
	}
	{
		t.Logf("first attempt: %v", out.Err)
		if !errors.Is(out.Err, rotator.ErrPermission) || !strings.Contains(out.Err.Error(), "WITH ADMIN OPTION") {
			t.Fatalf("the error does not say what the master lacks: %v", out.Err)
		}
		if n := len(db.Query(t, "SELECT 1 FROM mysql.user WHERE User = ?", base+"_clone")); n != 0 {
			t.Fatal("an unmarked clone was left behind: the next attempt would refuse it as someone else's")
		}
		// What the master lacks is named; grant it and let Secrets Manager
		// retry.
		db.Exec(t, "GRANT rotator_clone TO "+mariadbtest.Account(master, mariadbtest.UserHost)+" WITH ADMIN OPTION",
			"GRANT "+role+" TO "+mariadbtest.Account(master, mariadbtest.UserHost)+" WITH ADMIN OPTION")
		if again, ok := r.sm.ResumeRotation(r.arn); !ok || !again.Succeeded {
			t.Fatalf("reattempt: %+v", again)
		}
	}
	for i := 0; i < 3; i++ {
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i+2, out.Err)
		}
		for _, s := range []*rotator.Secret{r.stage("AWSCURRENT"), r.stage("AWSPREVIOUS")} {
			if err := r.login(s); err != nil {
				t.Fatal(err)
			}
		}
	}
}
