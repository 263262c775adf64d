package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/testbackend"
)

// start starts a server for a test. The test rigs' variables
// ($ROTATOR_TEST_BACKEND, $ROTATOR_TEST_IMAGE_POSTGRES; internal/testbackend)
// fill in what opts leave out, so that CI's containers run covers this
// package's container code and its local run the local code.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	b, err := testbackend.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Mode == "" {
		switch b {
		case testbackend.Containers:
			opts.Mode = ModeContainer
		case testbackend.Local:
			opts.Mode = ModeLocal
		case testbackend.DSN:
			t.Skipf("$%s=dsn: pgserver starts its own servers", testbackend.EnvBackend)
		}
	}
	if opts.Image == "" {
		opts.Image = testbackend.Image("postgres")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv("ROTATOR_REQUIRE_DB") == "1" || b != testbackend.Any {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server from %s: PostgreSQL %s on %s:%d (before it: %q)", s.Source(), s.Version, s.Host, s.Port, s.Skipped)
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
	wrong, err := dbrig.NewCAPEM()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := s.ConnConfig(s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	cc.TLSConfig = dbrig.TLSClientConfig(wrong)
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

// TestFallbackWhenContainerFails: when a Docker engine answers but the
// image cannot be had (what an offline laptop meets with
// postgres:16-alpine, and this CI machine, which reaches no registry), the
// server comes from the local binaries and FellBack says why; with the
// container source forced, that is Start's error. Without an engine, the
// reason is that there is none.
func TestFallbackWhenContainerFails(t *testing.T) {
	missing := "rotator-test/no-such-image:" + randomHex(6)
	// A prefix nobody sets: only these options count.
	opts := Options{Image: missing, EnvPrefix: "PGSERVER_FALLBACK_TEST_"}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	engine, why := dockerAvailable(ctx)
	t.Logf("Docker engine answers: %v %s", engine, why)

	began := time.Now()
	s, err := Start(ctx, opts)
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv("ROTATOR_REQUIRE_DB") == "1" {
			t.Fatal(err)
		}
		t.Skip(err) // no local binaries to fall back to
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	t.Logf("server from %s after %s; fell back because: %s", s.Source(), time.Since(began).Round(time.Millisecond), s.FellBack)
	if s.Mode != ModeLocal {
		t.Fatalf("mode %s, want local", s.Mode)
	}
	if engine {
		if !strings.HasPrefix(s.FellBack, "container not used: ") || !strings.Contains(s.FellBack, missing) ||
			!strings.Contains(s.FellBack, "not on this Docker engine") {
			t.Fatalf("FellBack = %q: want the container's failure, naming %s", s.FellBack, missing)
		}
		if len(s.Skipped) != 1 || s.Skipped[0] != s.FellBack {
			t.Fatalf("Skipped = %q", s.Skipped)
		}
	} else if s.FellBack != "" || len(s.Skipped) != 1 || !strings.Contains(s.Skipped[0], "no Docker engine") {
		t.Fatalf("no engine: FellBack = %q, Skipped = %q", s.FellBack, s.Skipped)
	}

	opts.Mode = ModeContainer
	_, err = Start(ctx, opts)
	switch {
	case err == nil:
		t.Fatal("forced container mode with a missing image started a server")
	case engine && (errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), missing)):
		t.Fatalf("forced container mode: %v; want an error naming %s", err, missing)
	case !engine && !errors.Is(err, ErrUnavailable):
		t.Fatalf("forced container mode without an engine: %v", err)
	}
	t.Logf("forced: %v", err)
}

// TestBinDirFirst: binaries named explicitly come before containers.
func TestBinDirFirst(t *testing.T) {
	bindir, why := findBinaries("", "", "X")
	if bindir == "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{BinDir: bindir, EnvPrefix: "PGSERVER_FALLBACK_TEST_", Image: "rotator-test/never-used:x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Mode != ModeLocal || s.BinDir != bindir || len(s.Skipped) != 0 {
		t.Fatalf("mode %s from %s, skipped %q", s.Mode, s.BinDir, s.Skipped)
	}
}
