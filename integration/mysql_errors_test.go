package integration

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestMySQLRotationErrors: secrets and servers a rotation cannot work
// with fail with an error that says why, and leave AWSCURRENT where it was,
// still logging in.
func TestMySQLRotationErrors(t *testing.T) {
	db := myShared(t)
	plain := myShared(t, mariadbtest.WithoutTLS())
	tests := []struct {
		name   string
		server *mariadbtest.Server
		kind   strategyKind
		// edit changes the stored AWSCURRENT (login still uses the real
		// credentials, through the rig).
		edit   func(t *testing.T, r *myRig, cur *rotator.Secret)
		want   []error
		substr string
	}{
		{name: "wrong engine", server: db, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			cur.SetString(rotator.FieldEngine, "postgres")
		}, want: []error{rotator.ErrWrongEngine}, substr: "not MySQL or MariaDB"},
		{name: "missing host", server: db, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			cur.Delete(rotator.FieldHost)
		}, want: []error{rotator.ErrMissingField}, substr: `"host"`},
		{name: "unreachable server", server: db, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			if err := cur.Set(rotator.FieldPort, closedPort(t)); err != nil {
				t.Fatal(err)
			}
		}, want: []error{rotator.ErrUnreachable}, substr: "refused"},
		{name: "wrong master password", server: db, kind: alternatingUsers, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			master := db.Secret(db.SuperUser, "not-the-master-password")
			cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", master))
		}, want: []error{rotator.ErrLoginFailed}, substr: "master"},
		{name: "TLS required, the server has none", server: plain, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			cur.Delete(mysql.FieldSSL)
			cur.SetString(mysql.FieldSSLMode, mysql.SSLRequire)
		}, want: []error{rotator.ErrUnreachable, mysql.ErrServerNoTLS}, substr: "does not support TLS"},
		{name: "a certificate from another CA", server: db, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			cur.SetString(mysql.FieldSSLRootCert, string(mariadbtest.NewCAPEM(t)))
		}, want: []error{rotator.ErrUnreachable, mysql.ErrCertificate}, substr: "unknown authority"},
		{name: "userhost names another account", server: db, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {
			cur.SetString(mysql.FieldUserHost, "10.9.8.%")
		}, want: []error{mysql.ErrAccountHost}, substr: `"userhost"`},
		{name: "dual password on MariaDB", server: db, kind: dualPasswordUser, edit: func(t *testing.T, r *myRig, cur *rotator.Secret) {},
			want: []error{mysql.ErrDualPasswordUnsupported}, substr: "no dual passwords"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := myUser(t, tt.server, "err")
			real := s.Clone()
			r := newMyRig(t, tt.server, tt.kind, s, myRigConfig{})
			cur := r.stage("AWSCURRENT")
			if tt.kind == alternatingUsers {
				cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword)))
			}
			tt.edit(t, r, cur)
			r.putCurrent(cur)
			version := r.sm.VersionOf(r.arn, "AWSCURRENT")
			before := mySnapshot(t, tt.server)
			out := r.rotate()
			if out.Succeeded {
				t.Fatal("the rotation succeeded")
			}
			t.Logf("error: %v", out.Err)
			for _, w := range tt.want {
				if !errors.Is(out.Err, w) {
					t.Errorf("the error does not wrap %v", w)
				}
			}
			if !strings.Contains(strings.ToLower(out.Err.Error()), strings.ToLower(tt.substr)) {
				t.Errorf("the error does not say %q", tt.substr)
			}
			if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got != version {
				t.Errorf("AWSCURRENT moved from %s to %s", version, got)
			}
			if err := r.login(real); err != nil {
				t.Errorf("the user's password no longer logs in: %v", err)
			}
			assertMyUnchanged(t, tt.server, before)
		})
	}
}

// TestMySQLRequireSecureTransport: a server with require_secure_transport=ON
// (AWS's template issue #114) rotates over TLS, and a secret asking for
// plaintext gets an error that names the setting.
func TestMySQLRequireSecureTransport(t *testing.T) {
	db := myShared(t, mariadbtest.WithRequireSecureTransport())
	r := newMyRig(t, db, singleUser, myUser(t, db, "secure"), myRigConfig{})
	for i := 0; i < 2; i++ {
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i+1, out.Err)
		}
		if err := r.login(r.stage("AWSCURRENT")); err != nil {
			t.Fatal(err)
		}
	}
	cur := r.stage("AWSCURRENT")
	cur.Delete(mysql.FieldSSLRootCert)
	if err := cur.Set(mysql.FieldSSL, false); err != nil {
		t.Fatal(err)
	}
	r.putCurrent(cur)
	out := r.rotate()
	// MySQL answers with error 3159 (ErrServerRequiresTLS); MariaDB with
	// "access denied", which the engine explains when the connection had
	// no TLS and the server offers it.
	if out.Succeeded || !strings.Contains(out.Err.Error(), "require_secure_transport") {
		t.Fatalf("want an error naming require_secure_transport, got %v", out.Err)
	}
	if err := r.login(r.stage("AWSCURRENT")); err != nil {
		t.Fatal(err)
	}
}

// TestMySQLNonPercentHost: accounts whose host is not '%': the rig's users
// live at 127.0.0.1; here a second account of the same name at another host
// stays untouched, and "userhost" picks the account when there are two.
func TestMySQLNonPercentHost(t *testing.T) {
	db := myShared(t)
	user, pw, otherPW := mariadbtest.UniqueName("hosted"), mariadbtest.RandomPassword(30), mariadbtest.RandomPassword(30)
	db.CreateUser(t, user, mariadbtest.UserHost, pw)
	db.CreateUser(t, user, "10.99.%", otherPW)
	otherBefore := db.Query(t, "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = '10.99.%'", user)

	t.Run("single user: the account the user logs in as", func(t *testing.T) {
		r := newMyRig(t, db, singleUser, db.Secret(user, pw), myRigConfig{})
		for i := 0; i < 2; i++ {
			if out := r.rotate(); !out.Succeeded {
				t.Fatal(out.Err)
			}
		}
		cur := r.stage("AWSCURRENT")
		cur.SetString(mysql.FieldUserHost, mariadbtest.UserHost)
		r.putCurrent(cur)
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("with \"userhost\": %v", out.Err)
		}
		if err := r.login(r.stage("AWSCURRENT")); err != nil {
			t.Fatal(err)
		}
	})
	if got := db.Query(t, "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = '10.99.%'", user); strings.Join(got, "") != strings.Join(otherBefore, "") {
		t.Fatal("the account at the other host changed")
	}

	resetPassword := func(t *testing.T) string {
		t.Helper()
		pw := mariadbtest.RandomPassword(30)
		db.Exec(t, "SET PASSWORD FOR "+mariadbtest.Account(user, mariadbtest.UserHost)+" = '"+nativeHash(pw)+"'")
		return pw
	}
	t.Run("alternating: two accounts of the base need userhost", func(t *testing.T) {
		r := newMyRig(t, db, alternatingUsers, db.Secret(user, resetPassword(t)), myRigConfig{})
		cur := r.stage("AWSCURRENT")
		cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword)))
		r.putCurrent(cur)
		out := r.rotate()
		if out.Succeeded || !errors.Is(out.Err, mysql.ErrAccountHost) || !strings.Contains(out.Err.Error(), `"userhost"`) {
			t.Fatalf("want an error asking for \"userhost\", got %v", out.Err)
		}
	})
	t.Run("alternating with userhost", func(t *testing.T) {
		sec := db.Secret(user, resetPassword(t))
		sec.SetString(mysql.FieldUserHost, mariadbtest.UserHost)
		r := newMyRig(t, db, alternatingUsers, sec, myRigConfig{})
		cur := r.stage("AWSCURRENT")
		cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", db.Secret(db.SuperUser, db.SuperPassword)))
		r.putCurrent(cur)
		for i := 0; i < 3; i++ {
			if out := r.rotate(); !out.Succeeded {
				t.Fatalf("rotation %d: %v", i+1, out.Err)
			}
		}
		hosts := db.Query(t, "SELECT Host FROM mysql.user WHERE User = ?", user+"_clone")
		if strings.Join(hosts, ",") != mariadbtest.UserHost {
			t.Fatalf("the clone is on hosts %q, want %s", hosts, mariadbtest.UserHost)
		}
	})
	if got := db.Query(t, "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = '10.99.%'", user); strings.Join(got, "") != strings.Join(otherBefore, "") {
		t.Fatal("the account at the other host changed")
	}
}
