package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/dbrig/registry"
	"github.com/rotatorkit/rotator/internal/testbackend"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator"
)

// Environment variables read by this package.
const (
	// EnvRequire: "1" turns "no server available" skips into failures.
	EnvRequire = "ROTATOR_REQUIRE_DB"
	// EnvDSN: a go-sql-driver DSN for an existing server, as an account
	// with every privilege WITH GRANT OPTION.
	EnvDSN = "ROTATOR_TEST_MYSQL_DSN"
	// EnvMode: "container", "local" or "dsn" to allow only that source; an
	// older, MariaDB/MySQL-only form of $ROTATOR_TEST_BACKEND
	// (internal/testbackend). When both are set they must agree.
	EnvMode = "ROTATOR_TEST_MYSQL_MODE"
	// EnvBinDir: the directory holding mariadbd (or mysqld) and
	// mariadb-install-db (or mysql_install_db).
	EnvBinDir = "ROTATOR_TEST_MYSQL_BINDIR"
	// EnvCA: a PEM file with the CA of the $ROTATOR_TEST_MYSQL_DSN server's
	// certificate: tests then use that server over verified TLS (needed for
	// MySQL 8's caching_sha2_password). Without it the server is used
	// without TLS.
	EnvCA = "ROTATOR_TEST_MYSQL_CA"
)

// Mode says where a server came from.
type Mode string

// The sources of a server.
const (
	ModeContainer Mode = "container"
	ModeLocal     Mode = "local"
	ModeDSN       Mode = "dsn"
)

// Server is a running MariaDB or MySQL server.
type Server struct {
	// Mode is where the server came from.
	Mode Mode
	// Host and Port are the TCP address to connect to.
	Host string
	Port int
	// SuperUser and SuperPassword are an account with every privilege;
	// SuperHost is its host part.
	SuperUser, SuperPassword, SuperHost string
	// Version is VERSION() ("10.11.19-MariaDB-0+deb12u1-log"); MariaDB
	// says whether it is MariaDB.
	Version string
	MariaDB bool
	// TLS is true when the server accepts TLS; CAPEM is then the CA that
	// signed its certificate, and CAFile a file holding it.
	TLS    bool
	CAPEM  []byte
	CAFile string
	// RequireSecureTransport: the server refuses connections without TLS.
	RequireSecureTransport bool
	// DataDir, LogFile (the general log) and ErrorLog: local mode only.
	DataDir, LogFile, ErrorLog string

	// source says where the server came from, for the log line
	// ("container IMAGE", "local binaries PATH"); skipped says why the
	// backends tried before it were not used.
	source  string
	skipped []string

	stopFn   func() error
	logFn    func() (string, error)
	stopOnce sync.Once
	stopErr  error
}

// Option configures a server.
type Option func(*config)

type config struct {
	tls           bool
	tlsHosts      []string
	requireSecure bool
}

// WithTLS turns TLS on (the default): a certificate for 127.0.0.1 and
// localhost signed by a CA made for the server (Server.CAPEM).
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithTLSHosts turns TLS on with a server certificate naming exactly these
// hosts, e.g. to test host name verification.
func WithTLSHosts(hosts ...string) Option {
	return func(c *config) { c.tls = true; c.tlsHosts = slices.Clone(hosts) }
}

// WithoutTLS makes a server without TLS: a client that insists on TLS is
// refused.
func WithoutTLS() Option {
	return func(c *config) { c.tls = false; c.tlsHosts = nil; c.requireSecure = false }
}

// WithRequireSecureTransport turns TLS on and sets
// require_secure_transport=ON: the server refuses plaintext connections.
func WithRequireSecureTransport() Option {
	return func(c *config) { c.tls = true; c.requireSecure = true }
}

func newConfig(opts []Option) config {
	c := config{tls: true}
	for _, o := range opts {
		o(&c)
	}
	if c.tls && len(c.tlsHosts) == 0 {
		c.tlsHosts = []string{"127.0.0.1", "localhost"}
	}
	return c
}

func (c config) key() string {
	return fmt.Sprintf("tls=%v hosts=%q secure=%v", c.tls, c.tlsHosts, c.requireSecure)
}

// ContainerBackend starts a server in a container. It returns a non-empty
// skip reason when containers are not available here.
type ContainerBackend func(ctx context.Context, tls bool, tlsHosts []string, requireSecureTransport bool) (s *Server, skip string, err error)

var containerBackend ContainerBackend = startContainer

// RegisterContainerBackend replaces the containers backend, tried before
// local binaries (by default a container of $ROTATOR_TEST_IMAGE_MARIADB,
// see container.go); nil turns containers off.
func RegisterContainerBackend(b ContainerBackend) { containerBackend = b }

// SetLifecycle gives a server started elsewhere (a container backend) the
// functions that stop it and read its general log; either may be nil.
func (s *Server) SetLifecycle(stop func() error, readLog func() (string, error)) {
	s.stopFn, s.logFn = stop, readLog
}

// reg keeps every running server, so that Main and the signal handler
// can stop them all.
var reg = registry.New("mariadbtest", registry.Need{Env: EnvRequire},
	func(s *Server) string { return fmt.Sprintf("%s server on port %d", s.Mode, s.Port) })

// StopAll stops every server this package started (Main calls it).
func StopAll() { reg.StopAll() }

// Main runs the tests and then stops every server this package started:
//
//	func TestMain(m *testing.M) { mariadbtest.Main(m) }
func Main(m testmain.M) { reg.Main(m) }

// Activate allows Shared and returns the function that stops the shared
// servers, for a TestMain that serves several rigs:
//
//	stop := mariadbtest.Activate()
//	testmain.Run(m, "integration", func() { stop(); otherStop() })
func Activate() (stop func()) { return reg.Activate() }

// Shared returns the test binary's server for these options, starting it
// on first use. Tests sharing a server must use distinct account names (see
// UniqueName).
func Shared(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := newConfig(opts)
	return reg.Shared(t, cfg.key(), func() (*Server, string, error) { return start(cfg) })
}

// Start starts a server for this test alone and stops it when the test
// ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := newConfig(opts)
	return reg.Start(t, func() (*Server, string, error) { return start(cfg) })
}

// Required reports whether $ROTATOR_REQUIRE_DB asks for a real server.
func Required() bool { return reg.Need().Required() }

// backend returns the backend forced by $ROTATOR_TEST_BACKEND or, for
// this rig alone, by the older $ROTATOR_TEST_MYSQL_MODE, and how it was
// asked for (for messages).
func backend() (b testbackend.Backend, how string, err error) {
	b, how, err = testbackend.Resolve(EnvMode)
	if err != nil {
		return b, "", fmt.Errorf("mariadbtest: %w", err)
	}
	return b, how, nil
}

// start picks a source: containers, local binaries, $ROTATOR_TEST_MYSQL_DSN,
// the first that is available. It returns a reason when none is (skip), an
// error when one is available but failed, or when a forced backend is not
// available.
func start(cfg config) (*Server, string, error) {
	b, how, err := backend()
	if err != nil {
		return nil, "", err
	}
	forced := func(why string) error {
		return fmt.Errorf("mariadbtest: %s forces the %s backend, and it is not available: %s", how, b, why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var reasons []string
	// try runs one backend; done says whether start has its answer.
	type result struct {
		s    *Server
		skip string
		err  error
	}
	try := func(start func() (*Server, string, error)) (r result, done bool) {
		s, skip, err := start()
		switch {
		case err != nil:
			return result{err: err}, true
		case skip == "":
			s.skipped = reasons
			logStart(s)
			s, skip, err = register(s)
			return result{s, skip, err}, true
		case b != testbackend.Any:
			return result{err: forced(skip)}, true
		}
		reasons = append(reasons, skip)
		return result{}, false
	}
	if b == testbackend.Any || b == testbackend.Containers {
		r, done := try(func() (*Server, string, error) {
			if containerBackend == nil {
				return nil, "no container backend registered", nil
			}
			return containerBackend(ctx, cfg.tls, cfg.tlsHosts, cfg.requireSecure)
		})
		if done {
			return r.s, r.skip, r.err
		}
	}
	if b == testbackend.Any || b == testbackend.Local {
		r, done := try(func() (*Server, string, error) { return startLocal(ctx, cfg) })
		if done {
			return r.s, r.skip, r.err
		}
	}
	if b == testbackend.Any || b == testbackend.DSN {
		dsn := os.Getenv(EnvDSN)
		if dsn == "" {
			if b == testbackend.DSN {
				return nil, "", forced("$" + EnvDSN + " is not set")
			}
			reasons = append(reasons, "$"+EnvDSN+" is not set")
		} else {
			s, skip, err := startDSN(ctx, cfg, dsn)
			switch {
			case err != nil:
				return nil, "", err
			case skip != "":
				// A test that needs a configured server: a skip even
				// when forced.
				return nil, skip, nil
			}
			s.skipped = reasons
			logStart(s)
			return register(s)
		}
	}
	return nil, "no MariaDB/MySQL server for tests: " + strings.Join(reasons, "; "), nil
}

// logStart says, once per server start, which backend the tests use and
// why the ones before it were not used. It writes to stderr, which `go
// test -v` and a failing package's output show: CI checks in it that its
// containers run did run on containers.
func logStart(s *Server) {
	tls := "off"
	if s.TLS {
		tls = "on"
		if s.RequireSecureTransport {
			tls += ", require_secure_transport=ON"
		}
	}
	dbrig.LogStart(dbrig.Start{
		Rig: "mariadbtest", Mode: string(s.Mode), Source: s.source, Skipped: s.skipped,
		Detail: fmt.Sprintf("%s on %s, TLS %s", s.Version, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), tls),
	})
}

func register(s *Server) (*Server, string, error) { return reg.Register(s) }

// startDSN uses the server named by $ROTATOR_TEST_MYSQL_DSN, for the
// default option set only (a server it cannot configure has whatever TLS
// it has): with TLS verified against $ROTATOR_TEST_MYSQL_CA when set, else
// without TLS.
func startDSN(ctx context.Context, cfg config, dsn string) (*Server, string, error) {
	if !cfg.tls || cfg.requireSecure || cfg.key() != newConfig(nil).key() {
		return nil, "this test needs a server configured for it (" + cfg.key() + "); $" + EnvDSN + " names a server mariadbtest cannot configure", nil
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("mariadbtest: $%s is not a valid DSN", EnvDSN)
	}
	host, portS, err := net.SplitHostPort(mc.Addr)
	if err != nil || mc.Net != "tcp" {
		return nil, "", fmt.Errorf("mariadbtest: $%s must name a TCP address host:port", EnvDSN)
	}
	port, _ := strconv.Atoi(portS)
	s := &Server{Mode: ModeDSN, Host: host, Port: port, SuperUser: mc.User, SuperPassword: mc.Passwd}
	if f := os.Getenv(EnvCA); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("mariadbtest: $%s: %w", EnvCA, err)
		}
		s.TLS, s.CAPEM, s.CAFile = true, pem, f
	}
	db, err := s.Connect(ctx, s.SuperUser, s.SuperPassword)
	if err != nil {
		return nil, "", fmt.Errorf("mariadbtest: connect to $%s: %w", EnvDSN, err)
	}
	defer db.Close()
	var cu string
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), CURRENT_USER()").Scan(&s.Version, &cu); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: $%s: %w", EnvDSN, err)
	}
	s.MariaDB = strings.Contains(strings.ToLower(s.Version), "mariadb")
	if i := strings.LastIndexByte(cu, '@'); i >= 0 {
		s.SuperHost = cu[i+1:]
	}
	return s, "", nil
}

// Stop stops the server and removes its files (a $ROTATOR_TEST_MYSQL_DSN
// server is left running). It is safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.stopFn != nil {
			s.stopErr = s.stopFn()
		}
	})
	reg.Forget(s)
	return s.stopErr
}

// ReadLog returns the general log (every statement the server received).
// It skips the test where there is none (a $ROTATOR_TEST_MYSQL_DSN server).
func (s *Server) ReadLog(t testing.TB) string {
	t.Helper()
	if s.logFn == nil {
		t.Skipf("the general log is not available for a %s server", s.Mode)
	}
	out, err := s.logFn()
	if err != nil {
		t.Fatalf("mariadbtest: reading the general log: %v", err)
	}
	return out
}

// Config returns a driver configuration for user: TLS verifying the chain
// to the rig's CA on a TLS server, plaintext otherwise.
func (s *Server) Config(user, password string) *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd = user, password
	c.Net, c.Addr = "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	c.Timeout = 10 * time.Second
	c.AllowNativePasswords = true
	c.InterpolateParams = true
	if s.TLS {
		c.TLS = dbrig.TLSClientConfig(s.CAPEM)
	}
	return c
}

// Connect opens a database handle as user, after one successful ping.
func (s *Server) Connect(ctx context.Context, user, password string) (*sql.DB, error) {
	conn, err := mysql.NewConnector(s.Config(user, password))
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(1)
	err = db.PingContext(ctx)
	for try := 0; try < 3 && errors.Is(err, mysql.ErrMalformPkt); try++ {
		// go-sql-driver/mysql (v1.10.1) strips a trailing NUL from an
		// authentication switch's data, which fails client_ed25519 logins
		// whose nonce ends in NUL (1 in 256). The engine works around it
		// (padEd25519Nonce); this plain driver connection tries again,
		// with a new nonce.
		err = db.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// CanLogin reports whether user logs in with password: nil when it does.
func (s *Server) CanLogin(ctx context.Context, user, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := s.Connect(ctx, user, password)
	if err != nil {
		return err
	}
	defer db.Close()
	var cu string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return err
	}
	if !strings.HasPrefix(cu, user+"@") {
		return fmt.Errorf("the session belongs to %s", cu)
	}
	return nil
}

// Admin opens a handle as the superuser, closed when the test ends.
func (s *Server) Admin(t testing.TB) *sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := s.Connect(ctx, s.SuperUser, s.SuperPassword)
	if err != nil {
		t.Fatalf("mariadbtest: connect as the superuser: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs statements as the superuser, one at a time, or fails the test.
func (s *Server) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	db := s.Admin(t)
	for _, q := range stmts {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("mariadbtest: %s: %v", q, err)
		}
	}
}

// Query returns the rows of a query run as the superuser, each row's
// columns joined by tabs.
func (s *Server) Query(t testing.TB, q string, args ...any) []string {
	t.Helper()
	rows, err := s.Admin(t).QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("mariadbtest: %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String
		}
		out = append(out, strings.Join(parts, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Account quotes an account name for SQL: `user`@`host`.
func Account(user, host string) string {
	return "`" + strings.ReplaceAll(user, "`", "``") + "`@`" + strings.ReplaceAll(host, "`", "``") + "`"
}

// CreateUser creates user@host with a hash computed here
// (mysql_native_password on MariaDB, caching_sha2_password on MySQL: the
// plaintext never reaches the server), then runs each of grants
// with "%s" replaced by the account (e.g. "GRANT SELECT ON db.* TO %s").
func (s *Server) CreateUser(t testing.TB, user, host, password string, grants ...string) {
	t.Helper()
	acct := Account(user, host)
	auth, err := hashedAuth(s.MariaDB, password)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"CREATE USER " + acct + " " + auth}
	for _, g := range grants {
		stmts = append(stmts, strings.ReplaceAll(g, "%s", acct))
	}
	s.Exec(t, stmts...)
}

// UserHost is the host part of the accounts tests create: where the
// rig's connections come from.
const UserHost = "127.0.0.1"

// Secret returns an RDS-style secret for user on this server: engine,
// host, port (a JSON number), username, password, and the TLS fields: for a
// TLS server "ssl": true (verify-full) with the CA's PEM in "sslrootcert",
// else "ssl": false.
func (s *Server) Secret(user, password string) *rotator.Secret {
	engine := "mysql"
	if s.MariaDB {
		engine = "mariadb"
	}
	return dbrig.Secret(map[string]any{
		rotator.FieldEngine:   engine,
		rotator.FieldHost:     s.Host,
		rotator.FieldPort:     s.Port,
		rotator.FieldUsername: user,
		rotator.FieldPassword: password,
	}, s.TLS, s.CAPEM)
}

// UniqueName returns prefix followed by a random suffix (short: MySQL's
// user names have at most 32 characters).
func UniqueName(prefix string) string { return dbrig.UniqueName(prefix, 4) }

// RandomPassword returns n printable ASCII characters from the whole range
// (space through tilde), quotes and backslash included.
func RandomPassword(n int) string { return dbrig.RandomPassword(n) }

// NewCAPEM returns the PEM certificate of a fresh CA that signed nothing: a
// "wrong CA" for verification tests.
func NewCAPEM(t testing.TB) []byte {
	t.Helper()
	return registry.NewCAPEM(t, "mariadbtest")
}

func randomHex(n int) string { return dbrig.RandomHex(n) }
