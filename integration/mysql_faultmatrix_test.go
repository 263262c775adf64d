package integration

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestMySQLFaultMatrix runs the fault matrix (faultmatrix_test.go) for
// single and alternating users against one MariaDB (or MySQL) server
// without TLS behind the proxy, so that the proxy sees the statements.
func TestMySQLFaultMatrix(t *testing.T) {
	// The matrices of the two engines wait on backoffs and deadlines
	// more than they compute: they run side by side, each on its own
	// server and proxy, after the package's other tests.
	t.Parallel()
	db := myShared(t, mariadbtest.WithoutTLS())
	target := mysqlFMTarget(db)
	// Alternating users converge too: a clone left unmarked by a lost
	// connection between CREATE USER and the marker's GRANT is adopted on
	// the retry (the engine's strandedClone).
	results, started := runFaultMatrix(t, target, []strategyKind{singleUser, alternatingUsers})
	reportFaultMatrix(t, "MySQL/MariaDB "+db.Version, results, started)
}

func mysqlFMTarget(db *mariadbtest.Server) *fmTarget {
	// The first statement that gives an account a password: MariaDB's SET
	// PASSWORD FOR and CREATE USER ... IDENTIFIED BY PASSWORD (a clone),
	// MySQL's ALTER/CREATE USER ... IDENTIFIED WITH.
	change := []byte("PASSWORD ")
	if !db.MariaDB {
		change = []byte("IDENTIFIED WITH")
	}
	f := &fmTarget{
		addr: net.JoinHostPort(db.Host, strconv.Itoa(db.Port)),
		newRole: func(t *testing.T, prefix string) (string, string) {
			user, pw := mariadbtest.UniqueName(prefix), mariadbtest.RandomPassword(30)
			db.CreateUser(t, user, mariadbtest.UserHost, pw)
			db.CreateUser(t, mariadbtest.UniqueName(prefix+"_by"), mariadbtest.UserHost, mariadbtest.RandomPassword(30))
			return user, pw
		},
		snapshot: func(t *testing.T, skip []string) map[string]string {
			t.Helper()
			m := map[string]string{}
			for _, line := range strings.Split(mySnapshot(t, db), "\n") {
				if slices.ContainsFunc(strings.Fields(line), func(f string) bool { return slices.Contains(skip, f) }) {
					continue
				}
				m[line] = ""
			}
			return m
		},
		strategy: func(kind strategyKind) rotator.Strategy {
			return newMyStrategy(kind, mysql.New(), nil)
		},
		clone:      func(base string) string { return base + "_clone" },
		change:     change,
		loginQuery: []byte("CURRENT_USER()"),
	}
	f.setServer(db.Secret, db.SuperUser, db.SuperPassword, db.CanLogin)
	return f
}
