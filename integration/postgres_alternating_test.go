package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// alternatingRig stores the superuser as the master secret and an app
// secret naming it with "masterarn".
func alternatingRig(t *testing.T, pg *pgtest.Server, base string, extra map[string]string, opts ...rotator.Option) *pgRig {
	t.Helper()
	return alternatingRigWith(t, pg, base, extra, nil, opts...)
}

// alternatingRigWith is alternatingRig with options for the strategy.
func alternatingRigWith(t *testing.T, pg *pgtest.Server, base string, extra map[string]string, altOpts []alternating.Option, opts ...rotator.Option) *pgRig {
	t.Helper()
	pw := pgtest.RandomPassword(40)
	pg.CreateRole(t, base, pw, "LOGIN")
	app := pg.Secret(base, pw)
	r := newPGRigWith(t, pg, alternatingUsers, altOpts, app, opts...)
	r.setMaster(pg.Secret(pg.SuperUser, pg.SuperPassword), extra)
	return r
}

func TestPostgresAlternatingUsersRotation(t *testing.T) {
	pg := pgtest.Shared(t)
	base := pgtest.UniqueName("alt")
	clone := base + "_clone"
	r := alternatingRig(t, pg, base, nil, rotator.WithPasswordGenerator(everyChar{}))
	r.assertAlternatingRotations(base, clone, 5)
}

func TestPostgresAlternatingUsersAreInterchangeable(t *testing.T) {
	pg := pgtest.Shared(t)
	base := pgtest.UniqueName("share")
	clone := base + "_clone"
	r := alternatingRig(t, pg, base, nil)
	pg.Exec(t, "GRANT CREATE ON SCHEMA public TO "+quoteIdent(base))

	if out := r.rotate(); !out.Succeeded { // creates the clone
		t.Fatal(out.Err)
	}
	cloneSecret, baseSecret := r.stage("AWSCURRENT"), r.stage("AWSPREVIOUS")
	if cloneSecret.Username() != clone || baseSecret.Username() != base {
		t.Fatalf("users: current %q previous %q", cloneSecret.Username(), baseSecret.Username())
	}

	byClone, byBase := pgtest.UniqueName("t_clone"), pgtest.UniqueName("t_base")
	exec(t, pg, cloneSecret, "CREATE TABLE "+byClone+" (v int)")
	exec(t, pg, baseSecret, "CREATE TABLE "+byBase+" (v int)")
	for _, s := range []*rotator.Secret{baseSecret, cloneSecret} {
		for _, tbl := range []string{byClone, byBase} {
			exec(t, pg, s, "INSERT INTO "+tbl+" VALUES (1)")
			exec(t, pg, s, "UPDATE "+tbl+" SET v = 2")
			exec(t, pg, s, "SELECT count(*) FROM "+tbl)
		}
	}

	// A grant given to the base user after the clone exists reaches the
	// clone after the next rotations, with no re-copying.
	other := pgtest.UniqueName("granted")
	pg.Exec(t, "CREATE TABLE "+other+" (v int)")
	pg.Exec(t, "GRANT SELECT, INSERT ON "+other+" TO "+quoteIdent(base))
	for i := 0; i < 2; i++ {
		if out := r.rotate(); !out.Succeeded {
			t.Fatal(out.Err)
		}
		cur, prev := r.stage("AWSCURRENT"), r.stage("AWSPREVIOUS")
		for _, s := range []*rotator.Secret{cur, prev} {
			exec(t, pg, s, "INSERT INTO "+other+" VALUES (3)")
			exec(t, pg, s, "SELECT count(*) FROM "+other)
		}
	}
}

// TestPostgresAlternatingPreCreatedSecondUser rotates a pre-created pair
// that whoever controls the master secret (its "alternatingpairs") or the
// function (WithAllowedPairs, as $ROTATOR_ALTERNATING_PAIRS sets it)
// allowed.
func TestPostgresAlternatingPreCreatedSecondUser(t *testing.T) {
	pg := pgtest.Shared(t)
	tests := []struct {
		name  string
		allow func(r *pgRig, base, second string) // for a rig built without altOpts
		opts  func(base, second string) []alternating.Option
	}{
		{"allowed by the master secret", func(r *pgRig, base, second string) {
			r.updateMaster(func(m *rotator.Secret) {
				if err := m.Set(alternating.FieldAlternatingPairs, [][]string{{pgtest.UniqueName("other"), "x"}, {second, base}}); err != nil {
					r.t.Fatal(err)
				}
			})
		}, nil},
		{"allowed by the function", nil, func(base, second string) []alternating.Option {
			return []alternating.Option{alternating.WithAllowedPairs([2]string{base, second})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := pgtest.UniqueName("pre_a")
			second := pgtest.UniqueName("pre_b")
			pg.CreateRole(t, second, pgtest.RandomPassword(30), "LOGIN")
			var altOpts []alternating.Option
			if tt.opts != nil {
				altOpts = tt.opts(base, second)
			}
			r := alternatingRigWith(t, pg, base, map[string]string{"alternateusername": second}, altOpts)
			if tt.allow != nil {
				tt.allow(r, base, second)
			}
			for i, want := range []string{second, base, second} {
				out := r.rotate()
				if !out.Succeeded {
					t.Fatalf("rotation %d: %v", i+1, out.Err)
				}
				cur := r.stage("AWSCURRENT")
				if cur.Username() != want {
					t.Fatalf("rotation %d: user %q, want %q", i+1, cur.Username(), want)
				}
				if err := r.login(cur); err != nil {
					t.Fatal(err)
				}
				if err := r.login(r.stage("AWSPREVIOUS")); err != nil {
					t.Fatal(err)
				}
			}
			// Counting every role would race with other packages on a shared DSN
			// server: look for the names a clone would have had instead.
			for _, name := range []string{base + "_clone", second + "_clone"} {
				if roleExists(t, pg, name) {
					t.Fatalf("a pre-created second user must not make the rotator create roles (%s exists)", name)
				}
			}
		})
	}
}

// updateMaster changes the master secret alternatingRig stored.
func (r *pgRig) updateMaster(change func(*rotator.Secret)) {
	r.t.Helper()
	v, ok := r.sm.ValueOf(r.masterARN, r.sm.VersionOf(r.masterARN, "AWSCURRENT"))
	if !ok {
		r.t.Fatal("no master secret")
	}
	m, err := rotator.ParseSecret(v)
	if err != nil {
		r.t.Fatal(err)
	}
	change(m)
	nv, err := m.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.sm.Client().PutSecretValue(context.Background(), putCurrentInput(r.masterARN, nv)); err != nil {
		r.t.Fatal(err)
	}
}

func TestPostgresRotationFailuresKeepCurrent(t *testing.T) {
	pg := pgtest.Shared(t)
	tests := []struct {
		name   string
		kind   strategyKind
		mutate func(r *pgRig, cur *rotator.Secret)
		want   []string // the error names the cause
		is     error    // and wraps this sentinel
	}{
		{"wrong master password", alternatingUsers, func(r *pgRig, cur *rotator.Secret) {
			bad := r.pg.Secret(r.pg.SuperUser, "not-the-master-password")
			v, _ := bad.Value()
			cur.SetString(rotator.FieldMasterARN, r.sm.MustCreateSecret(r.t, pgtest.UniqueName("badmaster"), v))
		}, []string{"master", "password authentication failed"}, rotator.ErrLoginFailed},
		{"missing masterarn", alternatingUsers, func(r *pgRig, cur *rotator.Secret) {
			cur.Delete(rotator.FieldMasterARN)
		}, []string{`"masterarn"`}, rotator.ErrMissingField},
		{"non-postgres engine", singleUser, func(r *pgRig, cur *rotator.Secret) {
			cur.SetString(rotator.FieldEngine, "mysql")
		}, []string{"mysql"}, rotator.ErrWrongEngine},
		{"unreachable host", singleUser, func(r *pgRig, cur *rotator.Secret) {
			cur.SetString(rotator.FieldHost, "127.0.0.1")
			cur.SetRaw(rotator.FieldPort, []byte("1"))
		}, []string{"127.0.0.1:1", "connection refused"}, rotator.ErrUnreachable},
		{"TLS required, server has none", singleUser, func(r *pgRig, cur *rotator.Secret) {
			cur.SetRaw("ssl", []byte("true"))
		}, []string{"does not support TLS"}, rotator.ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *pgRig
			if tt.kind == alternatingUsers {
				r = alternatingRig(t, pg, pgtest.UniqueName("fail"), nil)
			} else {
				user := pgtest.UniqueName("fail")
				pw := pgtest.RandomPassword(30)
				pg.CreateRole(t, user, pw, "LOGIN")
				r = newPGRig(t, pg, singleUser, pg.Secret(user, pw))
			}
			good := r.stage("AWSCURRENT")
			cur := good.Clone()
			tt.mutate(r, cur)
			r.putCurrent(cur)
			currentID := r.sm.VersionOf(r.arn, "AWSCURRENT")
			out := r.rotate()
			if out.Succeeded {
				t.Fatal("rotation succeeded")
			}
			msg := out.Err.Error()
			if !errors.Is(out.Err, tt.is) {
				t.Errorf("error %q does not wrap %v", msg, tt.is)
			}
			for _, w := range tt.want {
				if !containsFold(msg, w) {
					t.Errorf("error %q does not name %q", msg, w)
				}
			}
			if r.sm.VersionOf(r.arn, "AWSCURRENT") != currentID {
				t.Fatal("AWSCURRENT moved")
			}
			if err := r.login(good); err != nil {
				t.Fatalf("the credential stopped working: %v", err)
			}
		})
	}
}
