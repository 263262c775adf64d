package integration

import (
	"strings"
	"sync"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The paths only MySQL 8 has, against MySQL 8.4 in a container
// (mariadbtest.MySQL8): they skip with the reason where no Docker engine
// or image is available, and fail instead with ROTATOR_REQUIRE_MYSQL8=1.
// Their statements are unit-tested in engines/mysql as well.

var mysql8Marker sync.Map

// my8 is the shared MySQL 8.4 server, with the clone marker role made by
// its superuser (as myShared does for MariaDB).
func my8(t *testing.T) *mariadbtest.Server {
	t.Helper()
	db := mariadbtest.MySQL8(t)
	if _, done := mysql8Marker.Load(db); !done {
		db.Exec(t, "CREATE ROLE IF NOT EXISTS "+mysql.CloneMarkerRole)
		mysql8Marker.Store(db, true)
	}
	return db
}

// pluginOf returns the authentication plugin of user@127.0.0.1.
func pluginOf(t *testing.T, db *mariadbtest.Server, user string) string {
	t.Helper()
	rows := db.Query(t, "SELECT plugin FROM mysql.user WHERE user = ? AND host = ?", user, mariadbtest.UserHost)
	if len(rows) != 1 {
		t.Fatalf("%s@%s: %d accounts", user, mariadbtest.UserHost, len(rows))
	}
	return rows[0]
}

// assertNoPlaintext fails when one of the passwords reached the general
// log (MySQL rewrites the dual-password statement's values as <secret>).
func assertNoPlaintext(t *testing.T, db *mariadbtest.Server, passwords ...string) {
	t.Helper()
	log := db.ReadLog(t)
	for _, pw := range passwords {
		if pw != "" && strings.Contains(log, pw) {
			t.Fatal("a plaintext password reached MySQL's general log")
		}
	}
}

// TestMySQL8DualPasswordRotation: after setSecret both the current and the
// pending password log in; a finishSecret whose promotion fails discards
// nothing (the old password still logs in: DISCARD OLD PASSWORD runs
// strictly after the promotion); the retried finishSecret promotes, then
// discards, and the old password is refused. Three rotations in a row.
func TestMySQL8DualPasswordRotation(t *testing.T) {
	db := my8(t)
	sec := myUser(t, db, "dual", "GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO %s")
	r := newMyRig(t, db, dualPasswordUser, sec, myRigConfig{})
	for i, token := range []string{"8a8a8a8a-0000-4000-8000-000000000001", "8a8a8a8a-0000-4000-8000-000000000002", "8a8a8a8a-0000-4000-8000-000000000003"} {
		old := r.stage("AWSCURRENT")
		r.beginRotation(token)
		for _, step := range []string{"createSecret", "setSecret", "testSecret"} {
			if err := r.step(step, token); err != nil {
				t.Fatalf("rotation %d: %s: %v", i+1, step, err)
			}
		}
		pending := r.valueAt(token)
		r.seen = append(r.seen, pending.Password())
		if err := r.login(old); err != nil {
			t.Fatalf("rotation %d: the current password stopped working after setSecret: %v", i+1, err)
		}
		if err := r.login(pending); err != nil {
			t.Fatalf("rotation %d: the pending password does not log in: %v", i+1, err)
		}
		r.sm.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{ErrorType: "AccessDeniedException", Status: 400, Times: 1})
		if err := r.step("finishSecret", token); err == nil {
			t.Fatalf("rotation %d: finishSecret succeeded although its promotion failed", i+1)
		}
		if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got == token {
			t.Fatalf("rotation %d: AWSCURRENT moved although the promotion failed", i+1)
		}
		if err := r.login(old); err != nil {
			t.Fatalf("rotation %d: the old password was discarded before the promotion: %v", i+1, err)
		}
		if err := r.step("finishSecret", token); err != nil {
			t.Fatalf("rotation %d: retried finishSecret: %v", i+1, err)
		}
		if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got != token {
			t.Fatalf("rotation %d: AWSCURRENT is %s, want %s", i+1, got, token)
		}
		if err := r.login(pending); err != nil {
			t.Fatalf("rotation %d: the promoted password does not log in: %v", i+1, err)
		}
		if err := r.login(old); err == nil {
			t.Fatalf("rotation %d: the old password still logs in after the clean-up's DISCARD OLD PASSWORD", i+1)
		}
	}
	assertNoPlaintext(t, db, r.seen...)
}

// TestMySQL8CachingSHA2Rotation: a caching_sha2_password account rotates
// (single user, three times; alternating users, three times, the clone
// made with the base's plugin), keeps its plugin, and the server receives
// only hashes.
func TestMySQL8CachingSHA2Rotation(t *testing.T) {
	db := my8(t)
	t.Run("SingleUser", func(t *testing.T) {
		sec := myUser(t, db, "sha2")
		if p := pluginOf(t, db, sec.Username()); p != "caching_sha2_password" {
			t.Fatalf("the rig made a %s account", p)
		}
		r := newMyRig(t, db, singleUser, sec, myRigConfig{opts: []rotator.Option{rotator.WithPasswordGenerator(everyChar{})}})
		for i := 1; i <= 3; i++ {
			old := r.stage("AWSCURRENT")
			if out := r.rotate(); !out.Succeeded {
				t.Fatalf("rotation %d: %v", i, out.Err)
			}
			cur := r.stage("AWSCURRENT")
			if err := r.login(cur); err != nil {
				t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
			}
			if r.login(old) == nil {
				t.Fatalf("rotation %d: the old password still logs in", i)
			}
			if p := pluginOf(t, db, cur.Username()); p != "caching_sha2_password" {
				t.Fatalf("rotation %d: the account's plugin became %s", i, p)
			}
		}
		assertNoPlaintext(t, db, r.seen...)
	})
	t.Run("AlternatingUsers", func(t *testing.T) {
		base := mariadbtest.UniqueName("sha2a")
		r := myAlternatingRig(t, db, base, nil, myRigConfig{})
		for i, want := range []string{base + "_clone", base, base + "_clone"} {
			if out := r.rotate(); !out.Succeeded {
				t.Fatalf("rotation %d: %v", i+1, out.Err)
			}
			cur := r.stage("AWSCURRENT")
			if cur.Username() != want {
				t.Fatalf("rotation %d: AWSCURRENT user %q, want %q", i+1, cur.Username(), want)
			}
			if err := r.login(cur); err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
			if p := pluginOf(t, db, want); p != "caching_sha2_password" {
				t.Fatalf("rotation %d: %s has plugin %s", i+1, want, p)
			}
		}
		assertNoPlaintext(t, db, r.seen...)
	})
}

// TestMySQL8NativePasswordRotation: MySQL 8.4 still loads
// mysql_native_password on request (the rig starts it with
// --mysql-native-password=ON); such an account rotates three times,
// keeps its plugin, and the server receives only hashes.
func TestMySQL8NativePasswordRotation(t *testing.T) {
	db := my8(t)
	user, pw := mariadbtest.UniqueName("native"), mariadbtest.RandomPassword(30)
	db.Exec(t, "CREATE USER "+mariadbtest.Account(user, mariadbtest.UserHost)+" IDENTIFIED WITH mysql_native_password AS '"+nativeHash(pw)+"'")
	r := newMyRig(t, db, singleUser, db.Secret(user, pw), myRigConfig{})
	for i := 1; i <= 3; i++ {
		old := r.stage("AWSCURRENT")
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i, out.Err)
		}
		cur := r.stage("AWSCURRENT")
		if err := r.login(cur); err != nil {
			t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
		}
		if r.login(old) == nil {
			t.Fatalf("rotation %d: the old password still logs in", i)
		}
		if p := pluginOf(t, db, user); p != "mysql_native_password" {
			t.Fatalf("rotation %d: the account's plugin became %s", i, p)
		}
	}
	assertNoPlaintext(t, db, r.seen...)
}
