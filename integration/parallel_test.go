package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/single"
)

// parallelSecrets is how many secrets the parallel tests rotate at once,
// each with its own user (issue 14: concurrency and load).
const parallelSecrets = 50

// parallelBystanders are users on the same server that no secret names:
// their passwords and privileges must not change either.
const parallelBystanders = 5

// parallelUser is one rotated secret and its user.
type parallelUser struct {
	name, password, arn string
}

// parallelRun is one handler (one engine, one strategy) serving every
// secret of a rotatortest server at once, its log captured and its errors
// kept for the leak check.
type parallelRun struct {
	sm     *rotatortest.Server
	logs   *rotatortest.LogBuffer
	lambda string
	mu     sync.Mutex
	errs   []string
	// inFlight and maxInFlight count the steps running at once.
	inFlight, maxInFlight int
}

func newParallelRun(t *testing.T, strategy rotator.Strategy) *parallelRun {
	t.Helper()
	r := &parallelRun{sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}, lambda: rotatortest.FunctionARN("parallel")}
	t.Cleanup(r.sm.Close)
	h, err := rotator.New(r.sm.Client(), strategy, rotator.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r.sm.RegisterFunction(r.lambda, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		r.mu.Lock()
		r.inFlight++
		r.maxInFlight = max(r.maxInFlight, r.inFlight)
		r.mu.Unlock()
		err := h.Handle(ctx, ev)
		r.mu.Lock()
		r.inFlight--
		if err != nil {
			r.errs = append(r.errs, err.Error())
		}
		r.mu.Unlock()
		return err
	})
	return r
}

// rotateAll starts every secret's rotation at the same moment, each
// through RotateSecret as Secrets Manager would, and returns what failed.
func (r *parallelRun) rotateAll(t *testing.T, users []parallelUser) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		start    = make(chan struct{})
	)
	for _, u := range users {
		wg.Go(func() {
			<-start
			_, err := r.sm.Client().RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(u.arn), RotationLambdaARN: aws.String(r.lambda)})
			o, ok := r.sm.LastRotation(u.arn)
			switch {
			case err != nil:
				err = fmt.Errorf("RotateSecret: %w", err)
			case !ok:
				err = fmt.Errorf("no rotation recorded")
			case !o.Succeeded:
				err = o.Err
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %v", u.name, err))
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("%d rotations, at most %d steps running at once", len(users), r.maxInFlight)
	if r.maxInFlight < 2 {
		t.Errorf("the rotations ran one after another (at most %d step at once): no concurrency was tested", r.maxInFlight)
	}
	return failures
}

// current returns the user's AWSCURRENT value.
func (r *parallelRun) current(t *testing.T, u parallelUser) *rotator.Secret {
	t.Helper()
	v, ok := r.sm.ValueOf(u.arn, r.sm.VersionOf(u.arn, rotatortest.StageCurrent))
	if !ok {
		t.Fatalf("%s: no AWSCURRENT value", u.name)
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNoLeaks checks the handler's log and returned errors for every
// password ever held.
// rotateAllOnlyPasswords rotates every user at once (rotateAll) and fails
// the test unless all succeed and, in the server's accounts as read before
// and after, only the rotated users' passwords changed.
func (r *parallelRun) rotateAllOnlyPasswords(t *testing.T, users []parallelUser, rotated map[string]bool, accounts func() map[string][]string) {
	t.Helper()
	before := accounts()
	if failures := r.rotateAll(t, users); len(failures) > 0 {
		t.Fatalf("%d of %d rotations failed:\n%s", len(failures), len(users), strings.Join(failures, "\n"))
	}
	assertOnlyPasswordsChanged(t, before, accounts(), rotated, 1)
}

// assertRotated checks each rotated user: AWSCURRENT names it, its new
// password logs in (canLogin) and its old one does not; then the leak
// check. It returns every password involved, superPassword first.
func (r *parallelRun) assertRotated(t *testing.T, users []parallelUser, superPassword string, canLogin func(ctx context.Context, user, password string) error) []string {
	t.Helper()
	ctx := context.Background()
	seen := []string{superPassword}
	for _, u := range users {
		cur := r.current(t, u)
		seen = append(seen, u.password, cur.Password())
		if cur.Username() != u.name {
			t.Errorf("%s: AWSCURRENT names %s", u.name, cur.Username())
			continue
		}
		if err := canLogin(ctx, u.name, cur.Password()); err != nil {
			t.Errorf("%s: the new password does not log in: %v", u.name, err)
		}
		if canLogin(ctx, u.name, u.password) == nil {
			t.Errorf("%s: the old password still logs in", u.name)
		}
	}
	r.assertNoLeaks(t, seen)
	return seen
}

func (r *parallelRun) assertNoLeaks(t *testing.T, passwords []string) {
	t.Helper()
	rotatortest.AssertNoSecrets(t, "the handler's log", r.logs.String(), passwords...)
	r.mu.Lock()
	defer r.mu.Unlock()
	rotatortest.AssertNoSecrets(t, "the handler's errors", strings.Join(r.errs, "\n"), passwords...)
}

// assertOnlyPasswordsChanged compares two snapshots of every account
// (name -> row): the rotated accounts' password column changed and nothing
// else of theirs; every other account is exactly as it was.
func assertOnlyPasswordsChanged(t *testing.T, before, after map[string][]string, rotated map[string]bool, passwordCol int) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))) {
		t.Fatalf("the accounts changed: before %q, after %q", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	for name, b := range before {
		a := after[name]
		if !rotated[name] {
			if !slices.Equal(a, b) {
				t.Errorf("account %s, which no secret names, changed", name)
			}
			continue
		}
		if a[passwordCol] == b[passwordCol] {
			t.Errorf("%s: the password hash did not change", name)
		}
		a, b = slices.Clone(a), slices.Clone(b)
		a[passwordCol], b[passwordCol] = "", ""
		if !slices.Equal(a, b) {
			t.Errorf("%s: more than its password changed", name)
		}
	}
}

// TestPostgresParallel50Secrets rotates 50 secrets at once, each with its
// own user, against one throwaway PostgreSQL server and one rotatortest
// server, through one real handler: every rotation completes, each user's
// new password logs in and the old one is refused, no other role's
// password, attributes, memberships or table privileges change, and no
// password reaches the log or an error.
func TestPostgresParallel50Secrets(t *testing.T) {
	pg := pgtest.Start(t)
	pg.Exec(t, "CREATE TABLE parallel_t (id int)")
	pg.Exec(t, "CREATE ROLE parallel_group NOLOGIN")
	run := newParallelRun(t, single.New(postgres.New()))
	var users []parallelUser
	rotated := map[string]bool{}
	for i := range parallelSecrets + parallelBystanders {
		u := parallelUser{name: fmt.Sprintf("par%02d_%s", i, pgtest.UniqueName("u")[2:]), password: pgtest.RandomPassword(30)}
		pg.CreateRole(t, u.name, u.password, "LOGIN")
		pg.Exec(t, "GRANT SELECT ON parallel_t TO "+quoteIdent(u.name))
		pg.Exec(t, "GRANT parallel_group TO "+quoteIdent(u.name))
		if i < parallelSecrets {
			u.arn = run.sm.MustCreateSecret(t, pgtest.UniqueName("app/par"), e2eValue(t, pg.Secret(u.name, u.password)))
			rotated[u.name] = true
			users = append(users, u)
		}
	}
	run.rotateAllOnlyPasswords(t, users, rotated, func() map[string][]string { return pgAccounts(t, pg) })

	run.assertRotated(t, users, pg.SuperPassword, pg.CanLogin)
}

// pgAccounts returns every role's pg_authid row (column 1 is rolpassword),
// its memberships and its privileges on parallel_t, by role name.
func pgAccounts(t *testing.T, pg *pgtest.Server) map[string][]string {
	t.Helper()
	rows, err := pg.Admin(t).Query(context.Background(), `
		SELECT a.rolname, coalesce(a.rolpassword, ''),
		       concat_ws(',', a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin,
		                 a.rolreplication, a.rolbypassrls, a.rolconnlimit, a.rolvaliduntil),
		       coalesce((SELECT string_agg(g.rolname || ':' || m.admin_option, ',' ORDER BY g.rolname)
		                 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid), ''),
		       coalesce((SELECT string_agg(privilege_type, ',' ORDER BY privilege_type)
		                 FROM information_schema.role_table_grants WHERE grantee = a.rolname AND table_name = 'parallel_t'), '')
		FROM pg_authid a`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var name, pw, attrs, members, grants string
		if err := rows.Scan(&name, &pw, &attrs, &members, &grants); err != nil {
			t.Fatal(err)
		}
		out[name] = []string{name, pw, attrs, members, grants}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMySQLParallel50Secrets is the same on a throwaway MariaDB (or MySQL)
// server: 50 single-user rotations at once through one handler.
func TestMySQLParallel50Secrets(t *testing.T) {
	db := mariadbtest.Start(t)
	db.Exec(t, "CREATE DATABASE parallel_db", "CREATE TABLE parallel_db.t (id int)")
	run := newParallelRun(t, single.New(mysql.New()))
	var users []parallelUser
	rotated := map[string]bool{}
	for i := range parallelSecrets + parallelBystanders {
		u := parallelUser{name: fmt.Sprintf("par%02d_%s", i, mariadbtest.UniqueName("u")[2:]), password: mariadbtest.RandomPassword(30)}
		db.CreateUser(t, u.name, mariadbtest.UserHost, u.password, "GRANT SELECT ON parallel_db.t TO %s", "GRANT INSERT ON parallel_db.* TO %s")
		if i < parallelSecrets {
			u.arn = run.sm.MustCreateSecret(t, mariadbtest.UniqueName("app/par"), e2eValue(t, db.Secret(u.name, u.password)))
			rotated[u.name+"@"+mariadbtest.UserHost] = true
			users = append(users, u)
		}
	}
	run.rotateAllOnlyPasswords(t, users, rotated, func() map[string][]string { return myAccounts(t, db) })

	seen := run.assertRotated(t, users, db.SuperPassword, db.CanLogin)
	if db.Mode != mariadbtest.ModeDSN {
		rotatortest.AssertNoSecrets(t, "the server's general log", db.ReadLog(t), seen[1:]...)
	}
}

// myAccounts returns, by user@host, the account's authentication string
// (column 1), its whole mysql.user row, and its grants.
func myAccounts(t *testing.T, db *mariadbtest.Server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, row := range db.Query(t, "SELECT User, Host, authentication_string FROM mysql.user") {
		f := strings.SplitN(row, "\t", 3)
		user, host := f[0], f[1]
		full := db.Query(t, "SELECT * FROM mysql.user WHERE User = ? AND Host = ?", user, host)
		grants := db.Query(t, "SHOW GRANTS FOR "+mariadbtest.Account(user, host))
		// The password hash is column 1 alone: take it out of the rest.
		rest := strings.Join(append(full, grants...), "\n")
		if f[2] != "" {
			rest = strings.ReplaceAll(rest, f[2], "<hash>")
		}
		out[user+"@"+host] = []string{user + "@" + host, f[2], rest}
	}
	return out
}
