package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

// printable is every printable ASCII character, space to tilde.
const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// everyChar generates passwords that hold every printable ASCII character
// once, shuffled: the hardest input for quoting.
type everyChar struct{}

func (everyChar) NewPassword(context.Context) (string, error) {
	b := []byte(printable)
	for i := len(b) - 1; i > 0; i-- {
		var r [1]byte
		_, _ = rand.Read(r[:])
		j := int(r[0]) % (i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b), nil
}

// pgRig is one secret on the shared server, rotated by a real handler that
// rotatortest's RotateSecret invokes.
type pgRig struct {
	rig
	pg *pgtest.Server
}

type strategyKind int

const (
	singleUser strategyKind = iota
	alternatingUsers
)

func newPGRig(t *testing.T, pg *pgtest.Server, kind strategyKind, secret *rotator.Secret, opts ...rotator.Option) *pgRig {
	t.Helper()
	return newPGRigWith(t, pg, kind, nil, secret, opts...)
}

// newPGRigWith is newPGRig with options for the alternating strategy.
func newPGRigWith(t *testing.T, pg *pgtest.Server, kind strategyKind, altOpts []alternating.Option, secret *rotator.Secret, opts ...rotator.Option) *pgRig {
	t.Helper()
	r := &pgRig{pg: pg}
	r.kind, r.opts, r.altOpts = kind, opts, altOpts
	r.init(t, secret, pgtest.UniqueName, r.login)
	r.handle = r.sandbox()
	return r
}

// sandbox returns a new handler for the rig's secret, with its own engine
// and strategy, as a separate Lambda sandbox would have.
func (r *pgRig) sandbox() rotatortest.RotationFunc { return r.sandboxWith(r.strategy()) }

// strategy builds the rig's strategy with a new engine, as a function's
// main does.
func (r *pgRig) strategy() rotator.Strategy {
	engine := postgres.New()
	if r.kind == alternatingUsers {
		return alternating.New(engine, append([]alternating.Option{alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength)}, r.altOpts...)...)
	}
	return single.New(engine)
}

// login tries the secret's credentials against the real server.
func (r *pgRig) login(s *rotator.Secret) error {
	ctx := context.Background()
	conn, err := r.pg.Connect(ctx, s.Username(), s.Password(), "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var who string
	if err := conn.QueryRow(ctx, "SELECT session_user").Scan(&who); err != nil {
		return err
	}
	if who != s.Username() {
		return errors.New("session_user is " + who)
	}
	return nil
}

func TestPostgresSingleUserRotation(t *testing.T) {
	pg := pgtest.Shared(t)
	tests := []struct {
		name string
		user string
	}{
		{"plain role", pgtest.UniqueName("app")},
		{"role needing quotes", `App "User"; DROP ` + pgtest.UniqueName("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			initial, _ := everyChar{}.NewPassword(context.Background())
			pg.CreateRole(t, tt.user, initial, "LOGIN")
			before := dbSnapshot(t, pg, tt.user)
			r := newPGRig(t, pg, singleUser, pg.Secret(tt.user, initial), rotator.WithPasswordGenerator(everyChar{}))
			r.assertSingleUserRotations(5)
			if after := dbSnapshot(t, pg, tt.user); after != before {
				t.Fatalf("rotation changed more than the role's password:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// dbSnapshot describes every role (but the rotated role's password) and
// every relation, so a test can show that nothing else changed.
func dbSnapshot(t *testing.T, pg *pgtest.Server, rotated string) string {
	t.Helper()
	ctx := context.Background()
	conn := pg.Admin(t)
	rows, err := conn.Query(ctx, `
		SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		  SELECT 'role ' || rolname || ' ' || rolsuper || rolcreaterole || rolcreatedb || rolcanlogin ||
		         ' pw=' || CASE WHEN rolname = $1 THEN '*' ELSE coalesce(md5(rolpassword), '') END
		         || ' cfg=' || coalesce((SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setrole = a.oid AND setdatabase = 0), '') AS x
		  FROM pg_authid a
		  UNION ALL
		  SELECT 'member ' || roleid::regrole || ' ' || member::regrole FROM pg_auth_members
		  UNION ALL
		  SELECT 'rel ' || oid::regclass || ' ' || relowner::regrole FROM pg_class WHERE relnamespace = 'public'::regnamespace
		) s`, rotated)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[*string])
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return ""
	}
	return *s
}
