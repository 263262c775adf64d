package mysql_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
	"github.com/rotatorkit/rotator/strategies/single"
)

func TestMain(m *testing.M) { mariadbtest.Main(m) }

// The engine provides what each strategy asks of an engine, preflight
// included.
var (
	_ single.Engine                        = (*mysql.Engine)(nil)
	_ single.OwnPasswordPreflighter        = (*mysql.Engine)(nil)
	_ alternating.Engine                   = (*mysql.Engine)(nil)
	_ alternating.MasterPreflighter        = (*mysql.Engine)(nil)
	_ dualpassword.Engine                  = (*mysql.Engine)(nil)
	_ dualpassword.DualPasswordPreflighter = (*mysql.Engine)(nil)
	_ strategies.ConnectionPreflighter     = (*mysql.Engine)(nil)
	_ rotator.PolicyDefaulter              = (*mysql.Engine)(nil)
)

// engineFor returns an engine that trusts db's CA.
func engineFor(db *mariadbtest.Server, opts ...mysql.Option) *mysql.Engine {
	return mysql.New(append([]mysql.Option{mysql.WithCABundle(db.CAPEM)}, opts...)...)
}

func TestMariaDBSetPasswordPlugins(t *testing.T) {
	db := mariadbtest.Shared(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		create func(user, pw string) []string
	}{
		{"mysql_native_password", func(user, pw string) []string {
			return []string{"CREATE USER " + mariadbtest.Account(user, mariadbtest.UserHost) + " IDENTIFIED BY PASSWORD '" + mysqlhash.Native(pw) + "'"}
		}},
		{"ed25519", func(user, pw string) []string {
			return []string{"CREATE USER " + mariadbtest.Account(user, mariadbtest.UserHost) + " IDENTIFIED VIA ed25519 USING '" + mysqlhash.Ed25519(pw) + "'"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw := mariadbtest.UniqueName("plug"), mariadbtest.RandomPassword(30)
			db.Exec(t, tt.create(user, pw)...)
			e := engineFor(db)
			cur := db.Secret(user, pw)
			if err := e.Login(ctx, cur); err != nil {
				t.Fatal(err)
			}
			next := mariadbtest.RandomPassword(30)
			// As the user itself, then as the master.
			if err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: cur, Username: user, Password: next}); err != nil {
				t.Fatal(err)
			}
			if err := db.CanLogin(ctx, user, next); err != nil {
				t.Fatalf("the new password does not log in: %v", err)
			}
			last := mariadbtest.RandomPassword(30)
			master := db.Secret(db.SuperUser, db.SuperPassword)
			if err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: master, Username: user, Password: last}); err != nil {
				t.Fatal(err)
			}
			if err := db.CanLogin(ctx, user, last); err != nil {
				t.Fatalf("the master's new password does not log in: %v", err)
			}
			plugin := db.Query(t, "SELECT plugin FROM mysql.user WHERE User = ?", user)
			if len(plugin) != 1 || plugin[0] != tt.name {
				t.Fatalf("the plugin changed: %q", plugin)
			}
			if log := db.ReadLog(t); strings.Contains(log, next) || strings.Contains(log, last) {
				t.Fatal("a password reached the general log")
			}
		})
	}
}

func TestMariaDBUnsupportedPlugin(t *testing.T) {
	db := mariadbtest.Shared(t)
	user := mariadbtest.UniqueName("sock")
	db.Exec(t, "CREATE USER "+mariadbtest.Account(user, mariadbtest.UserHost)+" IDENTIFIED VIA unix_socket")
	before := db.Query(t, "SELECT authentication_string, plugin FROM mysql.user WHERE User = ?", user)
	err := engineFor(db).SetPassword(context.Background(), rotator.SetPasswordRequest{Conn: db.Secret(db.SuperUser, db.SuperPassword), Username: user, Password: "x-new-password"})
	if !errors.Is(err, mysql.ErrUnsupportedPlugin) || !strings.Contains(err.Error(), "unix_socket") {
		t.Fatalf("want ErrUnsupportedPlugin naming unix_socket, got %v", err)
	}
	if after := db.Query(t, "SELECT authentication_string, plugin FROM mysql.user WHERE User = ?", user); strings.Join(after, "") != strings.Join(before, "") {
		t.Fatal("the account changed")
	}
}

// TestMariaDBTLSModes: every TLS mode against MariaDB's native challenge;
// an unverified connection answers the challenge, which reveals nothing.
func TestMariaDBTLSModes(t *testing.T) {
	db := mariadbtest.Shared(t)
	plain := mariadbtest.Shared(t, mariadbtest.WithoutTLS())
	ctx := context.Background()
	tests := []struct {
		name   string
		server *mariadbtest.Server
		mode   string
		warn   bool
		err    error
	}{
		{"require", db, mysql.SSLRequire, false, nil},
		{"prefer with TLS", db, mysql.SSLPrefer, false, nil},
		{"verify-ca", db, mysql.SSLVerifyCA, false, nil},
		{"verify-full", db, mysql.SSLVerifyFull, false, nil},
		{"disable", plain, mysql.SSLDisable, false, nil},
		{"prefer without TLS falls back, with a warning", plain, mysql.SSLPrefer, true, nil},
		{"require without TLS", plain, mysql.SSLRequire, false, mysql.ErrServerNoTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw := mariadbtest.UniqueName("tls"), mariadbtest.RandomPassword(30)
			tt.server.CreateUser(t, user, mariadbtest.UserHost, pw)
			s := tt.server.Secret(user, pw)
			s.Delete(mysql.FieldSSL)
			s.SetString(mysql.FieldSSLMode, tt.mode)
			if tt.mode == mysql.SSLRequire || tt.mode == mysql.SSLPrefer {
				s.Delete(mysql.FieldSSLRootCert)
			}
			var logs strings.Builder
			e := mysql.New(mysql.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			err := e.Login(ctx, s)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("want %v, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "without TLS"); got != tt.warn {
				t.Fatalf("warning logged: %v, want %v (%s)", got, tt.warn, logs.String())
			}
		})
	}
}

func TestMariaDBLoginChecksTheAccount(t *testing.T) {
	db := mariadbtest.Shared(t)
	user, pw := mariadbtest.UniqueName("acct"), mariadbtest.RandomPassword(30)
	db.CreateUser(t, user, mariadbtest.UserHost, pw)
	s := db.Secret(user, pw)
	s.SetString(mysql.FieldUserHost, "%")
	err := engineFor(db).Login(context.Background(), s)
	if !errors.Is(err, mysql.ErrAccountHost) || !strings.Contains(err.Error(), `"userhost"`) {
		t.Fatalf("a login as another account than userhost names: %v", err)
	}
	s.SetString(mysql.FieldUserHost, mariadbtest.UserHost)
	if err := engineFor(db).Login(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// TestMariaDBCloneNameLimit: a clone whose name is longer than the server
// allows is a clear error, before anything changes.
func TestMariaDBCloneNameLimit(t *testing.T) {
	db := mariadbtest.Shared(t)
	base := mariadbtest.UniqueName(strings.Repeat("b", 70))
	_, err := engineFor(db).EnsureUser(context.Background(), rotator.EnsureUserRequest{
		Conn: db.Secret(db.SuperUser, db.SuperPassword), Username: base + "_clone", Template: base, Password: "x-password",
	})
	if err == nil || !strings.Contains(err.Error(), "at most 80") {
		t.Fatalf("want an error naming the limit, got %v", err)
	}
}

func TestMariaDBPreflight(t *testing.T) {
	db := mariadbtest.Shared(t)
	ctx := context.Background()
	e := engineFor(db)
	app := mariadbtest.UniqueName("pf")
	pw := mariadbtest.RandomPassword(30)
	db.CreateUser(t, app, mariadbtest.UserHost, pw)
	status := func(checks []rotator.Check) string {
		var b strings.Builder
		for _, c := range checks {
			b.WriteString(c.Name + "=" + string(c.Status) + ";")
		}
		return b.String()
	}
	conn := e.PreflightConnection(ctx, db.Secret(app, pw), "")
	if got := status(conn); got != "secret fields=PASS;TCP connect=PASS;TLS handshake=PASS;login with AWSCURRENT=PASS;" {
		t.Fatalf("connection: %s\n%+v", got, conn)
	}
	if got := status(e.PreflightConnection(ctx, db.Secret(app, "wrong"), "")); !strings.Contains(got, "login with AWSCURRENT=FAIL") {
		t.Fatalf("a wrong password: %s", got)
	}
	if c := e.PreflightOwnPassword(ctx, db.Secret(app, pw)); c.Status != rotator.CheckPass {
		t.Fatalf("single user: %+v", c)
	}
	dual := e.PreflightDualPassword(ctx, db.Secret(app, pw))
	if len(dual) != 1 || dual[0].Status != rotator.CheckFail || !strings.Contains(dual[0].Detail, "no dual passwords") {
		t.Fatalf("dual password on MariaDB: %+v", dual)
	}
	master := e.PreflightMaster(ctx, rotator.PreflightMasterRequest{Master: db.Secret(db.SuperUser, db.SuperPassword),
		Users: []string{app, app + "_clone"}, Template: app, Clone: app + "_clone"})
	if got := status(master); got != "master CREATE USER=PASS;master GRANT OPTION=PASS;user "+app+"=PASS;user "+app+"_clone=PASS;" {
		t.Fatalf("master: %s\n%+v", got, master)
	}
	weak := mariadbtest.UniqueName("weak")
	weakPW := mariadbtest.RandomPassword(30)
	db.CreateUser(t, weak, mariadbtest.UserHost, weakPW, "GRANT SELECT ON *.* TO %s")
	if got := status(e.PreflightMaster(ctx, rotator.PreflightMasterRequest{Master: db.Secret(weak, weakPW), Users: []string{app}})); !strings.Contains(got, "master CREATE USER=FAIL") {
		t.Fatalf("a master without CREATE USER: %s", got)
	}
}
