package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv("ROTATOR_REQUIRE_DB") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func TestPostgresStartLoginStop(t *testing.T) {
	s := start(t, Options{LogStatements: true})
	ctx := context.Background()
	t.Logf("%s PostgreSQL %s on %s:%d", s.Mode, s.Version, s.Host, s.Port)
	if s.Version == "" || s.PasswordEncryption != "scram-sha-256" {
		t.Fatalf("version %q, password_encryption %q", s.Version, s.PasswordEncryption)
	}
	pw := `p'w"\ $x`
	if err := s.CreateRole(ctx, "demo user", pw, "CREATEROLE"); err != nil {
		t.Fatal(err)
	}
	if err := s.CanLogin(ctx, "demo user", pw); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := s.CanLogin(ctx, "demo user", pw+"x"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if s.Mode == ModeLocal {
		log, err := s.ReadLog()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, "CREATE ROLE") || strings.Contains(log, pw) {
			t.Fatal("log: statements not logged, or the plaintext password is in it")
		}
	}
	dir := s.DataDir
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s still exists after Stop", dir)
		}
	}
	if err := s.CanLogin(ctx, s.SuperUser, s.SuperPassword); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestPostgresTLS(t *testing.T) {
	// A certificate that does not name s.Host: ConnConfig checks the chain
	// to the server's own CA, not the name.
	s := start(t, Options{TLSHosts: []string{"db.rotator.invalid"}, PasswordEncryption: "md5"})
	ctx := context.Background()
	if len(s.TLSHosts) != 1 || s.TLSHosts[0] != "db.rotator.invalid" {
		t.Fatalf("TLSHosts = %q", s.TLSHosts)
	}
	s.ApplicationName = "pgserver-tls-test"
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ssl bool
	var enc, app string
	if err := conn.QueryRow(ctx, "SELECT ssl, current_setting('password_encryption'), current_setting('application_name') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &enc, &app); err != nil {
		t.Fatal(err)
	}
	if !ssl || enc != "md5" || app != s.ApplicationName {
		t.Fatalf("ssl=%v password_encryption=%s application_name=%s", ssl, enc, app)
	}

	// A role with exactly the attributes given: no implied LOGIN.
	if err := s.CreateRoleWith(ctx, "nologin", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.CanLogin(ctx, "nologin", "pw"); err == nil {
		t.Fatal("CreateRoleWith without LOGIN made a role that logs in")
	}

	// A CA that signed nothing is refused.
	wrong, err := NewCAPEM()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := s.ConnConfig(s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	cc.TLSConfig = tlsClientConfig(wrong)
	if c, err := pgx.ConnectConfig(ctx, cc); err == nil {
		_ = c.Close(ctx)
		t.Fatal("connected with a CA that did not sign the server's certificate")
	}
}

func TestUnavailableReasons(t *testing.T) {
	t.Setenv("PGSERVER_TEST_BINDIR", "/nonexistent")
	_, err := Start(context.Background(), Options{Mode: ModeLocal, EnvPrefix: "PGSERVER_TEST_"})
	var none *UnavailableError
	if !errors.As(err, &none) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if len(none.Reasons) != 1 || !strings.Contains(none.Reasons[0], "$PGSERVER_TEST_BINDIR=/nonexistent holds no initdb") {
		t.Fatalf("reasons = %q", none.Reasons)
	}
}

func TestUnknownMode(t *testing.T) {
	if _, err := Start(context.Background(), Options{Mode: "cloud"}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// HostAuth sets the method the server asks TCP clients for: pgx's
// RequireAuth names the only method a connection may use, so it tells
// which one the server asked for.
func TestPostgresHostAuth(t *testing.T) {
	cases := []struct {
		method      string
		requireAuth string // the method pgx sees
		wrongPWOK   bool   // a wrong password logs in
	}{
		{method: "password", requireAuth: "password"},
		{method: "trust", requireAuth: "none", wrongPWOK: true},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			s := start(t, Options{HostAuth: c.method})
			if s.HostAuth != c.method {
				t.Fatalf("HostAuth = %q", s.HostAuth)
			}
			ctx := context.Background()
			if err := s.CreateRole(ctx, "u", "right"); err != nil {
				t.Fatal(err)
			}
			login := func(pw, requireAuth string) error {
				cc, err := s.ConnConfig("u", pw, "")
				if err != nil {
					t.Fatal(err)
				}
				cc.RequireAuth = requireAuth
				conn, err := pgx.ConnectConfig(ctx, cc)
				if err == nil {
					_ = conn.Close(ctx)
				}
				return err
			}
			if err := login("right", c.requireAuth); err != nil {
				t.Fatalf("login with require_auth=%s: %v", c.requireAuth, err)
			}
			if err := login("right", "scram-sha-256"); err == nil {
				t.Fatal("the server asked for SCRAM")
			}
			if err := login("wrong", ""); (err == nil) != c.wrongPWOK {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
	if _, err := Start(context.Background(), Options{HostAuth: "ident"}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("HostAuth ident: err = %v", err)
	}
}
