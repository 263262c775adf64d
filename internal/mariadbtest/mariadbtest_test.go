package mariadbtest

import (
	"context"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/testbackend"
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
	if s.Mode != ModeDSN {
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

// TestContainerBackendFallback: with an image that cannot be had, the
// server comes from the local binaries, and the reason (naming the image)
// is kept; with the containers backend forced, that is an error naming the
// image. (Not named for -run 'MariaDB': test-containers requires that every
// server of its run comes from a container.)
func TestContainerBackendFallback(t *testing.T) {
	missing := "rotator-test/no-such-image:" + randomHex(6)
	t.Setenv(testbackend.EnvImagePrefix+"MARIADB", missing)
	t.Setenv(testbackend.EnvBackend, "")
	t.Setenv(EnvMode, "")
	t.Setenv(EnvDSN, "")

	s, skip, err := start(newConfig(nil))
	switch {
	case err != nil:
		t.Fatal(err)
	case skip != "":
		// No local binaries either: the reasons still name the image.
		if !strings.Contains(skip, missing) {
			t.Fatalf("skip %q: want a reason naming %s", skip, missing)
		}
		t.Logf("no server (%s): checking the forced case only", skip)
	default:
		defer s.Stop()
		if s.Mode != ModeLocal {
			t.Fatalf("mode %s, want local", s.Mode)
		}
		if len(s.skipped) != 1 || !strings.Contains(s.skipped[0], missing) {
			t.Fatalf("skipped = %q: want one reason naming %s", s.skipped, missing)
		}
		t.Logf("fell back because: %s", s.skipped[0])
	}

	t.Setenv(testbackend.EnvBackend, "containers")
	s, skip, err = start(newConfig(nil))
	if err == nil {
		if s != nil {
			s.Stop()
		}
		t.Fatalf("forced containers with a missing image: no error (skip %q)", skip)
	}
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "forces the containers backend") {
		t.Fatalf("forced: %v; want an error naming %s", err, missing)
	}
	t.Logf("forced: %v", err)
}
