package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
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
	s := start(t, Options{TLSHosts: []string{"127.0.0.1", "localhost"}, PasswordEncryption: "md5"})
	ctx := context.Background()
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ssl bool
	var enc string
	if err := conn.QueryRow(ctx, "SELECT ssl, current_setting('password_encryption') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &enc); err != nil {
		t.Fatal(err)
	}
	if !ssl || enc != "md5" {
		t.Fatalf("ssl=%v password_encryption=%s", ssl, enc)
	}
}

func TestUnknownMode(t *testing.T) {
	if _, err := Start(context.Background(), Options{Mode: "cloud"}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}
