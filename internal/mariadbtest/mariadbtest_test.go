package mariadbtest

import (
	"context"
	"slices"
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

// The MySQL 8.4 container's command line: X Protocol off (its fixed port
// would collide on the host's network), mysql_native_password loaded, the
// common options, and the image from $ROTATOR_TEST_IMAGE_MYSQL8.
func TestMySQL8Flavour(t *testing.T) {
	t.Setenv(testbackend.EnvImagePrefix+"MYSQL8", "")
	if got := mysql8Flavour().image; got != DefaultMySQL8Image {
		t.Errorf("image %q, want %q", got, DefaultMySQL8Image)
	}
	t.Setenv(testbackend.EnvImagePrefix+"MYSQL8", "registry.example/mysql:8.4.7")
	fl := mysql8Flavour()
	if fl.image != "registry.example/mysql:8.4.7" {
		t.Errorf("image %q, want the override", fl.image)
	}
	args := containerArgs(fl, 41234)
	if args[0] != "mysqld" {
		t.Errorf("command %q, want mysqld", args[0])
	}
	for _, want := range []string{"--mysqlx=OFF", "--mysql-native-password=ON", "--port=41234", "--bind-address=127.0.0.1", "--skip-name-resolve"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--plugin-load-add") || strings.HasPrefix(a, "--innodb-log-file-size") {
			t.Errorf("a MariaDB-only option %s in MySQL's args", a)
		}
	}
	env := fl.env("pw", "127.0.0.1")
	if env["MYSQL_ROOT_PASSWORD"] != "pw" || env["MYSQL_ROOT_HOST"] != "127.0.0.1" {
		t.Errorf("env %v", env)
	}
	if m := mariadbFlavour(); m.args[0] != "mariadbd" || m.env("pw", "h")["MARIADB_ROOT_PASSWORD"] != "pw" {
		t.Errorf("MariaDB flavour changed: %q", m.args)
	}
}

// A backend forced to local binaries rules the MySQL 8.4 container out,
// and the reason says so (a skip, or a failure with ROTATOR_REQUIRE_MYSQL8).
func TestMySQL8ForcedLocalReason(t *testing.T) {
	t.Setenv(testbackend.EnvBackend, "local")
	t.Setenv(EnvMode, "")
	s, why := TryMySQL8(t, WithTLSHosts("forced-local.invalid"))
	if s != nil {
		t.Fatal("a MySQL 8.4 server with the local backend forced")
	}
	if !strings.Contains(why, "ROTATOR_TEST_BACKEND=local") || !strings.Contains(why, "MySQL 8.4") {
		t.Fatalf("reason %q: want it to name the forced backend and MySQL 8.4", why)
	}
}

// hashedAuth sends a hash, never the password: MariaDB's native hash,
// MySQL's caching_sha2_password string with a fresh salt.
func TestHashedAuth(t *testing.T) {
	const pw = "p'w\\\"x"
	m, err := hashedAuth(true, pw)
	if err != nil || !strings.HasPrefix(m, "IDENTIFIED BY PASSWORD '*") || strings.Contains(m, pw) {
		t.Errorf("MariaDB: %q, %v", m, err)
	}
	a, err := hashedAuth(false, pw)
	if err != nil || !strings.HasPrefix(a, "IDENTIFIED WITH caching_sha2_password AS '$A$005$") || strings.Contains(a, pw) {
		t.Errorf("MySQL: %q, %v", a, err)
	}
	b, _ := hashedAuth(false, pw)
	if a == b {
		t.Error("two caching_sha2 hashes of one password are equal: no fresh salt")
	}
}

// The MySQL 8.4 server itself: a caching_sha2_password account made from
// its hash logs in over verified TLS, a wrong password does not, and the
// general log holds no plaintext. Skips with the reason where no Docker
// engine or image is available.
func TestMySQL8RigServer(t *testing.T) {
	s := MySQL8(t)
	ctx := context.Background()
	user, pw := UniqueName("rig8"), RandomPassword(24)
	s.CreateUser(t, user, UserHost, pw)
	if err := s.CanLogin(ctx, user, pw); err != nil {
		t.Fatalf("the new user does not log in: %v", err)
	}
	if err := s.CanLogin(ctx, user, pw+"x"); err == nil {
		t.Fatal("a wrong password logs in")
	}
	if got := s.Query(t, "SELECT plugin FROM mysql.user WHERE user = ?", user); len(got) != 1 || got[0] != "caching_sha2_password" {
		t.Fatalf("plugin %q, want caching_sha2_password", got)
	}
	log := s.ReadLog(t)
	if strings.Contains(log, pw) || strings.Contains(log, s.SuperPassword) {
		t.Fatal("a plaintext password reached the general log")
	}
}
