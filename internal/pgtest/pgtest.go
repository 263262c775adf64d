// Package pgtest gives tests a real PostgreSQL server.
//
// A server comes from the first of these that works, tried in order:
//
//  1. a container started by testcontainers-go, when a Docker engine is
//     reachable (the provider's health check fails fast when it is not);
//  2. a throwaway cluster made from locally installed binaries (initdb and
//     postgres, found through $ROTATOR_TEST_POSTGRES_BINDIR, `pg_config
//     --bindir`, /usr/lib/postgresql/*/bin or $PATH) in a temporary
//     directory, listening on 127.0.0.1 on a random free port, with
//     password authentication (scram-sha-256, or md5 on request) for every
//     connection. When the test runs as root the server runs as the
//     `postgres` OS user, since PostgreSQL refuses to run as root;
//  3. an existing server named by $ROTATOR_TEST_POSTGRES_DSN (a superuser
//     connection string). Options that need control over the server (TLS,
//     password_encryption) are not available there.
//
// $ROTATOR_TEST_POSTGRES_MODE=container|local|dsn restricts the choice to one
// of them. When none is available the test is skipped with the reason, or
// fails when $ROTATOR_REQUIRE_DB=1 (CI sets it, so that a missing server
// cannot pass as a green run).
//
// Two ways to get a server:
//
//   - [Shared] starts one server per test binary and option set, on first
//     use, and [Main] (called from TestMain) stops them all when the tests
//     end or when the binary gets SIGINT/SIGTERM;
//   - [Start] starts a server for one test and stops it in t.Cleanup.
//
// Local servers are started with a parent-death signal, so even a test
// binary that crashes or is killed takes its postgres processes with it; a
// temporary directory left behind that way is removed by the next run.
//
// Local and container servers log every statement (log_statement=all), so a
// test can read [Server.ReadLog] to prove that a plaintext password never
// reached the server. Helpers in this package never send plaintext passwords
// either: [Server.CreateRole] hashes them client-side.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/rotator"
)

// Environment variables read by this package.
const (
	// EnvRequire: "1" turns "no server available" skips into failures.
	EnvRequire = "ROTATOR_REQUIRE_DB"
	// EnvDSN: a superuser connection string for an existing server.
	EnvDSN = "ROTATOR_TEST_POSTGRES_DSN"
	// EnvMode: "container", "local" or "dsn" to allow only that source.
	EnvMode = "ROTATOR_TEST_POSTGRES_MODE"
	// EnvImage: the container image (default postgres:16-alpine).
	EnvImage = "ROTATOR_TEST_POSTGRES_IMAGE"
	// EnvBinDir: the directory holding initdb and postgres.
	EnvBinDir = "ROTATOR_TEST_POSTGRES_BINDIR"
)

// Mode says where a server came from.
type Mode string

// The three sources of a server.
const (
	ModeContainer Mode = "container"
	ModeLocal     Mode = "local"
	ModeDSN       Mode = "dsn"
)

// Server is a running PostgreSQL server.
type Server struct {
	// Mode is where the server came from.
	Mode Mode
	// Host and Port are the TCP address to connect to.
	Host string
	Port int
	// SuperUser and SuperPassword are a superuser's credentials.
	SuperUser, SuperPassword string
	// Database is the database that always exists ("postgres").
	Database string
	// DataDir and LogFile are the cluster directory and the server log
	// (local mode only; "" otherwise).
	DataDir, LogFile string
	// TLS is true when the server accepts TLS; CAPEM is then the PEM
	// certificate of the CA that signed the server's certificate and
	// CAFile a file holding it.
	TLS    bool
	CAPEM  []byte
	CAFile string
	// TLSHosts are the names and addresses in the server certificate.
	TLSHosts []string
	// PasswordEncryption is the server's password_encryption setting.
	PasswordEncryption string

	stopFn   func() error
	logFn    func() (string, error)
	stopOnce sync.Once
	stopErr  error
}

// Option configures a server.
type Option func(*config)

type config struct {
	tls      bool
	tlsHosts []string
	pwEnc    string
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

func newConfig(opts []Option) (config, error) {
	c := config{pwEnc: "scram-sha-256"}
	for _, o := range opts {
		o(&c)
	}
	if c.tls && len(c.tlsHosts) == 0 {
		c.tlsHosts = []string{"127.0.0.1", "localhost"}
	}
	switch c.pwEnc {
	case "scram-sha-256", "md5":
	default:
		return c, fmt.Errorf("pgtest: password encryption %q is not scram-sha-256 or md5", c.pwEnc)
	}
	return c, nil
}

func (c config) key() string {
	return fmt.Sprintf("tls=%v hosts=%q pwenc=%s", c.tls, c.tlsHosts, c.pwEnc)
}

// registry of every running server, so that Main and the signal handler can
// stop them all.
var reg struct {
	mu         sync.Mutex
	mainActive bool
	exiting    bool
	live       map[*Server]struct{}
	shared     map[string]*sharedEntry
}

type sharedEntry struct {
	once sync.Once
	srv  *Server
	skip string
	err  error
}

func track(s *Server) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.live == nil {
		reg.live = map[*Server]struct{}{}
	}
	reg.live[s] = struct{}{}
}

func untrack(s *Server) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	delete(reg.live, s)
}

func stopAll() {
	reg.mu.Lock()
	reg.exiting = true
	servers := make([]*Server, 0, len(reg.live))
	for s := range reg.live {
		servers = append(servers, s)
	}
	reg.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: stopping %s server on port %d: %v\n", s.Mode, s.Port, err)
			}
		})
	}
	wg.Wait()
}

// Main runs the tests and then stops every server this package started.
// Call it from TestMain in packages that use Shared:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// SIGINT and SIGTERM also stop the servers before the binary exits.
func Main(m *testing.M) {
	reg.mu.Lock()
	reg.mainActive = true
	reg.mu.Unlock()

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigc
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "pgtest: %v: stopping test servers\n", sig)
		stopAll()
		code := 1
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()

	code := m.Run()
	signal.Stop(sigc)
	stopAll()
	os.Exit(code)
}

// Shared returns the test binary's server for these options, starting it on
// first use. It needs TestMain to call Main, which stops it at exit.
// Tests sharing a server must use distinct role names (see UniqueName).
func Shared(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	if !reg.mainActive {
		reg.mu.Unlock()
		t.Fatal("pgtest.Shared needs TestMain to call pgtest.Main(m), which stops the shared servers when the test binary exits; use pgtest.Start for a per-test server")
	}
	if reg.shared == nil {
		reg.shared = map[string]*sharedEntry{}
	}
	e := reg.shared[cfg.key()]
	if e == nil {
		e = &sharedEntry{}
		reg.shared[cfg.key()] = e
	}
	reg.mu.Unlock()

	e.once.Do(func() { e.srv, e.skip, e.err = start(cfg) })
	switch {
	case e.err != nil:
		t.Fatal(e.err)
	case e.skip != "":
		unavailable(t, e.skip)
	}
	return e.srv
}

// Start starts a server for this test alone and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, skip, err := start(cfg)
	switch {
	case err != nil:
		t.Fatal(err)
	case skip != "":
		unavailable(t, skip)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: stopping server: %v", err)
		}
	})
	return s
}

// Required reports whether $ROTATOR_REQUIRE_DB asks for a real server.
func Required() bool {
	b, err := rotator.ParseBool(os.Getenv(EnvRequire))
	return err == nil && b
}

func unavailable(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s=1 makes this a failure instead of a skip)", reason, EnvRequire)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", reason, EnvRequire)
}

// start picks a source. It returns a reason when no source is available
// (skip), an error when one is available but failed (fail).
func start(cfg config) (*Server, string, error) {
	only := strings.ToLower(strings.TrimSpace(os.Getenv(EnvMode)))
	switch Mode(only) {
	case "", ModeContainer, ModeLocal, ModeDSN:
	default:
		return nil, "", fmt.Errorf("pgtest: %s=%q: want container, local or dsn", EnvMode, only)
	}
	var reasons []string
	if only == "" || Mode(only) == ModeContainer {
		if ok, why := dockerAvailable(); ok {
			s, err := startContainer(cfg)
			return register(s, err)
		} else {
			reasons = append(reasons, "no Docker engine ("+why+")")
		}
	}
	if only == "" || Mode(only) == ModeLocal {
		bindir, why := findBinaries()
		if bindir != "" {
			s, skip, err := startLocal(cfg, bindir)
			if skip == "" {
				return register(s, err)
			}
			reasons = append(reasons, skip)
		} else {
			reasons = append(reasons, "no local PostgreSQL binaries ("+why+")")
		}
	}
	if only == "" || Mode(only) == ModeDSN {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			s, skip, err := startDSN(cfg, dsn)
			if skip != "" {
				return nil, skip, nil
			}
			return register(s, err)
		}
		reasons = append(reasons, "$"+EnvDSN+" is not set")
	}
	return nil, "no PostgreSQL server for tests: " + strings.Join(reasons, "; "), nil
}

func register(s *Server, err error) (*Server, string, error) {
	if err != nil {
		return nil, "", err
	}
	track(s)
	reg.mu.Lock()
	exiting := reg.exiting
	reg.mu.Unlock()
	if exiting { // a signal arrived while it started
		_ = s.Stop()
		return nil, "", fmt.Errorf("pgtest: test binary is exiting")
	}
	return s, "", nil
}

// Stop stops the server and removes its files. It is safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.stopFn != nil {
			s.stopErr = s.stopFn()
		}
		untrack(s)
	})
	return s.stopErr
}

// ReadLog returns the server log. It skips the test where the log is not
// available (a server from $ROTATOR_TEST_POSTGRES_DSN).
func (s *Server) ReadLog(t testing.TB) string {
	t.Helper()
	if s.logFn == nil {
		t.Skipf("the server log is not available for a %s server", s.Mode)
	}
	out, err := s.logFn()
	if err != nil {
		t.Fatalf("pgtest: reading the server log: %v", err)
	}
	return out
}

// ConnConfig returns a connection configuration for user, built field by
// field (never by pasting values into a connection string). db "" means
// s.Database. On a TLS server the connection uses TLS and checks that the
// certificate chains to the server's CA (not the host name); otherwise TLS
// is off.
func (s *Server) ConnConfig(user, password, db string) (*pgx.ConnConfig, error) {
	if db == "" {
		db = s.Database
	}
	cc, err := pgx.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("pgtest: default connection config: %w", err)
	}
	cc.Host = s.Host
	cc.Port = uint16(s.Port)
	cc.User = user
	cc.Password = password
	cc.Database = db
	cc.ConnectTimeout = 10 * time.Second
	cc.Fallbacks = nil
	cc.RuntimeParams = map[string]string{"application_name": "pgtest"}
	cc.TLSConfig = nil
	if s.TLS {
		// The chain is verified, the name not: WithTLSHosts may give the
		// server a certificate for another name on purpose.
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.CAPEM)
		cc.TLSConfig = &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // verified below
			MinVersion:         tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("pgtest: server sent no certificate")
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool})
				return err
			},
		}
	}
	return cc, nil
}

// Connect opens a connection as user (db "" means s.Database).
func (s *Server) Connect(ctx context.Context, user, password, db string) (*pgx.Conn, error) {
	cc, err := s.ConnConfig(user, password, db)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
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
		Host:   hostPort(s.Host, s.Port),
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

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

var attrRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ]*$`)

// CreateRole creates a role as the superuser. password "" means no
// password; otherwise it is hashed client-side (SCRAM-SHA-256, or md5 when
// the server's password_encryption is md5), so the server log never holds
// it. attrs are role options as SQL keywords ("LOGIN", "CREATEROLE",
// "CONNECTION LIMIT 3"); anything else fails the test.
func (s *Server) CreateRole(t testing.TB, name, password string, attrs ...string) {
	t.Helper()
	for _, a := range attrs {
		if !attrRE.MatchString(a) {
			t.Fatalf("pgtest: CreateRole: attribute %q is not plain SQL keywords", a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatalf("pgtest: CreateRole: connect as superuser: %v", err)
	}
	defer conn.Close(context.Background())

	sql := "CREATE ROLE " + pgx.Identifier{name}.Sanitize()
	opts := slices.Clone(attrs)
	if password != "" {
		var enc string
		if err := conn.QueryRow(ctx, "SHOW password_encryption").Scan(&enc); err != nil {
			t.Fatalf("pgtest: CreateRole: %v", err)
		}
		v := hashPassword(enc, name, password)
		if !verifierRE.MatchString(v) { // a fixed alphabet without quotes
			t.Fatalf("pgtest: CreateRole: unexpected verifier form")
		}
		opts = append(opts, "PASSWORD '"+v+"'")
	}
	if len(opts) > 0 {
		sql += " WITH " + strings.Join(opts, " ")
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: CreateRole %q: %v", name, err)
	}
}

// Exec runs statements as the superuser or fails the test.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		t.Fatalf("pgtest: connect as superuser: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Secret returns an RDS-style secret for user on this server: engine, host,
// port (a JSON number), username, password, dbname, and the TLS fields: for
// a TLS server "ssl": true (verify-full) with the CA's PEM in
// "sslrootcert", else "ssl": false.
func (s *Server) Secret(user, password string) *rotator.Secret {
	m := map[string]any{
		rotator.FieldEngine:   "postgres",
		rotator.FieldHost:     s.Host,
		rotator.FieldPort:     s.Port,
		rotator.FieldUsername: user,
		rotator.FieldPassword: password,
		rotator.FieldDBName:   s.Database,
		"ssl":                 s.TLS,
	}
	if s.TLS && len(s.CAPEM) > 0 {
		m["sslrootcert"] = string(s.CAPEM)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // cannot happen: plain values
	}
	sec, err := rotator.ParseSecret(string(b))
	if err != nil {
		panic(err)
	}
	return sec
}

// UniqueName returns prefix followed by a random suffix, for role and
// table names on a shared server.
func UniqueName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// RandomPassword returns a random password of n printable ASCII characters
// drawn from the whole printable range (space through tilde), including
// quotes, backslash and dollar.
func RandomPassword(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = ' ' + b[i]%95
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
