package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// The attack tests of postgres_attack_test.go, against MariaDB: whoever can
// write an application's secret sets "alternateusername" or "masterarn" and
// lets the real rotation run. It must fail naming the field, leave the
// victim's password working, put nothing usable into the attacker's secret
// and change nothing on any server.

// myVictim is an account whose password must survive the attack.
type myVictim struct {
	db             *mariadbtest.Server
	user, password string
}

// mySnapshot describes every account (authentication string included),
// role grant and privilege row, so a test can show that nothing changed.
func mySnapshot(t *testing.T, db *mariadbtest.Server) string {
	t.Helper()
	q := `
		SELECT CONCAT_WS(' ', 'user', User, Host, Priv) FROM mysql.global_priv
		UNION ALL SELECT CONCAT_WS(' ', 'role', User, Host, Role, Admin_option) FROM mysql.roles_mapping
		UNION ALL SELECT CONCAT_WS(' ', 'db', Host, Db, User, Select_priv, Insert_priv, Grant_priv) FROM mysql.db
		UNION ALL SELECT CONCAT_WS(' ', 'table', Host, Db, User, Table_name, Table_priv, Column_priv) FROM mysql.tables_priv
		ORDER BY 1`
	if !db.MariaDB {
		q = `
		SELECT CONCAT_WS(' ', 'user', User, Host, plugin, authentication_string, Super_priv, Create_user_priv, Grant_priv) FROM mysql.user
		UNION ALL SELECT CONCAT_WS(' ', 'role', FROM_USER, FROM_HOST, TO_USER, TO_HOST, WITH_ADMIN_OPTION) FROM mysql.role_edges
		UNION ALL SELECT CONCAT_WS(' ', 'db', Host, Db, User, Select_priv, Insert_priv, Grant_priv) FROM mysql.db
		UNION ALL SELECT CONCAT_WS(' ', 'table', Host, Db, User, Table_name, Table_priv, Column_priv) FROM mysql.tables_priv
		ORDER BY 1`
	}
	return strings.Join(db.Query(t, q), "\n")
}

func assertMyUnchanged(t *testing.T, db *mariadbtest.Server, before string) {
	t.Helper()
	if after := mySnapshot(t, db); after != before {
		t.Errorf("the attempt changed the server:\nbefore %s\nafter  %s", before, after)
	}
}

// assertMyUnharmed: the victim still logs in, no version of the attacker's
// secret logs in as the victim, and the attacker's AWSCURRENT still works.
func assertMyUnharmed(t *testing.T, r *myRig, v myVictim) {
	t.Helper()
	ctx := context.Background()
	if err := v.db.CanLogin(ctx, v.user, v.password); err != nil {
		t.Errorf("the victim %q no longer logs in with its password: %v", v.user, err)
	}
	out, err := r.sm.Client().ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(r.arn), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range out.Versions {
		s := r.valueAt(aws.ToString(ver.VersionId))
		if s == nil || s.Password() == "" {
			continue
		}
		r.seen = append(r.seen, s.Password())
		if err := v.db.CanLogin(ctx, v.user, s.Password()); err == nil {
			t.Errorf("the attacker's secret, version %v, holds a password that logs in as the victim %q", ver.VersionStages, v.user)
		}
	}
	if err := r.login(r.stage("AWSCURRENT")); err != nil {
		t.Errorf("the attacker's AWSCURRENT stopped working: %v", err)
	}
}

// assertMyRefused: the rotation failed naming field and wrapping want.
func assertMyRefused(t *testing.T, out interface {
	error
}, succeeded bool, field string, want error) {
	t.Helper()
	if succeeded {
		t.Error("the rotation succeeded")
		return
	}
	msg := out.Error()
	t.Logf("refused: %s", msg)
	if !containsFold(msg, `"`+field+`"`) {
		t.Errorf("the error does not name the field %q: %s", field, msg)
	}
	if !errors.Is(out, want) {
		t.Errorf("the error does not wrap %v: %s", want, msg)
	}
}

// myAttackSetup is who is who in one attack.
type myAttackSetup struct {
	db               *mariadbtest.Server
	attacker         string
	master, masterPW string
	masterSecret     *rotator.Secret
}

func myPlainVictim(prefix string, grants ...string) func(t *testing.T, s myAttackSetup) myVictim {
	return func(t *testing.T, s myAttackSetup) myVictim {
		t.Helper()
		v := myVictim{db: s.db, user: mariadbtest.UniqueName(prefix), password: mariadbtest.RandomPassword(30)}
		s.db.CreateUser(t, v.user, mariadbtest.UserHost, v.password, grants...)
		return v
	}
}

func myNamedVictim(name func(attacker string) string, grants ...string) func(t *testing.T, s myAttackSetup) myVictim {
	return func(t *testing.T, s myAttackSetup) myVictim {
		t.Helper()
		v := myVictim{db: s.db, user: name(s.attacker), password: mariadbtest.RandomPassword(30)}
		s.db.CreateUser(t, v.user, mariadbtest.UserHost, v.password, grants...)
		return v
	}
}

func myMasterVictim(t *testing.T, s myAttackSetup) myVictim {
	return myVictim{db: s.db, user: s.master, password: s.masterPW}
}

// myAttackerRig stores the attacker's secret with the fields it chooses.
func myAttackerRig(t *testing.T, db *mariadbtest.Server, user, password string, cfg myRigConfig, fields func(r *myRig) map[string]string) *myRig {
	t.Helper()
	r := newMyRig(t, db, alternatingUsers, db.Secret(user, password), cfg)
	cur := r.stage("AWSCURRENT")
	for k, v := range fields(r) {
		cur.SetString(k, v)
	}
	r.putCurrent(cur)
	return r
}

// TestMySQLAttackAlternateUsername: the attacker names in
// "alternateusername" (or implies through the clone's name) an account that
// is not theirs to rotate. "listed" cases have the master secret's
// "alternatingpairs" (carelessly) pair the attacker with the victim, so
// that only the engine's guard stands in the way.
func TestMySQLAttackAlternateUsername(t *testing.T) {
	db := myShared(t)
	powerRole := mariadbtest.UniqueName("powerrole")
	db.Exec(t, "CREATE ROLE "+powerRole, "GRANT SUPER ON *.* TO "+powerRole)
	tests := []struct {
		name     string
		attacker func() string
		victim   func(t *testing.T, s myAttackSetup) myVictim
		named    bool
		listed   bool
		allow    func(s myAttackSetup, v myVictim) [][2]string
	}{
		{name: "another application's user", victim: myPlainVictim("other_app"), named: true},
		{name: "another application's user, which the function pairs with someone else", victim: myPlainVictim("other_app"), named: true,
			allow: func(s myAttackSetup, v myVictim) [][2]string {
				return [][2]string{{v.user, mariadbtest.UniqueName("its_pair")}, {s.attacker, mariadbtest.UniqueName("my_pair")}}
			}},
		{name: "the master's own user", victim: myMasterVictim, named: true},
		{name: "the master's own user, listed", victim: myMasterVictim, named: true, listed: true},
		{name: "a SUPER account, listed", victim: myPlainVictim("super", "GRANT SUPER ON *.* TO %s"), named: true, listed: true},
		{name: "a CREATE USER account, listed", victim: myPlainVictim("useradmin", "GRANT CREATE USER ON *.* TO %s"), named: true, listed: true},
		{name: "an account with GRANT OPTION on *.*, listed", victim: myPlainVictim("granter", "GRANT SELECT ON *.* TO %s WITH GRANT OPTION"), named: true, listed: true},
		{name: "an account that may write every table, listed", victim: myPlainVictim("writer", "GRANT INSERT, UPDATE ON *.* TO %s"), named: true, listed: true},
		{name: "an account with privileges on the mysql schema, listed", victim: myPlainVictim("mysqlreader", "GRANT SELECT ON mysql.* TO %s"), named: true, listed: true},
		{name: "an account with a PROXY grant, listed", victim: myPlainVictim("proxy", "GRANT PROXY ON ''@'%%' TO %s"), named: true, listed: true},
		{name: "an account granted a SUPER role, listed", victim: myPlainVictim("rolemember", "GRANT "+powerRole+" TO %s"), named: true, listed: true},
		{name: "a foreign account with the clone's name, implied",
			victim: myNamedVictim(func(a string) string { return a + alternating.DefaultCloneSuffix })},
		{name: "a foreign account with the clone's name, named", named: true,
			victim: myNamedVictim(func(a string) string { return a + alternating.DefaultCloneSuffix })},
		{name: "a foreign account with the clone's name and the base's (no) privileges, named",
			named:  true,
			victim: myNamedVictim(func(a string) string { return a + alternating.DefaultCloneSuffix })},
		{name: "a base user, from a foreign account with its clone's name",
			attacker: func() string { return mariadbtest.UniqueName("base") + alternating.DefaultCloneSuffix },
			victim:   myNamedVictim(func(a string) string { return a[:len(a)-len(alternating.DefaultCloneSuffix)] })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := myAttackSetup{db: db, master: mariadbtest.UniqueName("atk_master")}
			s.masterPW = myMaster(t, db, s.master, "GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION")
			s.masterSecret = db.Secret(s.master, s.masterPW)
			s.attacker = mariadbtest.UniqueName("attacker")
			if tt.attacker != nil {
				s.attacker = tt.attacker()
			}
			atkPW := mariadbtest.RandomPassword(30)
			db.CreateUser(t, s.attacker, mariadbtest.UserHost, atkPW)
			v := tt.victim(t, s)
			fields := map[string]string{}
			if tt.named {
				fields[alternating.FieldAlternateUsername] = v.user
			}
			var cfg myRigConfig
			if tt.allow != nil {
				cfg.altOpts = append(cfg.altOpts, alternating.WithAllowedPairs(tt.allow(s, v)...))
			}
			if tt.listed {
				if err := s.masterSecret.Set(alternating.FieldAlternatingPairs, [][]string{{s.attacker, v.user}}); err != nil {
					t.Fatal(err)
				}
			}
			r := myAttackerRig(t, db, s.attacker, atkPW, cfg, func(r *myRig) map[string]string {
				fields[rotator.FieldMasterARN] = r.storeSecret("rds/master", s.masterSecret)
				return fields
			})
			r.seen = append(r.seen, v.password, s.masterPW)
			before := mySnapshot(t, db)
			out := r.rotate()
			assertMyRefused(t, out.Err, out.Succeeded, alternating.FieldAlternateUsername, rotator.ErrNotAllowed)
			assertMyUnharmed(t, r, v)
			assertMyUnchanged(t, db, before)
			assertMyPreflightFails(t, r, alternating.FieldAlternateUsername)
		})
	}
}

// TestMySQLAttackMasterARN: "masterarn" names a secret that is not the
// master secret of the attacker's own server.
func TestMySQLAttackMasterARN(t *testing.T) {
	db := myShared(t)
	type target struct {
		masterARN string
		victims   []myVictim
		servers   []*mariadbtest.Server
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, r *myRig, attacker string) target
		want  error
	}{
		{"a master secret for another server", func(t *testing.T, r *myRig, attacker string) target {
			db2 := mariadbtest.Start(t)
			r.seen = append(r.seen, db2.SuperPassword)
			db2.CreateUser(t, attacker, mariadbtest.UserHost, mariadbtest.RandomPassword(30))
			arn := r.storeSecret("rds/master2", db2.Secret(db2.SuperUser, db2.SuperPassword))
			return target{masterARN: arn, victims: []myVictim{{db2, db2.SuperUser, db2.SuperPassword}}, servers: []*mariadbtest.Server{db2}}
		}, rotator.ErrNotAllowed},
		{"the secret itself, by ARN", func(t *testing.T, r *myRig, attacker string) target {
			return target{masterARN: r.arn}
		}, rotator.ErrSelfReference},
		{"the secret itself, by name", func(t *testing.T, r *myRig, attacker string) target {
			d, err := r.sm.Client().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.arn)})
			if err != nil {
				t.Fatal(err)
			}
			return target{masterARN: aws.ToString(d.Name)}
		}, rotator.ErrSelfReference},
		{"another application's secret", func(t *testing.T, r *myRig, attacker string) target {
			other := myPlainVictim("other_app")(t, myAttackSetup{db: db})
			master := r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword))
			app := db.Secret(other.user, other.password)
			app.SetString(rotator.FieldMasterARN, master)
			return target{masterARN: r.storeSecret("rds/other", app), victims: []myVictim{other}}
		}, rotator.ErrNotAllowed},
		{"a secret for the attacker's own user", func(t *testing.T, r *myRig, attacker string) target {
			return target{masterARN: r.storeSecret("rds/mine", r.stage("AWSCURRENT"))}
		}, rotator.ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attacker, pw := mariadbtest.UniqueName("attacker"), mariadbtest.RandomPassword(30)
			db.CreateUser(t, attacker, mariadbtest.UserHost, pw)
			var tg target
			r := myAttackerRig(t, db, attacker, pw, myRigConfig{}, func(r *myRig) map[string]string {
				tg = tt.setup(t, r, attacker)
				return map[string]string{rotator.FieldMasterARN: tg.masterARN}
			})
			servers := append([]*mariadbtest.Server{db}, tg.servers...)
			before := make([]string, len(servers))
			for i, s := range servers {
				before[i] = mySnapshot(t, s)
			}
			out := r.rotate()
			assertMyRefused(t, out.Err, out.Succeeded, rotator.FieldMasterARN, tt.want)
			assertMyPreflightFails(t, r, rotator.FieldMasterARN)
			for _, v := range tg.victims {
				assertMyUnharmed(t, r, v)
			}
			for i, s := range servers {
				assertMyUnchanged(t, s, before[i])
				if n := len(s.Query(t, "SELECT 1 FROM mysql.user WHERE User = ?", attacker+alternating.DefaultCloneSuffix)); n > 0 {
					t.Errorf("the attempt created the clone on the server at port %d", s.Port)
				}
			}
		})
	}
}

// TestMySQLAttackMasterWithoutHost: the master secret holds only a username
// and a password (as RDS keeps it), so it connects to the host the
// application's secret names. The attacker points that at a server of
// their own (whose CA they put in "sslrootcert"): the master's credential
// must not go there. Without the function's own CA bundle the engine sends
// it nowhere; with it, only to a server whose certificate that bundle
// verifies.
func TestMySQLAttackMasterWithoutHost(t *testing.T) {
	db := myShared(t)
	master := mariadbtest.UniqueName("hostless_master")
	masterPW := myMaster(t, db, master, "GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION")
	masterOnly := func(r *myRig) string {
		return r.storeSecret("rds/master", rotator.NewSecret(map[string]string{rotator.FieldUsername: master, rotator.FieldPassword: masterPW}))
	}
	t.Run("no CA bundle: refused before anything is sent", func(t *testing.T) {
		base := mariadbtest.UniqueName("nohost")
		r := myAlternatingRig(t, db, base, nil, myRigConfig{})
		cur := r.stage("AWSCURRENT")
		cur.SetString(rotator.FieldMasterARN, masterOnly(r))
		r.putCurrent(cur)
		before := mySnapshot(t, db)
		out := r.rotate()
		if out.Succeeded || !errors.Is(out.Err, mysql.ErrVerificationRequired) {
			t.Fatalf("want a refusal wrapping ErrVerificationRequired, got %v", out.Err)
		}
		if !strings.Contains(out.Err.Error(), `"host"`) {
			t.Errorf("the error does not say to give the master secret its own host: %v", out.Err)
		}
		assertMyUnchanged(t, db, before)
		if err := r.login(r.stage("AWSCURRENT")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the function's CA bundle: the real server works", func(t *testing.T) {
		base := mariadbtest.UniqueName("nohost_ok")
		r := myAlternatingRig(t, db, base, nil, myRigConfig{engOpts: []mysql.Option{mysql.WithCABundle(db.CAPEM)}})
		cur := r.stage("AWSCURRENT")
		cur.SetString(rotator.FieldMasterARN, masterOnly(r))
		r.putCurrent(cur)
		for i := 0; i < 2; i++ {
			if out := r.rotate(); !out.Succeeded {
				t.Fatalf("rotation %d: %v", i+1, out.Err)
			}
		}
	})
	t.Run("the attacker's server: the credential never goes there", func(t *testing.T) {
		evil := mariadbtest.Start(t)
		atk, pw := mariadbtest.UniqueName("attacker"), mariadbtest.RandomPassword(30)
		evil.CreateUser(t, atk, mariadbtest.UserHost, pw)
		r := newMyRig(t, evil, alternatingUsers, evil.Secret(atk, pw), myRigConfig{engOpts: []mysql.Option{mysql.WithCABundle(db.CAPEM)}})
		cur := r.stage("AWSCURRENT")
		cur.SetString(rotator.FieldMasterARN, masterOnly(r))
		r.putCurrent(cur)
		out := r.rotate()
		if out.Succeeded || !errors.Is(out.Err, mysql.ErrCertificate) {
			t.Fatalf("want a certificate refusal for the master, got %v", out.Err)
		}
		if log := evil.ReadLog(t); strings.Contains(log, master) {
			t.Fatal("the master's user tried to log in on the attacker's server")
		}
	})
}
