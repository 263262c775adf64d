package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// The attack tests play whoever can write an application's secret: they
// know their own user's password and set every field of the secret
// ("alternateusername", "masterarn", ...), then let the real rotation run
// against the real server. Whatever they write, the rotation must fail
// with an error naming the field, leave the victim's password working, put
// nothing into the attacker's secret that logs in as the victim, and
// change nothing on any server.

// attacker is an application user whose secret the attacker controls.
type attacker struct {
	user, password string
}

// newAttacker makes the attacker's role (plain LOGIN) named user.
func newAttacker(t *testing.T, pg *pgtest.Server, user string) attacker {
	t.Helper()
	a := attacker{user: user, password: pgtest.RandomPassword(30)}
	pg.CreateRole(t, a.user, a.password, "LOGIN")
	return a
}

// rig stores the attacker's secret in a fresh Secrets Manager rotated by
// the real alternating-users handler, with the fields the attacker
// chooses: fields gets the rig, to store other secrets the attacker's may
// name.
func (a attacker) rig(t *testing.T, pg *pgtest.Server, altOpts []alternating.Option, fields func(r *pgRig) map[string]string) *pgRig {
	t.Helper()
	r := newPGRigWith(t, pg, alternatingUsers, altOpts, pg.Secret(a.user, a.password))
	cur := r.stage("AWSCURRENT")
	for k, v := range fields(r) {
		cur.SetString(k, v)
	}
	r.putCurrent(cur)
	return r
}

// victim is a role whose password must survive the attack.
type victim struct {
	pg             *pgtest.Server
	user, password string
}

// assertRefused checks the outcome of the attempt: it failed, with an
// error that names field and wraps want.
func assertRefused(t *testing.T, out rotatortest.RotationOutcome, field string, want error) {
	t.Helper()
	if out.Succeeded {
		// Go on: the other checks show what the attack won.
		t.Error("the rotation succeeded")
		return
	}
	msg := out.Err.Error()
	t.Logf("refused: %s", msg)
	if !containsFold(msg, `"`+field+`"`) {
		t.Errorf("the error does not name the field %q: %s", field, msg)
	}
	if !errors.Is(out.Err, want) {
		t.Errorf("the error does not wrap %v: %s", want, msg)
	}
}

// assertUnharmed checks that the victim's password still logs in, and
// that no version of the attacker's secret holds a password that logs in
// as the victim.
func assertUnharmed(t *testing.T, r *pgRig, v victim) {
	t.Helper()
	ctx := context.Background()
	if err := v.pg.CanLogin(ctx, v.user, v.password); err != nil {
		t.Errorf("the victim %q no longer logs in with its password: %v", v.user, err)
	}
	out, err := r.sm.Client().ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(r.arn), IncludeDeprecated: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range out.Versions {
		s := r.valueAt(aws.ToString(ver.VersionId))
		if s == nil {
			continue
		}
		if s.Password() == "" {
			continue
		}
		r.seen = append(r.seen, s.Password())
		if err := v.pg.CanLogin(ctx, v.user, s.Password()); err == nil {
			t.Errorf("the attacker's secret, version %v (%s), holds a password that logs in as the victim %q",
				ver.VersionStages, aws.ToString(ver.VersionId), v.user)
		}
	}
	if err := r.login(r.stage("AWSCURRENT")); err != nil {
		t.Errorf("the attacker's AWSCURRENT stopped working: %v", err)
	}
}

// assertPreflightFails runs the function's preflight on the attacker's
// secret, as `rotator preflight` does, and checks that it agrees with the
// rotation: a FAIL row whose detail names field.
func assertPreflightFails(t *testing.T, r *pgRig, field string) {
	t.Helper()
	checks := r.strategy().(rotator.Preflighter).Preflight(context.Background(), rotator.PreflightInput{Current: r.stage("AWSCURRENT"), ARN: r.arn, GetSecret: r.getSecret})
	for _, c := range checks {
		if c.Status == rotator.CheckFail {
			t.Logf("preflight: %s: %s (fix: %s)", c.Name, c.Detail, c.Fix)
			if containsFold(c.Detail, `"`+field+`"`) && c.Fix != "" {
				return
			}
		}
	}
	t.Errorf("preflight reports no failure naming %q: %+v", field, checks)
}

// assertUnchanged compares a server with its snapshot from before the
// attempt.
func assertUnchanged(t *testing.T, pg *pgtest.Server, before string) {
	t.Helper()
	if after := dbSnapshot(t, pg, ""); after != before {
		t.Errorf("the attempt changed the server:\nbefore %s\nafter  %s", before, after)
	}
}

// attackSetup is who is who in one attack.
type attackSetup struct {
	pg               *pgtest.Server
	attacker         string // the attacker's role
	master, masterPW string // the master's role
	masterSecret     *rotator.Secret
}

// plainVictim returns a victim maker: a fresh LOGIN role with attrs.
func plainVictim(prefix string, attrs ...string) func(t *testing.T, s attackSetup) victim {
	return func(t *testing.T, s attackSetup) victim {
		t.Helper()
		v := victim{pg: s.pg, user: pgtest.UniqueName(prefix), password: pgtest.RandomPassword(30)}
		s.pg.CreateRole(t, v.user, v.password, append([]string{"LOGIN"}, attrs...)...)
		return v
	}
}

// roleVictim returns a victim maker for a role named after the attacker's.
func roleVictim(name func(attacker string) string) func(t *testing.T, s attackSetup) victim {
	return func(t *testing.T, s attackSetup) victim {
		t.Helper()
		v := victim{pg: s.pg, user: name(s.attacker), password: pgtest.RandomPassword(30)}
		s.pg.CreateRole(t, v.user, v.password, "LOGIN")
		return v
	}
}

func masterVictim(t *testing.T, s attackSetup) victim {
	return victim{pg: s.pg, user: s.master, password: s.masterPW}
}

// TestPostgresAttackAlternateUsername: the attacker names in
// "alternateusername" (or, through the clone's name, implies) a role that
// is not theirs to rotate, hoping the master resets its password and
// writes the new one into the attacker's secret. Where a case says
// "listed", the master secret's "alternatingpairs" (carelessly) pairs the
// attacker with the victim, so that only the engine's guard stands in the
// way.
func TestPostgresAttackAlternateUsername(t *testing.T) {
	pg := pgtest.Shared(t)
	tests := []struct {
		name string
		// superMaster: the master is a superuser (else CREATEROLE, as on
		// RDS: on PostgreSQL 15 it may change any non-superuser role).
		superMaster bool
		// attacker names the attacker's role (nil: a fresh name).
		attacker func() string
		// victim makes the victim's role.
		victim func(t *testing.T, s attackSetup) victim
		// named: "alternateusername" names the victim (else it is unset).
		named bool
		// listed: the master secret's "alternatingpairs" pairs the
		// attacker with the victim.
		listed bool
		// allow: pairs the function's configuration allows.
		allow func(s attackSetup, v victim) [][2]string
	}{
		{name: "another application's user", victim: plainVictim("other_app"), named: true},
		{name: "another application's user, which the function pairs with someone else", victim: plainVictim("other_app"), named: true,
			allow: func(s attackSetup, v victim) [][2]string {
				return [][2]string{{v.user, pgtest.UniqueName("its_pair")}, {s.attacker, pgtest.UniqueName("my_pair")}}
			}},
		{name: "the master's own user", victim: masterVictim, named: true},
		{name: "the master's own user, listed", victim: masterVictim, named: true, listed: true},
		{name: "the master's own user, a superuser", superMaster: true, victim: masterVictim, named: true},
		{name: "a superuser, listed", superMaster: true, victim: plainVictim("super", "SUPERUSER"), named: true, listed: true},
		{name: "a CREATEROLE role, listed", victim: plainVictim("roleadmin", "CREATEROLE"), named: true, listed: true},
		{name: "a REPLICATION role, listed", superMaster: true, victim: plainVictim("replicator", "REPLICATION"), named: true, listed: true},
		{name: "a BYPASSRLS role, listed", superMaster: true, victim: plainVictim("bypass", "BYPASSRLS"), named: true, listed: true},
		{name: "a member of the master, listed", named: true, listed: true,
			victim: func(t *testing.T, s attackSetup) victim {
				v := plainVictim("master_member")(t, s)
				s.pg.Exec(t, "GRANT "+quoteIdent(s.master)+" TO "+quoteIdent(v.user))
				return v
			}},
		{name: "a member of a superuser role, listed", named: true, listed: true,
			victim: func(t *testing.T, s attackSetup) victim {
				group := pgtest.UniqueName("supergroup")
				s.pg.CreateRole(t, group, "", "NOLOGIN", "SUPERUSER")
				v := plainVictim("super_member")(t, s)
				s.pg.Exec(t, "GRANT "+quoteIdent(group)+" TO "+quoteIdent(v.user))
				return v
			}},
		{name: "a foreign role with the clone's name, implied",
			victim: roleVictim(func(a string) string { return a + alternating.DefaultCloneSuffix })},
		{name: "a foreign role with the clone's name, named", named: true,
			victim: roleVictim(func(a string) string { return a + alternating.DefaultCloneSuffix })},
		{name: "a base user, from a foreign role with its clone's name",
			attacker: func() string { return pgtest.UniqueName("base") + alternating.DefaultCloneSuffix },
			victim:   roleVictim(func(a string) string { return a[:len(a)-len(alternating.DefaultCloneSuffix)] })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := attackSetup{pg: pg, master: pgtest.UniqueName("atk_master"), masterPW: pgtest.RandomPassword(30)}
			if tt.superMaster {
				pg.CreateRole(t, s.master, s.masterPW, "LOGIN", "SUPERUSER")
			} else {
				pg.CreateRole(t, s.master, s.masterPW, "LOGIN", "CREATEROLE")
			}
			s.masterSecret = pg.Secret(s.master, s.masterPW)
			s.attacker = pgtest.UniqueName("attacker")
			if tt.attacker != nil {
				s.attacker = tt.attacker()
			}
			atk := newAttacker(t, pg, s.attacker)
			v := tt.victim(t, s)

			fields := map[string]string{}
			if tt.named {
				fields[alternating.FieldAlternateUsername] = v.user
			}
			var altOpts []alternating.Option
			if tt.allow != nil {
				pairs := tt.allow(s, v)
				altOpts = append(altOpts, alternating.WithAllowedPairs(pairs...))
				env := ""
				for _, p := range pairs {
					env += p[0] + ":" + p[1] + ","
				}
				t.Setenv(alternating.EnvAllowedPairs, env) // for the preflight
			}
			if tt.listed {
				if err := s.masterSecret.Set(alternating.FieldAlternatingPairs, [][]string{{atk.user, v.user}}); err != nil {
					t.Fatal(err)
				}
			}
			r := atk.rig(t, pg, altOpts, func(r *pgRig) map[string]string {
				fields[rotator.FieldMasterARN] = r.storeSecret("rds/master", s.masterSecret)
				return fields
			})
			r.seen = append(r.seen, v.password, s.masterPW)

			before := dbSnapshot(t, pg, "")
			out := r.rotate()
			assertRefused(t, out, alternating.FieldAlternateUsername, rotator.ErrNotAllowed)
			assertUnharmed(t, r, v)
			assertUnchanged(t, pg, before)
			assertPreflightFails(t, r, alternating.FieldAlternateUsername)
		})
	}
}

// TestPostgresAttackMasterARN: the attacker points "masterarn" at a secret
// that is not the master secret of their own server, hoping the rotation
// uses it there or elsewhere: another server's master (where the clone
// would be created and its password written into the attacker's secret),
// the attacker's secret itself, or another application's secret.
func TestPostgresAttackMasterARN(t *testing.T) {
	pg := pgtest.Shared(t)
	type target struct {
		masterARN string
		victims   []victim
		servers   []*pgtest.Server // besides pg, servers that must not change
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, r *pgRig, atk attacker) target
		want  error
	}{
		{"a master secret for another server", func(t *testing.T, r *pgRig, atk attacker) target {
			pg2 := pgtest.Start(t)
			r.seen = append(r.seen, pg2.SuperPassword)
			// The attacker has a user of the same name there too: the
			// clone would be made from it.
			pg2.CreateRole(t, atk.user, pgtest.RandomPassword(30), "LOGIN")
			arn := r.storeSecret("rds/master2", pg2.Secret(pg2.SuperUser, pg2.SuperPassword))
			return target{masterARN: arn, victims: []victim{{pg2, pg2.SuperUser, pg2.SuperPassword}}, servers: []*pgtest.Server{pg2}}
		}, rotator.ErrNotAllowed},
		{"the secret itself, by ARN", func(t *testing.T, r *pgRig, atk attacker) target {
			return target{masterARN: r.arn}
		}, rotator.ErrSelfReference},
		{"the secret itself, by name", func(t *testing.T, r *pgRig, atk attacker) target {
			d, err := r.sm.Client().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.arn)})
			if err != nil {
				t.Fatal(err)
			}
			return target{masterARN: aws.ToString(d.Name)}
		}, rotator.ErrSelfReference},
		{"another application's secret", func(t *testing.T, r *pgRig, atk attacker) target {
			other := plainVictim("other_app")(t, attackSetup{pg: pg})
			master := r.storeSecret("rds/master", pg.Secret(pg.SuperUser, pg.SuperPassword))
			app := pg.Secret(other.user, other.password)
			app.SetString(rotator.FieldMasterARN, master)
			return target{masterARN: r.storeSecret("rds/other", app), victims: []victim{other}}
		}, rotator.ErrNotAllowed},
		{"a secret for the attacker's own user", func(t *testing.T, r *pgRig, atk attacker) target {
			return target{masterARN: r.storeSecret("rds/mine", pg.Secret(atk.user, atk.password))}
		}, rotator.ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			atk := newAttacker(t, pg, pgtest.UniqueName("attacker"))
			var tg target
			r := atk.rig(t, pg, nil, func(r *pgRig) map[string]string {
				tg = tt.setup(t, r, atk)
				return map[string]string{rotator.FieldMasterARN: tg.masterARN}
			})
			servers := append([]*pgtest.Server{pg}, tg.servers...)
			before := make([]string, len(servers))
			for i, s := range servers {
				before[i] = dbSnapshot(t, s, "")
			}
			out := r.rotate()
			assertRefused(t, out, rotator.FieldMasterARN, tt.want)
			assertPreflightFails(t, r, rotator.FieldMasterARN)
			for _, v := range tg.victims {
				assertUnharmed(t, r, v)
			}
			for i, s := range servers {
				assertUnchanged(t, s, before[i])
				if roleExists(t, s, atk.user+alternating.DefaultCloneSuffix) {
					t.Errorf("the attempt created the clone on the server at port %d", s.Port)
				}
			}
		})
	}
}
