package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
	"github.com/rotatorkit/rotator/strategies/single"
)

// dualPasswordUser is the third strategy the MySQL rigs run.
const dualPasswordUser strategyKind = 100

// myRig is one secret on a MariaDB (or MySQL) server, rotated by a real
// handler that rotatortest's RotateSecret invokes, as pgRig does for
// PostgreSQL.
type myRig struct {
	rig
	db      *mariadbtest.Server
	engOpts []mysql.Option
}

type myRigConfig struct {
	opts    []rotator.Option
	altOpts []alternating.Option
	engOpts []mysql.Option
}

func newMyRig(t *testing.T, db *mariadbtest.Server, kind strategyKind, secret *rotator.Secret, cfg myRigConfig) *myRig {
	t.Helper()
	r := &myRig{db: db, engOpts: cfg.engOpts}
	r.kind, r.opts, r.altOpts = kind, cfg.opts, cfg.altOpts
	r.init(t, secret, mariadbtest.UniqueName, r.login)
	r.handle = r.sandbox()
	return r
}

// newMyStrategy builds a strategy as a Lambda main does (see the README's
// "MySQL and MariaDB" section).
func newMyStrategy(kind strategyKind, engine *mysql.Engine, altOpts []alternating.Option) rotator.Strategy {
	switch kind {
	case alternatingUsers:
		return alternating.New(engine, append([]alternating.Option{alternating.WithMaxUsernameLength(mysql.MaxUserNameLength)}, altOpts...)...)
	case dualPasswordUser:
		return dualpassword.New(engine)
	}
	return single.New(engine)
}

// sandbox returns a new handler with its own engine and strategy, as a
// separate Lambda sandbox would have.
func (r *myRig) sandbox() rotatortest.RotationFunc {
	return r.sandboxWith(newMyStrategy(r.kind, mysql.New(r.engOpts...), r.altOpts))
}

// login tries the secret's credentials against the real server.
func (r *myRig) login(s *rotator.Secret) error {
	return r.db.CanLogin(context.Background(), s.Username(), s.Password())
}

// myUser creates a user on the rig's host (127.0.0.1, never '%') with a
// random password and the grants ("%s" is the account), and returns its
// secret.
func myUser(t *testing.T, db *mariadbtest.Server, prefix string, grants ...string) *rotator.Secret {
	t.Helper()
	user, pw := mariadbtest.UniqueName(prefix), mariadbtest.RandomPassword(30)
	db.CreateUser(t, user, mariadbtest.UserHost, pw, grants...)
	return db.Secret(user, pw)
}

// myAlternatingRig makes the base user and a master secret for the rig's
// superuser, and an app secret naming it in "masterarn".
func myAlternatingRig(t *testing.T, db *mariadbtest.Server, base string, extra map[string]string, cfg myRigConfig) *myRig {
	t.Helper()
	pw := mariadbtest.RandomPassword(40)
	db.CreateUser(t, base, mariadbtest.UserHost, pw)
	r := newMyRig(t, db, alternatingUsers, db.Secret(base, pw), cfg)
	r.setMaster(db.Secret(db.SuperUser, db.SuperPassword), extra)
	return r
}

// grantsOf returns SHOW GRANTS for an account, with the account's own name
// replaced by "<acct>", so that two accounts' grants compare.
func grantsOf(t *testing.T, db *mariadbtest.Server, user, host string) []string {
	t.Helper()
	lines := db.Query(t, "SHOW GRANTS FOR "+mariadbtest.Account(user, host))
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.ReplaceAll(l, mariadbtest.Account(user, host), "<acct>")
		if i := strings.Index(l, " IDENTIFIED "); i >= 0 {
			// The USAGE line carries the password hash: compare the rest.
			rest := l[i+len(" IDENTIFIED "):]
			end := strings.Index(rest, "' ")
			if end < 0 {
				l = l[:i]
			} else {
				l = l[:i] + rest[end+1:]
			}
		}
		out = append(out, l)
	}
	return out
}

func isErr(err, target error) bool { return err != nil && errors.Is(err, target) }

// nativeHash is mysql_native_password's hash of pw (tests set passwords
// with it, never in plaintext).
func nativeHash(pw string) string { return mysqlhash.Native(pw) }

// markerReady remembers the servers on which the clone marker role exists.
var markerReady sync.Map

// myShared is mariadbtest.Shared, with the clone marker role made by the
// rig's superuser before any test's master makes it: MariaDB lets only
// the role's admins grant it, so which master came first would otherwise
// decide which tests pass. Masters other than the superuser get ADMIN
// OPTION on it (see myMaster).
func myShared(t *testing.T, opts ...mariadbtest.Option) *mariadbtest.Server {
	t.Helper()
	db := mariadbtest.Shared(t, opts...)
	if _, done := markerReady.Load(db); !done {
		db.Exec(t, "CREATE ROLE IF NOT EXISTS "+mysql.CloneMarkerRole)
		markerReady.Store(db, true)
	}
	return db
}

// myMaster creates a master account with grant (as a GRANT statement with
// "%s" for the account) and ADMIN OPTION on the clone marker role, and
// returns its password.
func myMaster(t *testing.T, db *mariadbtest.Server, user, grant string) string {
	t.Helper()
	pw := mariadbtest.RandomPassword(30)
	db.CreateUser(t, user, mariadbtest.UserHost, pw, grant, "GRANT "+mysql.CloneMarkerRole+" TO %s WITH ADMIN OPTION")
	return pw
}
