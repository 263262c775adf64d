package bench

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// target is a database server the functions rotate secrets on. Every
// count it gives comes from the server (its log, its session list), never
// from the code under test.
type target interface {
	// describe names the server, for the table.
	describe() string
	// env is the functions' environment for it (the CA bundle they verify
	// the server with).
	env() []string
	// unsupported says why fn cannot rotate on this server ("" when it can).
	unsupported(fn string) string
	// secretFor makes a database user (and for alternating users its
	// master) and the secret fn rotates; it returns the secret's ARN.
	secretFor(b *testing.B, sm *rotatortest.Server, fn string) string
	// loginMark returns a position in the server's record of connection
	// attempts; ok is false when the server keeps none readable here.
	loginMark(b *testing.B) (mark int, ok bool)
	// loginsSince counts the connection attempts, failed ones included,
	// the server recorded after mark.
	loginsSince(b *testing.B, mark int) int
	// connections counts the client sessions open on the server, other
	// than the one that asks (opened once, not a login per sample).
	connections(b *testing.B) int
}

var (
	_ target = (*pgTarget)(nil)
	_ target = (*myTarget)(nil)
)

// pgTarget is PostgreSQL with TLS, whose CA the functions get through
// ROTATOR_PG_CA_BUNDLE. Logins are counted from its log_connections lines.
type pgTarget struct {
	pg      *pgtest.Server
	logins  bool
	sampler *pgx.Conn
	version string
}

func newPGTarget(b *testing.B) *pgTarget {
	b.Helper()
	t := &pgTarget{pg: pgtest.Shared(b, pgtest.WithTLS())}
	// Log every connection, to count the function's logins. Only on a
	// server started for this run: a DSN's server is not ours to change.
	t.logins = t.pg.Mode != pgtest.ModeDSN
	if t.logins {
		t.pg.Exec(b, "ALTER SYSTEM SET log_connections = on")
		t.pg.Exec(b, "SELECT pg_reload_conf()")
	}
	t.sampler = t.pg.Admin(b)
	if err := t.sampler.QueryRow(context.Background(), "SHOW server_version").Scan(&t.version); err != nil {
		b.Fatal(err)
	}
	return t
}

func (t *pgTarget) describe() string {
	return fmt.Sprintf("PostgreSQL %s (%s, 127.0.0.1, TLS verify-full)", t.version, t.pg.Mode)
}

func (t *pgTarget) env() []string { return []string{"ROTATOR_PG_CA_BUNDLE=" + t.pg.CAFile} }

func (t *pgTarget) unsupported(string) string { return "" }

func (t *pgTarget) secretFor(b *testing.B, sm *rotatortest.Server, fn string) string {
	b.Helper()
	user := pgtest.UniqueName("bench")
	pw := "pw-" + pgtest.RandomPassword(24)
	t.pg.CreateRole(b, user, pw, "LOGIN")
	sec := t.pg.Secret(user, pw)
	sec.Delete("sslrootcert") // verified through ROTATOR_PG_CA_BUNDLE, as deployed
	if fn == functest.AlternatingUsers {
		master := pgtest.UniqueName("benchmaster")
		mpw := "pw-" + pgtest.RandomPassword(24)
		t.pg.CreateRole(b, master, mpw, "LOGIN", "CREATEROLE")
		msec := t.pg.Secret(master, mpw)
		msec.Delete("sslrootcert")
		sec.SetString(rotator.FieldMasterARN, sm.MustCreateSecret(b, pgtest.UniqueName("bench/master"), value(b, msec)))
	}
	return sm.MustCreateSecret(b, pgtest.UniqueName("bench/"+fn), value(b, sec))
}

func (t *pgTarget) loginMark(b *testing.B) (int, bool) {
	if !t.logins {
		return 0, false
	}
	return len(t.pg.ReadLog(b)), true
}

func (t *pgTarget) loginsSince(b *testing.B, mark int) int {
	return strings.Count(t.pg.ReadLog(b)[mark:], "connection received:")
}

func (t *pgTarget) connections(b *testing.B) int {
	b.Helper()
	var n int
	err := t.sampler.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// myTarget is MariaDB (or MySQL) with TLS, whose CA the functions get
// through ROTATOR_MYSQL_CA_BUNDLE. Logins are counted from the general
// log's Connect lines: one thread id per connection attempt.
type myTarget struct {
	db      *mariadbtest.Server
	sampler *sql.DB
	// hasLog: a $ROTATOR_TEST_MYSQL_DSN server's general log is not ours.
	hasLog bool
}

func newMyTarget(b *testing.B, db *mariadbtest.Server) *myTarget {
	b.Helper()
	db.Exec(b, "CREATE ROLE IF NOT EXISTS rotator_clone") // as the integration tests' superuser does
	t := &myTarget{db: db, sampler: db.Admin(b), hasLog: db.Mode != mariadbtest.ModeDSN}
	// One session for every sample: no sample is a login.
	t.sampler.SetMaxOpenConns(1)
	t.sampler.SetMaxIdleConns(1)
	t.sampler.SetConnMaxLifetime(0)
	t.sampler.SetConnMaxIdleTime(0)
	return t
}

func (t *myTarget) describe() string {
	return t.db.Describe() + ", 127.0.0.1, TLS verify-full"
}

func (t *myTarget) env() []string { return []string{"ROTATOR_MYSQL_CA_BUNDLE=" + t.db.CAFile} }

func (t *myTarget) unsupported(fn string) string {
	if fn == mysqlDual && t.db.MariaDB {
		return "not measured: MariaDB has no dual passwords (RETAIN CURRENT PASSWORD needs MySQL 8.0.14 or later; the function refuses with a configuration error)"
	}
	return ""
}

func (t *myTarget) secretFor(b *testing.B, sm *rotatortest.Server, fn string) string {
	b.Helper()
	user, pw := mariadbtest.UniqueName("bench"), mariadbtest.RandomPassword(30)
	var grants []string
	if fn == mysqlDual {
		grants = append(grants, "GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO %s")
	}
	t.db.CreateUser(b, user, mariadbtest.UserHost, pw, grants...)
	sec := t.db.Secret(user, pw)
	sec.Delete("sslrootcert") // verified through ROTATOR_MYSQL_CA_BUNDLE, as deployed
	if fn == mysqlAlternating {
		msec := t.db.Secret(t.db.SuperUser, t.db.SuperPassword)
		msec.Delete("sslrootcert")
		sec.SetString(rotator.FieldMasterARN, sm.MustCreateSecret(b, mariadbtest.UniqueName("bench/master"), value(b, msec)))
	}
	return sm.MustCreateSecret(b, mariadbtest.UniqueName("bench/"+fn), value(b, sec))
}

func (t *myTarget) loginMark(b *testing.B) (int, bool) {
	if !t.hasLog {
		return 0, false
	}
	return len(t.db.ReadLog(b)), true
}

func (t *myTarget) loginsSince(b *testing.B, mark int) int {
	return countConnects(t.db.ReadLog(b)[mark:])
}

func (t *myTarget) connections(b *testing.B) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	// System threads (event scheduler, replication) are Daemon.
	err := t.sampler.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'").Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// connectLine matches a general log line of a connection attempt, in
// MariaDB's ("241201 12:00:00\t    5 Connect\t...", "\t\t    6 Connect\t...")
// and MySQL's ("2026-12-01T12:00:00.000000Z\t   12 Connect\t...") formats.
var connectLine = regexp.MustCompile(`\t *(\d+) Connect\t`)

// countConnects counts the connection attempts in a general log excerpt:
// the distinct thread ids of its Connect lines (a refused login writes two
// Connect lines for one thread).
func countConnects(log string) int {
	ids := map[string]bool{}
	for _, m := range connectLine.FindAllStringSubmatch(log, -1) {
		ids[m[1]] = true
	}
	return len(ids)
}
