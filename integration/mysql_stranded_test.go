package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// The clone an earlier attempt created but could not mark (the connection
// lost between CREATE USER and the marker's GRANT) is adopted by the
// retry, proven by the pending password's hash; any other unmarked account
// with the clone's name stays refused and untouched (engines/mysql
// strandedClone).

// putPending stores s as the pending value of token.
func (r *myRig) putPending(token string, s *rotator.Secret) {
	r.t.Helper()
	v, err := s.Value()
	if err != nil {
		r.t.Fatal(err)
	}
	r.seen = append(r.seen, s.Password())
	if _, err := r.sm.Client().PutSecretValue(context.Background(), putPendingInput(r.arn, token, v)); err != nil {
		r.t.Fatal(err)
	}
}

// authOf is an account's plugin and authentication string.
func authOf(t *testing.T, db *mariadbtest.Server, user, host string) string {
	t.Helper()
	return strings.Join(db.Query(t, "SELECT CONCAT(plugin, ' ', authentication_string) FROM mysql.user WHERE User = ? AND Host = ?", user, host), "\n")
}

func hasMarker(t *testing.T, db *mariadbtest.Server, user, host string) bool {
	t.Helper()
	for _, l := range db.Query(t, "SHOW GRANTS FOR "+mariadbtest.Account(user, host)) {
		if strings.Contains(l, "`"+mysql.CloneMarkerRole+"`") {
			return true
		}
	}
	return false
}

// TestMySQLAlternatingStrandedClone: createSecret ran, then setSecret's
// EnsureUser created the clone with the pending password and was cut off
// before marking it. The retried setSecret adopts the clone, and the
// rotation finishes with exactly one new password in force; the next
// rotation goes on as usual.
func TestMySQLAlternatingStrandedClone(t *testing.T) {
	db := myShared(t)
	tests := []struct {
		name string
		// strand creates the clone as EnsureUser's CREATE USER would,
		// with the base's plugin.
		base, strand func(t *testing.T, user, pw string)
	}{
		{name: "the server's default plugin",
			base:   func(t *testing.T, user, pw string) { db.CreateUser(t, user, mariadbtest.UserHost, pw) },
			strand: func(t *testing.T, user, pw string) { db.CreateUser(t, user, mariadbtest.UserHost, pw) }},
	}
	if db.MariaDB {
		ed := func(t *testing.T, user, pw string) {
			db.Exec(t, "CREATE USER "+mariadbtest.Account(user, mariadbtest.UserHost)+" IDENTIFIED VIA ed25519 USING '"+mysqlhash.Ed25519(pw)+"'")
		}
		tests = append(tests, struct {
			name         string
			base, strand func(t *testing.T, user, pw string)
		}{name: "ed25519", base: ed, strand: ed})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := mariadbtest.UniqueName("strand")
			clone := base + alternating.DefaultCloneSuffix
			basePW := mariadbtest.RandomPassword(40)
			tt.base(t, base, basePW)
			r := newMyRig(t, db, alternatingUsers, db.Secret(base, basePW), myRigConfig{})
			r.masterARN = r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword))
			cur := r.stage("AWSCURRENT")
			cur.SetString(rotator.FieldMasterARN, r.masterARN)
			r.putCurrent(cur)
			baseAuth := authOf(t, db, base, mariadbtest.UserHost)

			token := "5a5a5a5a-1111-2222-3333-444444444444"
			r.beginRotation(token)
			if err := r.step("createSecret", token); err != nil {
				t.Fatal(err)
			}
			pending := r.valueAt(token)
			if pending.Username() != clone {
				t.Fatalf("pending user %q, want the clone %q", pending.Username(), clone)
			}
			// The crash: CREATE USER ran, the GRANT of the marker did not.
			tt.strand(t, clone, pending.Password())
			if hasMarker(t, db, clone, mariadbtest.UserHost) {
				t.Fatal("the stranded clone is marked")
			}

			// The preflight has no pending password to prove it with.
			assertMyPreflightFails(t, r, alternating.FieldAlternateUsername)
			if hasMarker(t, db, clone, mariadbtest.UserHost) {
				t.Fatal("the preflight marked the stranded clone")
			}
			if err := r.step("setSecret", token); err != nil {
				t.Fatalf("the retried setSecret: %v", err)
			}
			if !hasMarker(t, db, clone, mariadbtest.UserHost) {
				t.Fatal("the retried setSecret did not mark the stranded clone")
			}
			if !strings.Contains(r.logs.String(), "adopted the clone a previous attempt") {
				t.Errorf("the adoption is not logged:\n%s", r.logs.String())
			}
			for _, step := range []string{"testSecret", "finishSecret"} {
				if err := r.step(step, token); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got != token {
				t.Fatalf("AWSCURRENT is %q, want the rotation's %q", got, token)
			}
			// Exactly one new password in force: the clone's, the
			// pending one; the base keeps its own.
			if err := r.login(pending); err != nil {
				t.Fatalf("the new AWSCURRENT does not log in: %v", err)
			}
			if err := r.login(r.stage("AWSPREVIOUS")); err != nil {
				t.Fatalf("AWSPREVIOUS (the base) stopped working: %v", err)
			}
			if got := authOf(t, db, base, mariadbtest.UserHost); got != baseAuth {
				t.Fatal("the base's password changed")
			}
			if !sameUSAGEAndPrivileges(t, db, base, clone) {
				t.Fatal("the adopted clone did not get the base's privileges")
			}
			// The next rotation runs as usual, back to the base.
			if out := r.rotate(); !out.Succeeded {
				t.Fatalf("the next rotation: %v", out.Err)
			}
			if got := r.stage("AWSCURRENT").Username(); got != base {
				t.Fatalf("after the next rotation AWSCURRENT is %q, want %q", got, base)
			}
			if err := r.login(r.stage("AWSCURRENT")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sameUSAGEAndPrivileges: the clone's grants are the base's (the marker
// aside).
func sameUSAGEAndPrivileges(t *testing.T, db *mariadbtest.Server, base, clone string) bool {
	t.Helper()
	b := withoutMarker(grantsOf(t, db, base, mariadbtest.UserHost))
	c := withoutMarker(grantsOf(t, db, clone, mariadbtest.UserHost))
	return strings.Join(b, "\n") == strings.Join(c, "\n")
}

// TestMySQLAttackStrandedCloneClaim: whoever writes the application's
// secret stores a pending value for the clone's name, where an unmarked
// account of that name (the victim) exists, and lets setSecret run. Only
// an account that holds nothing but a password the pending value already
// knows is adopted; every other victim stays refused, and the server is
// unchanged, the victim's hash and grants included.
func TestMySQLAttackStrandedCloneClaim(t *testing.T) {
	db := myShared(t)
	dbName, role := mariadbtest.UniqueName("vdb"), mariadbtest.UniqueName("vrole")
	db.Exec(t, "CREATE DATABASE "+dbName, "CREATE ROLE "+role)
	tests := []struct {
		name string
		// host: the victim's account host (the base's when empty).
		host   string
		grants []string
		// knows: the pending value carries the victim's own password.
		knows bool
		// login: the victim logs in with its password after the attempt.
		login bool
	}{
		{name: "another password", login: true},
		{name: "another password, one character off", login: true},
		{name: "its password, and a privilege", knows: true, login: true, grants: []string{"GRANT SELECT ON " + dbName + ".* TO %s"}},
		{name: "its password, and a role", knows: true, login: true, grants: []string{"GRANT " + role + " TO %s"}},
		{name: "its password, and REQUIRE X509", knows: true, grants: []string{"ALTER USER %s REQUIRE X509"}},
		{name: "its password, and ACCOUNT LOCK", knows: true, grants: []string{"ALTER USER %s ACCOUNT LOCK"}},
		{name: "its password, and a resource limit", knows: true, login: true, grants: []string{"ALTER USER %s WITH MAX_USER_CONNECTIONS 3"}},
		{name: "its password, on another host than the base's", knows: true, host: "10.9.8.%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attacker := mariadbtest.UniqueName("claimer")
			atkPW := mariadbtest.RandomPassword(30)
			db.CreateUser(t, attacker, mariadbtest.UserHost, atkPW)
			clone := attacker + alternating.DefaultCloneSuffix
			host := mariadbtest.UserHost
			if tt.host != "" {
				host = tt.host
			}
			victimPW := mariadbtest.RandomPassword(30)
			db.CreateUser(t, clone, host, victimPW, tt.grants...)

			r := newMyRig(t, db, alternatingUsers, db.Secret(attacker, atkPW), myRigConfig{})
			r.masterARN = r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword))
			cur := r.stage("AWSCURRENT")
			cur.SetString(rotator.FieldMasterARN, r.masterARN)
			r.putCurrent(cur)
			r.seen = append(r.seen, victimPW)

			token := "6b6b6b6b-1111-2222-3333-444444444444"
			r.beginRotation(token)
			pending := r.stage("AWSCURRENT")
			pending.SetString(rotator.FieldUsername, clone)
			switch {
			case tt.knows:
				pending.SetString(rotator.FieldPassword, victimPW)
			case strings.Contains(tt.name, "one character off"):
				pending.SetString(rotator.FieldPassword, victimPW[:len(victimPW)-1]+string(victimPW[len(victimPW)-1]^1))
			default:
				pending.SetString(rotator.FieldPassword, mariadbtest.RandomPassword(30))
			}
			r.putPending(token, pending)

			before := mySnapshot(t, db)
			victimAuth := authOf(t, db, clone, host)
			victimGrants := grantsOf(t, db, clone, host)
			err := r.step("setSecret", token)
			if err == nil {
				t.Fatal("setSecret took over the victim's account")
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, rotator.ErrNotAllowed) || !containsFold(err.Error(), `"`+alternating.FieldAlternateUsername+`"`) {
				t.Errorf("the error does not wrap ErrNotAllowed naming %q: %v", alternating.FieldAlternateUsername, err)
			}
			assertMyUnchanged(t, db, before)
			if got := authOf(t, db, clone, host); got != victimAuth {
				t.Error("the victim's authentication string changed")
			}
			if got := grantsOf(t, db, clone, host); strings.Join(got, "\n") != strings.Join(victimGrants, "\n") {
				t.Errorf("the victim's grants changed:\nbefore %q\nafter  %q", victimGrants, got)
			}
			if hasMarker(t, db, clone, host) {
				t.Error("the victim was marked as a clone")
			}
			if tt.login {
				if err := db.CanLogin(context.Background(), clone, victimPW); err != nil {
					t.Errorf("the victim no longer logs in: %v", err)
				}
			}
			if err := r.login(r.stage("AWSCURRENT")); err != nil {
				t.Errorf("the attacker's AWSCURRENT stopped working: %v", err)
			}
		})
	}
}

// TestMySQLStrandedCloneBoundary: an unmarked account with the clone's
// name that holds nothing but a password the pending value carries is
// adopted, by design: whoever wrote that pending value could log in as
// the account and change its password already. Documented in the
// README's security notes.
func TestMySQLStrandedCloneBoundary(t *testing.T) {
	db := myShared(t)
	attacker := mariadbtest.UniqueName("bound")
	atkPW := mariadbtest.RandomPassword(30)
	db.CreateUser(t, attacker, mariadbtest.UserHost, atkPW)
	clone := attacker + alternating.DefaultCloneSuffix
	knownPW := mariadbtest.RandomPassword(30)
	db.CreateUser(t, clone, mariadbtest.UserHost, knownPW)
	// Whoever knows the password can log in and change it, without the
	// rotator.
	if err := db.CanLogin(context.Background(), clone, knownPW); err != nil {
		t.Fatal(err)
	}
	r := newMyRig(t, db, alternatingUsers, db.Secret(attacker, atkPW), myRigConfig{})
	r.masterARN = r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword))
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.masterARN)
	r.putCurrent(cur)
	token := "7c7c7c7c-1111-2222-3333-444444444444"
	r.beginRotation(token)
	pending := r.stage("AWSCURRENT")
	pending.SetString(rotator.FieldUsername, clone)
	pending.SetString(rotator.FieldPassword, knownPW)
	r.putPending(token, pending)
	if err := r.step("setSecret", token); err != nil {
		t.Fatalf("setSecret: %v", err)
	}
	if !hasMarker(t, db, clone, mariadbtest.UserHost) || !sameUSAGEAndPrivileges(t, db, attacker, clone) {
		t.Fatal("the account was not adopted as the base's clone")
	}
}
