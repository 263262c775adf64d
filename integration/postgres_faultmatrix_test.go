package integration

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/faultproxy"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

// TestPostgresFaultMatrix runs the fault matrix (faultmatrix_test.go) for
// single and alternating users against one PostgreSQL server behind the
// proxy. The server runs without TLS so that the proxy can see the
// statements it cuts at (the engine then insists on SCRAM).
func TestPostgresFaultMatrix(t *testing.T) {
	// The matrices of the two engines wait on backoffs and deadlines
	// more than they compute: they run side by side, each on its own
	// server and proxy, after the package's other tests.
	t.Parallel()
	pg := pgtest.Shared(t)
	if pg.TLS {
		t.Skip("the shared server uses TLS: the proxy cannot see the statements")
	}
	target := postgresFMTarget(t, pg)
	kinds := []strategyKind{singleUser, alternatingUsers}
	results, started := runFaultMatrix(t, target, kinds)
	reportFaultMatrix(t, "PostgreSQL "+pg.Version, results, started)
}

func postgresFMTarget(t *testing.T, pg *pgtest.Server) *fmTarget {
	t.Helper()
	admin := pg.Admin(t)
	f := &fmTarget{
		addr: net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)),
		newRole: func(t *testing.T, prefix string) (string, string) {
			user, pw := pgtest.UniqueName(prefix), pgtest.RandomPassword(30)
			pg.CreateRole(t, user, pw, "LOGIN")
			// A bystander with a password: it must never change.
			pg.CreateRole(t, pgtest.UniqueName(prefix+"_by"), pgtest.RandomPassword(30), "LOGIN")
			return user, pw
		},
		snapshot: func(t *testing.T, skip []string) map[string]string {
			t.Helper()
			// Roles of this matrix and the superuser: on a server shared
			// with other test binaries ($ROTATOR_TEST_POSTGRES_DSN) other
			// roles may change meanwhile.
			rows, err := admin.Query(context.Background(), `
				SELECT rolname, concat_ws(' ', coalesce(rolpassword, '-'), rolsuper, rolinherit, rolcreaterole, rolcreatedb,
				       rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, coalesce(rolvaliduntil::text, '-'),
				       (SELECT coalesce(string_agg(array_to_string(setconfig, ','), ';' ORDER BY setdatabase), '-')
				          FROM pg_db_role_setting WHERE setrole = a.oid),
				       (SELECT coalesce(string_agg(m.roleid::regrole::text, ',' ORDER BY m.roleid::regrole::text), '-')
				          FROM pg_auth_members m WHERE m.member = a.oid))
				  FROM pg_authid a
				 WHERE (rolname LIKE 'fm\_%' OR rolname = $1) AND NOT rolname = ANY($2)`, pg.SuperUser, skip)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for rows.Next() {
				var name, state string
				if err := rows.Scan(&name, &state); err != nil {
					t.Fatal(err)
				}
				m[name] = state
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return m
		},
		strategy: func(kind strategyKind) rotator.Strategy {
			engine := postgres.New()
			if kind == alternatingUsers {
				return alternating.New(engine, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength))
			}
			return single.New(engine)
		},
		clone:      func(base string) string { return base + "_clone" },
		change:     []byte(" PASSWORD '"),
		commit:     []byte("commit"),
		reply:      faultproxy.PostgresReady,
		loginQuery: []byte("session_user"),
	}
	f.setServer(pg.Secret, pg.SuperUser, pg.SuperPassword, pg.CanLogin)
	return f
}
