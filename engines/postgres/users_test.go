package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// twinSetup is an RDS-like arrangement: a non-superuser master with
// CREATEROLE and CREATEDB, an application user (the template) with CREATE
// on its own schema.
type twinSetup struct {
	s                  *pgtest.Server
	master, masterPW   string
	base, basePW       string
	twin, twinPW       string
	schema             string
	e                  *Engine
	logs               *logBuffer
	masterSecret       *rotator.Secret
	ctx                context.Context
	baseConn, twinConn func() *pgx.Conn
}

func newTwinSetup(t *testing.T, s *pgtest.Server) *twinSetup {
	ts := &twinSetup{s: s, ctx: ctxT(t)}
	ts.master, ts.masterPW = pgtest.UniqueName("master"), pgtest.RandomPassword(24)
	ts.base, ts.basePW = pgtest.UniqueName("app"), pgtest.RandomPassword(24)
	ts.twin, ts.twinPW = ts.base+"_clone", pgtest.RandomPassword(24)
	ts.schema = pgtest.UniqueName("sch")
	s.CreateRole(t, ts.master, ts.masterPW, "LOGIN", "CREATEROLE", "CREATEDB")
	s.CreateRole(t, ts.base, ts.basePW, "LOGIN")
	s.Exec(t, fmt.Sprintf("CREATE SCHEMA %s; GRANT USAGE, CREATE ON SCHEMA %[1]s TO %s",
		pgx.Identifier{ts.schema}.Sanitize(), pgx.Identifier{ts.base}.Sanitize()))
	allowManage(t, s, ts.master, ts.base)
	ts.e, ts.logs = newEngine(t)
	ts.masterSecret = s.Secret(ts.master, ts.masterPW)
	ts.baseConn = func() *pgx.Conn { return s.Conn(t, ts.base, ts.basePW, "") }
	ts.twinConn = func() *pgx.Conn { return s.Conn(t, ts.twin, ts.twinPW, "") }
	return ts
}

func (ts *twinSetup) ensure(t *testing.T) rotator.EnsureUserResponse {
	t.Helper()
	resp, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: ts.masterSecret, Username: ts.twin, Password: ts.twinPW, Template: ts.base})
	noSecrets(t, err, ts.twinPW, ts.masterPW)
	if err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}
	return resp
}

func (ts *twinSetup) table(name string) string {
	return pgx.Identifier{ts.schema, name}.Sanitize()
}

func exec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s as %q: %v", sql, c.Config().User, err)
	}
}

func count(t *testing.T, c *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s as %q: %v", table, c.Config().User, err)
	}
	return n
}

// interchangeable proves that each user can use what the other creates.
func (ts *twinSetup) interchangeable(t *testing.T, suffix string) {
	t.Helper()
	b, w := ts.baseConn(), ts.twinConn()
	byTwin, byBase := ts.table("by_twin_"+suffix), ts.table("by_base_"+suffix)

	exec(t, w, "CREATE TABLE "+byTwin+" (id int PRIMARY KEY, v text)")
	exec(t, w, "INSERT INTO "+byTwin+" VALUES (1, 'twin')")
	exec(t, b, "INSERT INTO "+byTwin+" VALUES (2, 'base')")
	exec(t, b, "UPDATE "+byTwin+" SET v = 'changed by base' WHERE id = 1")
	exec(t, b, "DELETE FROM "+byTwin+" WHERE id = 2")
	if n := count(t, b, byTwin); n != 1 {
		t.Fatalf("base sees %d rows", n)
	}
	exec(t, b, "ALTER TABLE "+byTwin+" ADD COLUMN extra int") // owner rights

	exec(t, b, "CREATE TABLE "+byBase+" (id int PRIMARY KEY)")
	exec(t, b, "INSERT INTO "+byBase+" VALUES (1)")
	exec(t, w, "INSERT INTO "+byBase+" VALUES (2)")
	exec(t, w, "UPDATE "+byBase+" SET id = 3 WHERE id = 2")
	if n := count(t, w, byBase); n != 2 {
		t.Fatalf("twin sees %d rows", n)
	}

	var owner string
	if err := b.QueryRow(context.Background(), "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2", ts.schema, "by_twin_"+suffix).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != ts.base {
		t.Fatalf("the twin's table is owned by %q, want the template %q", owner, ts.base)
	}
}

func TestPostgresEnsureUserCreatesTwin(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)

	if resp := ts.ensure(t); !resp.Created {
		t.Fatal("Created = false for a new user")
	}
	wantErr(t, ts.e.Login(ts.ctx, s.Secret(ts.twin, ts.twinPW)))

	var session, current string
	if err := ts.twinConn().QueryRow(ts.ctx, "SELECT session_user, current_user").Scan(&session, &current); err != nil {
		t.Fatal(err)
	}
	if session != ts.twin || current != ts.base {
		t.Fatalf("session_user %q current_user %q; want %q and %q", session, current, ts.twin, ts.base)
	}
	if stored := storedPassword(t, s, ts.twin); !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
		t.Fatalf("twin's stored password has the form %.14s", stored)
	}

	ts.interchangeable(t, "first")

	// Grants to the base user after the twin exists reach the twin: on a
	// table, and through a group role.
	later := ts.table("granted_later")
	s.Exec(t, "CREATE TABLE "+later+" (id int); INSERT INTO "+later+" VALUES (42)")
	w := ts.twinConn()
	if _, err := w.Exec(ts.ctx, "SELECT * FROM "+later); err == nil {
		t.Fatal("the twin reads a table nobody granted it")
	}
	s.Exec(t, "GRANT SELECT, INSERT ON "+later+" TO "+pgx.Identifier{ts.base}.Sanitize())
	exec(t, w, "INSERT INTO "+later+" VALUES (43)")
	if n := count(t, w, later); n != 2 {
		t.Fatalf("twin sees %d rows", n)
	}
	group, viaGroup := pgtest.UniqueName("readers"), ts.table("via_group")
	s.CreateRole(t, group, "")
	s.Exec(t, fmt.Sprintf("CREATE TABLE %s (id int); GRANT SELECT ON %[1]s TO %s; GRANT %[2]s TO %s",
		viaGroup, pgx.Identifier{group}.Sanitize(), pgx.Identifier{ts.base}.Sanitize()))
	count(t, ts.twinConn(), viaGroup)
}

// twinState is everything EnsureUser may touch, for idempotence checks.
func twinState(t *testing.T, ts *twinSetup) string {
	t.Helper()
	var out strings.Builder
	c := ts.s.Admin(t)
	rows, err := c.Query(context.Background(), `
		SELECT 'role', concat_ws(' ', rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit, rolvaliduntil, rolpassword, xmin)
		  FROM pg_authid WHERE rolname IN ($1, $2)
		UNION ALL
		SELECT 'member', concat_ws(' ', roleid::regrole, member::regrole, admin_option, m.xmin)
		  FROM pg_auth_members m WHERE member::regrole::text IN (quote_ident($1), quote_ident($2))
		UNION ALL
		SELECT 'setting', concat_ws(' ', setrole::regrole, setdatabase, setconfig, s.xmin)
		  FROM pg_db_role_setting s WHERE setrole::regrole::text IN (quote_ident($1), quote_ident($2))
		ORDER BY 1, 2`, ts.twin, ts.base)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", k, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestPostgresEnsureUserIdempotentOverRotations(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)
	ts.ensure(t)
	first := twinState(t, ts)

	// A second run with another password: nothing changes, not even a
	// catalog row's version (xmin is in the state).
	ts.logs.Reset()
	otherPW := ts.twinPW
	ts.twinPW = pgtest.RandomPassword(24)
	if resp := ts.ensure(t); resp.Created {
		t.Fatal("Created = true for an existing user")
	}
	ts.twinPW = otherPW
	if again := twinState(t, ts); again != first {
		t.Fatalf("a second EnsureUser changed things:\nbefore\n%s\nafter\n%s", first, again)
	}
	if strings.Contains(ts.logs.String(), "aligned") {
		t.Fatalf("a second EnsureUser reported changes:\n%s", ts.logs.String())
	}

	// Alternate rotations: each user's password changes in turn; after
	// every one, EnsureUser changes nothing and the two stay
	// interchangeable.
	for i := range 4 {
		pw := pgtest.RandomPassword(24)
		user := ts.twin
		if i%2 == 1 {
			user = ts.base
		}
		wantErr(t, ts.e.SetPassword(ts.ctx, rotator.SetPasswordRequest{Conn: ts.masterSecret, Username: user, Password: pw}))
		if user == ts.twin {
			ts.twinPW = pw
		} else {
			ts.basePW = pw
		}
		wantErr(t, ts.e.Login(ts.ctx, s.Secret(user, pw)))
		before := twinState(t, ts)
		if resp := ts.ensure(t); resp.Created {
			t.Fatal("Created = true for an existing user")
		}
		if after := twinState(t, ts); after != before {
			t.Fatalf("rotation %d: EnsureUser changed things:\nbefore\n%s\nafter\n%s", i, before, after)
		}
		ts.interchangeable(t, fmt.Sprint(i))
	}
}

func TestPostgresEnsureUserRepairsDrift(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)
	ts.ensure(t)

	b, w := pgx.Identifier{ts.base}.Sanitize(), pgx.Identifier{ts.twin}.Sanitize()
	// The template gains attributes and settings; the twin loses its
	// membership, its role setting and INHERIT, and gains a stray setting.
	s.Exec(t, fmt.Sprintf(`
		ALTER ROLE %[1]s CREATEDB CONNECTION LIMIT 7;
		ALTER ROLE %[1]s SET search_path = '%[3]s', public, '$user', 'My "Odd", Schema';
		ALTER ROLE %[1]s SET statement_timeout = '5s';
		ALTER ROLE %[1]s SET application_name = E'it''s \\ odd, really';
		ALTER ROLE %[1]s IN DATABASE postgres SET lock_timeout = '3s';
		REVOKE %[1]s FROM %[2]s;
		ALTER ROLE %[2]s RESET role;
		ALTER ROLE %[2]s NOINHERIT;
		ALTER ROLE %[2]s SET work_mem = '1MB'`, b, w, ts.schema))

	if resp := ts.ensure(t); resp.Created {
		t.Fatal("Created = true for an existing user")
	}
	if !strings.Contains(ts.logs.String(), "aligned") {
		t.Fatal("no changes reported")
	}

	// The twin's sessions now look exactly like the template's.
	show := func(c *pgx.Conn) string {
		var out strings.Builder
		for _, p := range []string{"search_path", "statement_timeout", "application_name", "lock_timeout", "work_mem", "current_user"} {
			var v string
			q := "SELECT current_setting('" + p + "')"
			if p == "current_user" {
				q = "SELECT current_user"
			}
			if err := c.QueryRow(context.Background(), q).Scan(&v); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s=%s\n", p, v)
		}
		return out.String()
	}
	// (application_name is sent by the client at connect time, so the
	// stored settings below are compared too.)
	if bs, ws := show(ts.baseConn()), show(ts.twinConn()); bs != ws {
		t.Fatalf("sessions differ:\nbase:\n%s\ntwin:\n%s", bs, ws)
	}
	settings := func(role string) string {
		return queryString(t, s, s.SuperUser, s.SuperPassword, `
			SELECT coalesce(string_agg(setdatabase || ':' || array_to_string(setconfig, '|'), ';' ORDER BY setdatabase), '')
			FROM pg_db_role_setting WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`, role)
	}
	want := strings.Replace(settings(ts.base), "0:", "0:role="+ts.base+"|", 1)
	got := settings(ts.twin)
	// Order inside setconfig follows the order of ALTER ROLE SET; compare as sets.
	if norm(got) != norm(want) {
		t.Fatalf("twin settings\n got %s\nwant %s", got, want)
	}
	var createdb, inherit bool
	var connLimit int
	if err := s.Admin(t).QueryRow(ts.ctx, "SELECT rolcreatedb, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = $1", ts.twin).Scan(&createdb, &inherit, &connLimit); err != nil {
		t.Fatal(err)
	}
	if !createdb || !inherit || connLimit != 7 {
		t.Fatalf("twin createdb=%v inherit=%v connlimit=%d", createdb, inherit, connLimit)
	}
	ts.interchangeable(t, "repaired")

	// And now it is stable.
	before := twinState(t, ts)
	ts.logs.Reset()
	ts.ensure(t)
	if after := twinState(t, ts); after != before {
		t.Fatalf("EnsureUser is not stable after a repair:\nbefore\n%s\nafter\n%s", before, after)
	}
	if strings.Contains(ts.logs.String(), "aligned") {
		t.Fatalf("changes reported on a stable pair:\n%s", ts.logs.String())
	}
}

// norm sorts the |-separated items of each ;-separated database entry.
func norm(s string) string {
	var dbs []string
	for _, db := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(db, ":")
		items := strings.Split(v, "|")
		sortStrings(items)
		dbs = append(dbs, k+":"+strings.Join(items, "|"))
	}
	sortStrings(dbs)
	return strings.Join(dbs, ";")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestPostgresEnsureUserPrecreated(t *testing.T) {
	s := pgtest.Shared(t)
	e, _ := newEngine(t)
	ctx := ctxT(t)
	master, masterPW := pgtest.UniqueName("master"), pgtest.RandomPassword(24)
	s.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
	user, nologin := pgtest.UniqueName("precreated"), pgtest.UniqueName("nologin")
	s.CreateRole(t, user, "pw1", "LOGIN")
	s.CreateRole(t, nologin, "")
	state := func() string {
		return queryString(t, s, s.SuperUser, s.SuperPassword,
			"SELECT string_agg(concat_ws(' ', rolname, rolpassword, xmin), ';' ORDER BY rolname) FROM pg_authid WHERE rolname IN ($1, $2)", user, nologin)
	}
	before := state()

	resp, err := e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: s.Secret(master, masterPW), Username: user, Password: "ignored"})
	wantErr(t, err)
	if resp.Created {
		t.Fatal("Created = true")
	}

	missing := pgtest.UniqueName("missing")
	_, err = e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: s.Secret(master, masterPW), Username: missing, Password: "ignored"})
	wantErr(t, err, ErrNoSuchRole)
	if !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %q does not name the user", err)
	}
	t.Logf("error: %v", err)

	_, err = e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: s.Secret(master, masterPW), Username: nologin})
	wantErr(t, err, rotator.ErrLoginFailed)

	if after := state(); after != before {
		t.Fatalf("pre-created mode changed roles:\n%s\n%s", before, after)
	}
	var exists bool
	if err := s.Admin(t).QueryRow(ctx, "SELECT count(*) > 0 FROM pg_roles WHERE rolname = $1", missing).Scan(&exists); err != nil || exists {
		t.Fatalf("pre-created mode created %q (%v)", missing, err)
	}
}

func TestPostgresEnsureUserErrors(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)
	roleExists := func(name string) bool {
		var ok bool
		if err := s.Admin(t).QueryRow(ts.ctx, "SELECT count(*) > 0 FROM pg_roles WHERE rolname = $1", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	t.Run("missing template", func(t *testing.T) {
		tmpl := pgtest.UniqueName("no_template")
		_, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: ts.masterSecret, Username: ts.twin, Password: ts.twinPW, Template: tmpl})
		wantErr(t, err, ErrNoSuchRole)
		if !strings.Contains(err.Error(), tmpl) {
			t.Fatalf("error %q does not name the template", err)
		}
		if roleExists(ts.twin) {
			t.Fatal("the user was created anyway")
		}
	})
	t.Run("master without CREATEROLE", func(t *testing.T) {
		weak, weakPW := pgtest.UniqueName("weak"), pgtest.RandomPassword(20)
		s.CreateRole(t, weak, weakPW, "LOGIN")
		_, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: s.Secret(weak, weakPW), Username: ts.twin, Password: ts.twinPW, Template: ts.base})
		wantErr(t, err, rotator.ErrPermission)
		noSecrets(t, err, ts.twinPW, weakPW)
		t.Logf("error: %v", err)
		if roleExists(ts.twin) {
			t.Fatal("the user was created anyway")
		}
	})
	t.Run("user is its own template", func(t *testing.T) {
		_, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: ts.masterSecret, Username: ts.base, Password: "x", Template: ts.base})
		wantErr(t, err, rotator.ErrInvalidField)
	})
	t.Run("user is the master", func(t *testing.T) {
		_, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: ts.masterSecret, Username: ts.master, Password: "x", Template: ts.base})
		wantErr(t, err, rotator.ErrInvalidField)
	})
	t.Run("wrong master password", func(t *testing.T) {
		_, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: s.Secret(ts.master, "wrong"), Username: ts.twin, Password: ts.twinPW, Template: ts.base})
		wantErr(t, err, rotator.ErrLoginFailed)
	})
	t.Run("superuser master", func(t *testing.T) {
		twin, pw := pgtest.UniqueName("su_twin"), pgtest.RandomPassword(20)
		resp, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: s.Secret(s.SuperUser, s.SuperPassword), Username: twin, Password: pw, Template: ts.base})
		wantErr(t, err)
		if !resp.Created {
			t.Fatal("Created = false")
		}
		wantErr(t, ts.e.Login(ts.ctx, s.Secret(twin, pw)))
	})
}

func TestPostgresEnsureUserConcurrent(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	created := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			resp, err := ts.e.EnsureUser(ts.ctx, rotator.EnsureUserRequest{Conn: ts.masterSecret, Username: ts.twin, Password: ts.twinPW, Template: ts.base})
			errs[i], created[i] = err, resp.Created
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d runs say they created the user", nCreated)
	}
	ts.interchangeable(t, "concurrent")
}

func TestPostgresEnsureUserMD5Server(t *testing.T) {
	s := pgtest.Shared(t, pgtest.WithPasswordEncryption("md5"))
	ts := newTwinSetup(t, s)
	ts.e, ts.logs = newEngine(t, WithAllowMD5(true)) // md5 logins and verifiers are opt-in
	if !ts.ensure(t).Created {
		t.Fatal("Created = false")
	}
	if stored := storedPassword(t, s, ts.twin); stored != md5Verifier(ts.twin, ts.twinPW) {
		t.Fatalf("twin's stored password %.8s..., want the md5 form", stored)
	}
	wantErr(t, ts.e.Login(ts.ctx, s.Secret(ts.twin, ts.twinPW)))
	ts.interchangeable(t, "md5")
}
