package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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
	t      *testing.T
	pg     *pgtest.Server
	sm     *rotatortest.Server
	arn    string
	logs   *rotatortest.LogBuffer
	seen   []string // every password this rig ever held, for the leak check
	handle rotatortest.RotationFunc

	kind    strategyKind
	opts    []rotator.Option
	altOpts []alternating.Option

	mu   sync.Mutex // guards errs: sandboxes may run at once
	errs []string
	// masterARN is the master secret alternatingRig stored ("" otherwise).
	masterARN string
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
	r := &pgRig{t: t, pg: pg, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(r.sm.Close)
	r.seen = append(r.seen, secret.Password())
	value, err := secret.Value()
	if err != nil {
		t.Fatal(err)
	}
	r.arn = r.sm.MustCreateSecret(t, pgtest.UniqueName("rds/app"), value)
	r.kind, r.opts, r.altOpts = kind, opts, altOpts
	r.handle = r.sandbox()
	t.Cleanup(r.assertNoLeaks)
	return r
}

// sandbox returns a new handler for the rig's secret, with its own engine
// and strategy, as a separate Lambda sandbox would have. Errors it returns
// are kept for the leak check; sandboxes may run at once.
func (r *pgRig) sandbox() rotatortest.RotationFunc {
	r.t.Helper()
	h, err := rotator.New(r.sm.Client(), r.strategy(), append([]rotator.Option{rotator.WithLogger(r.logs.Logger())}, r.opts...)...)
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

// strategy builds the rig's strategy with a new engine, as a function's
// main does.
func (r *pgRig) strategy() rotator.Strategy {
	engine := postgres.New()
	if r.kind == alternatingUsers {
		return alternating.New(engine, append([]alternating.Option{alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength)}, r.altOpts...)...)
	}
	return single.New(engine)
}

// rotate runs one rotation through RotateSecret and returns the outcome.
func (r *pgRig) rotate() rotatortest.RotationOutcome {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	for _, id := range []string{r.sm.VersionOf(r.arn, "AWSCURRENT"), r.sm.VersionOf(r.arn, "AWSPENDING")} {
		if s := r.valueAt(id); s != nil {
			r.seen = append(r.seen, s.Password())
		}
	}
	return out
}

func (r *pgRig) valueAt(versionID string) *rotator.Secret {
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

func (r *pgRig) stage(stage string) *rotator.Secret {
	r.t.Helper()
	s := r.valueAt(r.sm.VersionOf(r.arn, stage))
	if s == nil {
		r.t.Fatalf("no %s value", stage)
	}
	return s
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

func (r *pgRig) assertNoLeaks() {
	logs := r.logs.String()
	for _, pw := range r.seen {
		if pw == "" {
			continue
		}
		if strings.Contains(logs, pw) {
			r.t.Errorf("a password appears in the handler's logs")
		}
		r.mu.Lock()
		errs := r.errs
		r.mu.Unlock()
		for _, e := range errs {
			if strings.Contains(e, pw) {
				r.t.Errorf("a password appears in a returned error")
			}
		}
	}
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
			old := r.stage("AWSCURRENT")
			for i := 1; i <= 5; i++ {
				out := r.rotate()
				if !out.Succeeded {
					t.Fatalf("rotation %d: %v", i, out.Err)
				}
				cur := r.stage("AWSCURRENT")
				if err := r.login(cur); err != nil {
					t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
				}
				if err := r.login(old); err == nil {
					t.Fatalf("rotation %d: the old password still logs in", i)
				}
				if cur.Password() == old.Password() || len(cur.Password()) != len(printable) {
					t.Fatalf("rotation %d: password not replaced by an every-character one", i)
				}
				old = cur
			}
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
