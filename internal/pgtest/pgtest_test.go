package pgtest

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		log := s.ReadLog(t)
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
