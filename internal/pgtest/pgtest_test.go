package pgtest

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/testbackend"
)

func TestMain(m *testing.M) { Main(m) }

func TestPostgresSharedServer(t *testing.T) {
	s := Shared(t)
	if s2 := Shared(t); s2 != s {
		t.Fatal("Shared started a second server for the same options")
	}
	ctx := context.Background()
	var version string
	if err := s.Admin(t).QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s server %s on %s:%d", s.Mode, version, s.Host, s.Port)

	name, pw := `Odd "Role"; x`, RandomPassword(40)
	s.CreateRole(t, name, pw, "LOGIN")
	var who string
	if err := s.Conn(t, name, pw, "").QueryRow(ctx, "SELECT session_user").Scan(&who); err != nil {
		t.Fatal(err)
	}
	if who != name {
		t.Fatalf("session_user = %q, want %q", who, name)
	}
	if _, err := s.Connect(ctx, name, pw+"x", ""); err == nil {
		t.Fatal("wrong password accepted")
	}
	if s.Mode != ModeDSN {
		log := s.WaitLog(t, "CREATE ROLE")
		if !strings.Contains(log, "CREATE ROLE") {
			t.Fatal("log_statement=all is not on: the log has no CREATE ROLE")
		}
		if strings.Contains(log, pw) {
			t.Fatal("the server log holds the plaintext password")
		}
	}
	sec := s.Secret(name, pw)
	if sec.Username() != name || sec.Password() != pw {
		t.Fatal("Secret fields")
	}
	if p, err := sec.Int("port", 0); err != nil || p != s.Port {
		t.Fatalf("Secret port = %d, %v", p, err)
	}
}

func TestPostgresTLSAndMD5(t *testing.T) {
	s := Start(t, WithTLS(), WithPasswordEncryption("md5"))
	ctx := context.Background()
	c := s.Admin(t)
	var enc string
	var ssl bool
	if err := c.QueryRow(ctx, "SELECT current_setting('password_encryption'), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&enc, &ssl); err != nil {
		t.Fatal(err)
	}
	if enc != "md5" || !ssl {
		t.Fatalf("password_encryption=%s ssl=%v", enc, ssl)
	}
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatal("not a TLS connection")
	}
	s.CreateRole(t, "md5user", "p'w", "LOGIN")
	var stored string
	if err := c.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'md5user'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "md5") {
		t.Fatalf("stored %q", stored[:6])
	}
	s.Conn(t, "md5user", "p'w", "")

	dir := filepath.Dir(s.DataDir)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if s.Mode == ModeLocal {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s still exists after Stop", dir)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Connect(ctx2, s.SuperUser, s.SuperPassword, ""); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

// TestFallbackWhenImageMissing: $ROTATOR_TEST_IMAGE_POSTGRES naming an image
// that cannot be had (as postgres:16-alpine on an offline laptop). With no
// backend forced, the server comes from the next backend and the reason
// names the image (or, without a Docker engine, says there is none); with
// the containers backend forced, the start fails with that reason: no
// fallback, no skip.
func TestFallbackWhenImageMissing(t *testing.T) {
	missing := UniqueName("rotator-test/no-such-image") + ":never"
	t.Setenv(testbackend.EnvBackend, "")
	t.Setenv(EnvMode, "")
	t.Setenv(EnvBinDir, "") // named binaries would come before containers
	t.Setenv(EnvDSN, "")
	t.Setenv(testbackend.EnvImagePrefix+"POSTGRES", missing)
	cfg, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	mentions := func(reason string) bool {
		return strings.Contains(reason, missing) || strings.Contains(reason, "no Docker engine")
	}

	s, skip, err := start(cfg)
	switch {
	case err != nil:
		t.Fatal(err)
	case skip != "":
		// No local binaries either: the reason still says why not a container.
		if !mentions(skip) {
			t.Fatalf("skip reason %q says nothing of the container", skip)
		}
		reg.Need().Unavailable(t, skip)
	}
	defer s.Stop()
	if s.Mode != ModeLocal {
		t.Fatalf("backend %s, want local", s.Mode)
	}
	if len(s.Skipped) == 0 || !mentions(s.Skipped[0]) {
		t.Fatalf("Skipped = %q: want the container's reason first", s.Skipped)
	}
	if s.FellBack != "" && !strings.Contains(s.FellBack, missing) {
		t.Fatalf("FellBack = %q does not name %s", s.FellBack, missing)
	}
	t.Logf("fell back to %s: %q", s.Source(), s.Skipped)

	t.Setenv(testbackend.EnvBackend, "containers")
	s2, skip, err := start(cfg)
	if err == nil {
		_ = s2.Stop()
	}
	if err == nil || skip != "" || !strings.Contains(err.Error(), "forces the containers backend") || !mentions(err.Error()) {
		t.Fatalf("forced containers with a missing image: err %v, skip %q", err, skip)
	}
	t.Logf("forced: %v", err)
}

func TestBackendVariables(t *testing.T) {
	t.Setenv(testbackend.EnvBackend, "containers")
	t.Setenv(EnvMode, "local")
	if _, _, err := backend(); err == nil {
		t.Fatal("ROTATOR_TEST_BACKEND=containers and ROTATOR_TEST_POSTGRES_MODE=local accepted")
	}
	t.Setenv(EnvMode, "container")
	if b, _, err := backend(); err != nil || b != testbackend.Containers {
		t.Fatalf("backend = %q, %v", b, err)
	}
	t.Setenv(testbackend.EnvBackend, "")
	t.Setenv(EnvMode, "dsn")
	t.Setenv(EnvDSN, "")
	if _, skip, err := start(config{pwEnc: "scram-sha-256"}); err == nil || skip != "" {
		t.Fatalf("forced dsn without a DSN: err %v, skip %q", err, skip)
	}
	t.Setenv(EnvImage, "old/name:1")
	t.Setenv(testbackend.EnvImagePrefix+"POSTGRES", "")
	if got := image(); got != "old/name:1" {
		t.Fatalf("image() = %q", got)
	}
	t.Setenv(testbackend.EnvImagePrefix+"POSTGRES", "new/name:2")
	if got := image(); got != "new/name:2" {
		t.Fatalf("image() = %q", got)
	}
}
