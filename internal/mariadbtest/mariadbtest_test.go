package mariadbtest

import (
	"context"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestMariaDBRigServer(t *testing.T) {
	s := Shared(t)
	ctx := context.Background()
	user, pw := UniqueName("rig"), RandomPassword(24)
	s.CreateUser(t, user, UserHost, pw)
	if err := s.CanLogin(ctx, user, pw); err != nil {
		t.Fatalf("the new user does not log in: %v", err)
	}
	if err := s.CanLogin(ctx, user, pw+"x"); err == nil {
		t.Fatal("a wrong password logs in: the server checks no password")
	}
	if s.Mode == ModeLocal {
		log := s.ReadLog(t)
		if !strings.Contains(log, "CREATE USER") {
			t.Fatal("the general log does not show CREATE USER")
		}
		if strings.Contains(log, pw) || strings.Contains(log, s.SuperPassword) {
			t.Fatal("a plaintext password reached the general log")
		}
	}
	if s.TLS {
		var cipher, v string
		if err := s.Admin(t).QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&v, &cipher); err != nil {
			t.Fatal(err)
		}
		if cipher == "" {
			t.Fatal("the rig's connection does not use TLS")
		}
	}
}

func TestMariaDBRigRequireSecureTransport(t *testing.T) {
	s := Shared(t, WithRequireSecureTransport())
	plain := &Server{Host: s.Host, Port: s.Port}
	if err := plain.CanLogin(context.Background(), s.SuperUser, s.SuperPassword); err == nil {
		t.Fatal("require_secure_transport=ON let a plaintext connection in")
	}
	if err := s.CanLogin(context.Background(), s.SuperUser, s.SuperPassword); err != nil {
		t.Fatal(err)
	}
}
