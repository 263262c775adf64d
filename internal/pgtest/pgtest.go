package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/dbrig/registry"
	"github.com/rotatorkit/rotator/internal/pgserver"
	"github.com/rotatorkit/rotator/internal/testbackend"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator"
)

// Environment variables read by this package.
const (
	// EnvRequire: "1" turns "no server available" skips into failures.
	EnvRequire = "ROTATOR_REQUIRE_DB"
	// EnvDSN: a superuser connection string for an existing server.
	EnvDSN = envPrefix + "DSN"
	// EnvMode: "container", "local" or "dsn" to allow only that source; an
	// older, PostgreSQL-only form of $ROTATOR_TEST_BACKEND
	// (internal/testbackend). When both are set they must agree.
	EnvMode = envPrefix + "MODE"
	// EnvImage: the container image; an older form of
	// $ROTATOR_TEST_IMAGE_POSTGRES, which wins when both are set
	// (default pgserver.DefaultImage).
	EnvImage = envPrefix + "IMAGE"
	// EnvBinDir: the directory holding initdb and postgres.
	EnvBinDir = envPrefix + "BINDIR"
)

// envPrefix is the pgserver.Options.EnvPrefix of the servers started here,
// so that pgserver reads EnvMode, EnvImage and EnvBinDir.
const envPrefix = "ROTATOR_TEST_POSTGRES_"

// Mode says where a server came from: pgserver's modes, and ModeDSN.
type Mode = pgserver.Mode

// The three sources of a server.
const (
	ModeContainer      = pgserver.ModeContainer
	ModeLocal          = pgserver.ModeLocal
	ModeDSN       Mode = "dsn"
)

// Server is a running PostgreSQL server: a [pgserver.Server], whose fields
// (Host, Port, SuperUser, SuperPassword, TLS, CAPEM, ...) and methods
// taking a context (ConnConfig, Connect, CanLogin, RoleExists,
// CreateRoleWith) it has, with methods for tests that fail the test instead
// of returning an error (CreateRole, Exec, Conn, Admin, ReadLog).
type Server struct {
	*pgserver.Server
}

// Option configures a server.
type Option func(*config)

type config struct {
	tls      bool
	tlsHosts []string
	pwEnc    string
	hostAuth string
}

// WithTLS turns TLS on: the server gets a certificate for 127.0.0.1 and
// localhost (see WithTLSHosts) signed by a CA made for it (Server.CAPEM).
// Connections without TLS are still accepted.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithTLSHosts turns TLS on with a server certificate naming exactly these
// hosts (DNS names or IP addresses), e.g. to test hostname verification.
func WithTLSHosts(hosts ...string) Option {
	return func(c *config) { c.tls = true; c.tlsHosts = slices.Clone(hosts) }
}

// WithoutTLS makes a server without TLS (the default): a client that
// insists on TLS is refused.
func WithoutTLS() Option { return func(c *config) { c.tls = false; c.tlsHosts = nil } }

// WithPasswordEncryption sets password_encryption ("scram-sha-256", the
// default, or "md5"). With md5 the server's pg_hba.conf uses the md5 method,
// which also accepts SCRAM verifiers.
func WithPasswordEncryption(method string) Option {
	return func(c *config) { c.pwEnc = method }
}

// WithHostAuth sets the pg_hba.conf method of TCP connections (every
// connection a test makes): "scram-sha-256", "md5", "password" (the client
// sends the password in clear) or "trust" (no password checked at all).
// The default is the WithPasswordEncryption method. The weak methods exist
// to test what a client does when a server (or a man in the middle) asks
// for them.
func WithHostAuth(method string) Option {
	return func(c *config) { c.hostAuth = method }
}

func newConfig(opts []Option) (config, error) {
	c := config{pwEnc: "scram-sha-256"}
	for _, o := range opts {
		o(&c)
	}
	if c.tls && len(c.tlsHosts) == 0 {
		c.tlsHosts = []string{"127.0.0.1", "localhost"}
	}
	hostAuth, err := pgserver.CheckAuth(c.pwEnc, c.hostAuth)
	if err != nil {
		return c, fmt.Errorf("pgtest: %w", err)
	}
	c.hostAuth = hostAuth
	return c, nil
}

func (c config) key() string {
	return fmt.Sprintf("tls=%v hosts=%q pwenc=%s hostauth=%s", c.tls, c.tlsHosts, c.pwEnc, c.hostAuth)
}

// reg keeps every running server, so that Main and the signal handler
// can stop them all.
var reg = registry.New("pgtest", registry.Need{Env: EnvRequire},
	func(s *Server) string { return fmt.Sprintf("%s server on port %d", s.Mode, s.Port) })

// Main runs the tests and then stops every server this package started.
// Call it from TestMain in packages that use Shared:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// SIGINT and SIGTERM also stop the servers before the binary exits.
func Main(m testmain.M) { reg.Main(m) }

// Activate allows Shared and returns the function that stops the shared
// servers, for a TestMain that serves several rigs (internal/mariadbtest
// has the same):
//
//	stopPG, stopMariaDB := pgtest.Activate(), mariadbtest.Activate()
//	testmain.Run(m, "integration", func() { stopPG(); stopMariaDB() })
func Activate() (stop func()) { return reg.Activate() }

// Shared returns the test binary's server for these options, starting it on
// first use. It needs TestMain to call Main, which stops it at exit.
// Tests sharing a server must use distinct role names (see UniqueName).
func Shared(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return reg.Shared(t, cfg.key(), func() (*Server, string, error) { return start(cfg) })
}

// Start starts a server for this test alone and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return reg.Start(t, func() (*Server, string, error) { return start(cfg) })
}

// Required reports whether $ROTATOR_REQUIRE_DB asks for a real server.
func Required() bool { return reg.Need().Required() }

// backend returns the backend forced by $ROTATOR_TEST_BACKEND or, for
// this rig alone, by the older $ROTATOR_TEST_POSTGRES_MODE, and how it was
// asked for (for messages).
func backend() (b testbackend.Backend, how string, err error) {
	b, how, err = testbackend.Resolve(EnvMode)
	if err != nil {
		return b, "", fmt.Errorf("pgtest: %w", err)
	}
	return b, how, nil
}

// image is the container image: $ROTATOR_TEST_IMAGE_POSTGRES, else the
// older $ROTATOR_TEST_POSTGRES_IMAGE, else "" (pgserver's default).
func image() string {
	if img := testbackend.Image("postgres"); img != "" {
		return img
	}
	return strings.TrimSpace(os.Getenv(EnvImage))
}

// start picks a source. It returns a reason when no source is available
// (skip), an error when one is available but failed (fail), or when a
// forced backend is not available.
func start(cfg config) (*Server, string, error) {
	b, how, err := backend()
	if err != nil {
		return nil, "", err
	}
	forced := func(err error) error {
		return fmt.Errorf("pgtest: %s forces the %s backend, and it is not available: %w", how, b, err)
	}
	var reasons []string
	if b != testbackend.DSN {
		opts := pgserver.Options{
			EnvPrefix:          envPrefix,
			Image:              image(),
			PasswordEncryption: cfg.pwEnc,
			HostAuth:           cfg.hostAuth,
			LogStatements:      true,
		}
		switch b {
		case testbackend.Containers:
			opts.Mode = ModeContainer
		case testbackend.Local:
			opts.Mode = ModeLocal
		}
		if cfg.tls {
			opts.TLSHosts = cfg.tlsHosts
		}
		ps, err := pgserver.Start(context.Background(), opts)
		var none *pgserver.UnavailableError
		switch {
		case err == nil:
			ps.ApplicationName = "pgtest"
			s := &Server{Server: ps}
			logStart(s)
			return register(s, nil)
		case b != testbackend.Any:
			return nil, "", forced(err)
		case !errors.As(err, &none):
			return nil, "", err
		}
		reasons = append(reasons, none.Reasons...)
	}
	if b == testbackend.Any || b == testbackend.DSN {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			s, skip, err := startDSN(cfg, dsn)
			if skip != "" {
				return nil, skip, nil
			}
			if err == nil {
				s.Skipped = reasons
				logStart(s)
			}
			return register(s, err)
		}
		if b == testbackend.DSN {
			return nil, "", forced(errors.New("$" + EnvDSN + " is not set"))
		}
		reasons = append(reasons, "$"+EnvDSN+" is not set")
	}
	return nil, "no PostgreSQL server for tests: " + strings.Join(reasons, "; "), nil
}

// logStart says, once per server start, which backend the tests use and
// why the ones before it were not used. It writes to stderr, which `go
// test -v` and a failing package's output show: CI checks in it that its
// containers run did run on containers.
func logStart(s *Server) {
	tls := "off"
	if s.TLS {
		tls = "on"
	}
	dbrig.LogStart(dbrig.Start{
		Rig: "pgtest", Mode: string(s.Mode), Source: s.Source(), Skipped: s.Skipped,
		Detail: fmt.Sprintf("PostgreSQL %s on %s, TLS %s, password_encryption=%s",
			s.Version, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), tls, s.PasswordEncryption),
	})
}

// SetServerEnv sets, for the rest of the test, pgserver's own variables
// ($ROTATOR_POSTGRES_MODE, _IMAGE and _BINDIR), which a program that starts
// its own server reads (`rotator demo`), so that it gets its server from the
// backend, image and binaries the tests use. A test under a forced dsn
// backend is skipped: such a program cannot use an existing server.
func SetServerEnv(t testing.TB) {
	t.Helper()
	b, how, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	mode := ""
	switch b {
	case testbackend.Containers:
		mode = string(ModeContainer)
	case testbackend.Local:
		mode = string(ModeLocal)
	case testbackend.DSN:
		t.Skipf("%s: this test starts its own server, which a dsn backend cannot give", how)
	}
	t.Setenv(pgserver.EnvMode, mode)
	t.Setenv(pgserver.EnvImage, image())
	t.Setenv(pgserver.EnvBinDir, os.Getenv(EnvBinDir))
}

func register(s *Server, err error) (*Server, string, error) {
	if err != nil {
		return nil, "", err
	}
	return reg.Register(s)
}

// Stop stops the server and removes its files (a server from
// $ROTATOR_TEST_POSTGRES_DSN is left running). It is safe to call twice.
func (s *Server) Stop() error {
	err := s.Server.Stop()
	reg.Forget(s)
	return err
}

// ReadLog returns the server log. It skips the test where the log is not
// available (a server from $ROTATOR_TEST_POSTGRES_DSN).
func (s *Server) ReadLog(t testing.TB) string {
	t.Helper()
	out, err := s.Server.ReadLog()
	if errors.Is(err, pgserver.ErrNoLog) {
		t.Skipf("the server log is not available for a %s server", s.Mode)
	}
	if err != nil {
		t.Fatalf("pgtest: reading the server log: %v", err)
	}
	return out
}

// WaitLog is ReadLog once the log holds want, or after 15 s: a
// container's log reaches Docker a little after the statements ran, so a
// test that looks for its own last statement waits for it.
func (s *Server) WaitLog(t testing.TB, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		log := s.ReadLog(t)
		if strings.Contains(log, want) || time.Now().After(deadline) {
			return log
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Conn opens a connection as user or fails the test; it is closed when the
// test ends.
func (s *Server) Conn(t testing.TB, user, password, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := s.Connect(ctx, user, password, db)
	if err != nil {
		t.Fatalf("pgtest: connect as %q: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Admin opens a superuser connection, closed when the test ends.
func (s *Server) Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	return s.Conn(t, s.SuperUser, s.SuperPassword, "")
}

// DSN returns a URL connection string (user and password escaped) for
// tools that want one. Prefer ConnConfig in Go code.
func (s *Server) DSN(user, password, db string) string {
	if db == "" {
		db = s.Database
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(user, password),
		Host:   net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:   "/" + db,
	}
	q := url.Values{}
	if s.TLS && s.CAFile != "" {
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", s.CAFile)
	} else if s.TLS {
		q.Set("sslmode", "require")
	} else {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// CreateRole creates a role as the superuser. password "" means no
// password; otherwise it is hashed client-side (SCRAM-SHA-256, or md5 when
// the server's password_encryption is md5), so the server log never holds
// it. attrs are role options as SQL keywords ("LOGIN", "CREATEROLE",
// "CONNECTION LIMIT 3"); anything else fails the test.
func (s *Server) CreateRole(t testing.TB, name, password string, attrs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.CreateRoleWith(ctx, name, password, attrs...); err != nil {
		t.Fatalf("pgtest: CreateRole %q: %v", name, err)
	}
}

// Exec runs statements as the superuser or fails the test.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Server.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Secret returns an RDS-style secret for user on this server: engine, host,
// port (a JSON number), username, password, dbname, and the TLS fields: for
// a TLS server "ssl": true (verify-full) with the CA's PEM in
// "sslrootcert", else "ssl": false.
func (s *Server) Secret(user, password string) *rotator.Secret {
	return dbrig.Secret(map[string]any{
		rotator.FieldEngine:   "postgres",
		rotator.FieldHost:     s.Host,
		rotator.FieldPort:     s.Port,
		rotator.FieldUsername: user,
		rotator.FieldPassword: password,
		rotator.FieldDBName:   s.Database,
	}, s.TLS, s.CAPEM)
}

// UniqueName returns prefix followed by a random suffix, for role and
// table names on a shared server.
func UniqueName(prefix string) string { return dbrig.UniqueName(prefix, 5) }

// RandomPassword returns a random password of n printable ASCII characters
// drawn from the whole printable range (space through tilde), including
// quotes, backslash and dollar.
func RandomPassword(n int) string { return dbrig.RandomPassword(n) }

// NewCAPEM returns the PEM certificate of a fresh CA that signed nothing:
// a "wrong CA" for verification tests.
func NewCAPEM(t testing.TB) []byte {
	t.Helper()
	return registry.NewCAPEM(t, "pgtest")
}
