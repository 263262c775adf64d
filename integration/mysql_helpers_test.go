package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

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
	t      *testing.T
	db     *mariadbtest.Server
	sm     *rotatortest.Server
	arn    string
	logs   *rotatortest.LogBuffer
	seen   []string
	handle rotatortest.RotationFunc

	kind    strategyKind
	opts    []rotator.Option
	altOpts []alternating.Option
	engOpts []mysql.Option

	mu        sync.Mutex
	errs      []string
	masterARN string
}

type myRigConfig struct {
	opts    []rotator.Option
	altOpts []alternating.Option
	engOpts []mysql.Option
}

func newMyRig(t *testing.T, db *mariadbtest.Server, kind strategyKind, secret *rotator.Secret, cfg myRigConfig) *myRig {
	t.Helper()
	r := &myRig{t: t, db: db, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(r.sm.Close)
	r.seen = append(r.seen, secret.Password())
	value, err := secret.Value()
	if err != nil {
		t.Fatal(err)
	}
	r.arn = r.sm.MustCreateSecret(t, mariadbtest.UniqueName("rds/app"), value)
	r.kind, r.opts, r.altOpts, r.engOpts = kind, cfg.opts, cfg.altOpts, cfg.engOpts
	r.handle = r.sandbox()
	t.Cleanup(r.assertNoLeaks)
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
	r.t.Helper()
	engine := mysql.New(r.engOpts...)
	h, err := rotator.New(r.sm.Client(), newMyStrategy(r.kind, engine, r.altOpts), append([]rotator.Option{rotator.WithLogger(r.logs.Logger())}, r.opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		err := h.Handle(ctx, ev)
		if err != nil {
			r.mu.Lock()
			r.errs = append(r.errs, err.Error())
			r.mu.Unlock()
		}
		return err
	}
}

func (r *myRig) rotate() rotatortest.RotationOutcome {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	for _, id := range []string{r.sm.VersionOf(r.arn, "AWSCURRENT"), r.sm.VersionOf(r.arn, "AWSPENDING")} {
		if s := r.valueAt(id); s != nil {
			r.seen = append(r.seen, s.Password())
		}
	}
	return out
}

func (r *myRig) valueAt(versionID string) *rotator.Secret {
	if versionID == "" {
		return nil
	}
	v, ok := r.sm.ValueOf(r.arn, versionID)
	if !ok {
		return nil
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *myRig) stage(stage string) *rotator.Secret {
	r.t.Helper()
	s := r.valueAt(r.sm.VersionOf(r.arn, stage))
	if s == nil {
		r.t.Fatalf("no %s value", stage)
	}
	return s
}

// login tries the secret's credentials against the real server.
func (r *myRig) login(s *rotator.Secret) error {
	return r.db.CanLogin(context.Background(), s.Username(), s.Password())
}

func (r *myRig) putCurrent(s *rotator.Secret) {
	r.t.Helper()
	v, err := s.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.sm.Client().PutSecretValue(context.Background(), putCurrentInput(r.arn, v)); err != nil {
		r.t.Fatal(err)
	}
}

// storeSecret stores another secret (a master secret, another
// application's secret) and returns its ARN.
func (r *myRig) storeSecret(prefix string, s *rotator.Secret) string {
	r.t.Helper()
	v, err := s.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	r.seen = append(r.seen, s.Password())
	return r.sm.MustCreateSecret(r.t, mariadbtest.UniqueName(prefix), v)
}

func (r *myRig) assertNoLeaks() {
	logs := r.logs.String()
	r.mu.Lock()
	errs := r.errs
	r.mu.Unlock()
	for _, pw := range r.seen {
		if pw == "" {
			continue
		}
		if strings.Contains(logs, pw) {
			r.t.Errorf("a password appears in the handler's logs")
		}
		for _, e := range errs {
			if strings.Contains(e, pw) {
				r.t.Errorf("a password appears in a returned error")
			}
		}
	}
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
	r.masterARN = r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword))
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.masterARN)
	for k, v := range extra {
		cur.SetString(k, v)
	}
	r.putCurrent(cur)
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
