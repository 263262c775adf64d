package mariadbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/testbackend"
	"github.com/rotatorkit/rotator/rotator"
)

// MySQL 8.4, for the paths MariaDB has not: dual passwords (RETAIN CURRENT
// PASSWORD), caching_sha2_password accounts, and mysql_native_password as
// 8.4 still loads it on request. No MySQL 8 package exists for the
// machines this project is built on, so the only source is a container.
const (
	// DefaultMySQL8Image is the image used when $ROTATOR_TEST_IMAGE_MYSQL8
	// is not set: Docker Hub's MySQL 8.4 (long-term support).
	DefaultMySQL8Image = "mysql:8.4"
	// EnvRequireMySQL8: "1" turns "no MySQL 8.4 server" skips into
	// failures (CI on a machine with Docker Hub sets it).
	EnvRequireMySQL8 = "ROTATOR_REQUIRE_MYSQL8"
)

// mysql8Image is $ROTATOR_TEST_IMAGE_MYSQL8, else DefaultMySQL8Image.
func mysql8Image() string {
	if img := testbackend.Image("mysql8"); img != "" {
		return img
	}
	return DefaultMySQL8Image
}

// mysql8Flavour runs the official image's entrypoint with mysqld: X
// Protocol off (its fixed port 33060 would collide between containers on
// the host's network) and mysql_native_password loaded (8.4 leaves it off
// by default).
func mysql8Flavour() flavour {
	return flavour{
		name:  "MySQL 8.4",
		image: mysql8Image(),
		args:  []string{"mysqld", "--mysqlx=OFF", "--mysql-native-password=ON"},
		env: func(pw, host string) map[string]string {
			return map[string]string{"MYSQL_ROOT_PASSWORD": pw, "MYSQL_ROOT_HOST": host}
		},
		label: "mariadbtest-mysql8",
	}
}

// RequiredMySQL8 reports whether $ROTATOR_REQUIRE_MYSQL8 asks for a MySQL
// 8.4 server.
func RequiredMySQL8() bool {
	b, err := rotator.ParseBool(os.Getenv(EnvRequireMySQL8))
	return err == nil && b
}

// mysql8Allowed says why the MySQL 8.4 container may not be tried: a
// forced backend other than containers. "" when it may.
func mysql8Allowed() string {
	b, how, err := backend()
	if err != nil {
		return err.Error()
	}
	if b != testbackend.Any && b != testbackend.Containers {
		return how + " rules out containers, MySQL 8.4's only source here"
	}
	return ""
}

// TryMySQL8 returns the test binary's MySQL 8.4 server for these options
// (a container of $ROTATOR_TEST_IMAGE_MYSQL8, default [DefaultMySQL8Image],
// set up as the MariaDB containers are: TLS with a CA made for it, every
// account with a password, the general log), starting it on first use, or
// nil and the precise reason there is none (no Docker engine, an image
// that cannot be had, a backend forced to local or dsn). A container that
// was had but whose server failed fails the test. TestMain must call
// [Main] or [Activate].
func TryMySQL8(t testing.TB, opts ...Option) (*Server, string) {
	t.Helper()
	cfg := newConfig(opts)
	s, skip := reg.Try(t, "TryMySQL8", "mysql8 "+cfg.key(), func() (*Server, string, error) {
		if why := mysql8Allowed(); why != "" {
			return nil, "no MySQL 8.4 server: " + why, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		s, skip, err := startFlavour(ctx, mysql8Flavour(), cfg.tls, cfg.tlsHosts, cfg.requireSecure)
		switch {
		case err != nil:
			return nil, "", err
		case skip != "":
			return nil, "no MySQL 8.4 server: " + skip, nil
		}
		logStart(s)
		return register(s)
	})
	if skip != "" {
		return nil, skip
	}
	if s.MariaDB || !strings.HasPrefix(s.Version, "8.") {
		t.Fatalf("mariadbtest: %s is not MySQL 8 (VERSION() = %q)", s.source, s.Version)
	}
	return s, ""
}

// MySQL8 is [TryMySQL8] for a test that needs the server: without one it
// skips with the reason, or fails when $ROTATOR_REQUIRE_MYSQL8=1.
func MySQL8(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, why := TryMySQL8(t, opts...)
	if s == nil {
		if RequiredMySQL8() {
			t.Fatalf("%s (%s=1 makes this a failure instead of a skip)", why, EnvRequireMySQL8)
		}
		t.Skipf("%s (the MySQL-8-only paths run where a Docker engine can run %s; set %s=1 to make this a failure)", why, mysql8Image(), EnvRequireMySQL8)
	}
	return s
}

// Describe says which server this is and where it came from, e.g.
// "10.11.19-MariaDB-0+deb12u1-log (local)", "8.4.3 (container mysql:8.4)".
func (s *Server) Describe() string {
	if s.source != "" {
		return fmt.Sprintf("%s (%s)", s.Version, s.source)
	}
	return fmt.Sprintf("%s (%s)", s.Version, s.Mode)
}
