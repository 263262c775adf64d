package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/dbrig"
)

// Environment variables read by Start (Options override them), named with
// the default [Options.EnvPrefix].
const (
	// DefaultEnvPrefix begins the names of the variables below.
	DefaultEnvPrefix = "ROTATOR_POSTGRES_"
	// EnvMode: "container" or "local" to allow only that source.
	EnvMode = DefaultEnvPrefix + "MODE"
	// EnvBinDir: the directory holding initdb and postgres.
	EnvBinDir = DefaultEnvPrefix + "BINDIR"
	// EnvImage: the container image (default DefaultImage).
	EnvImage = DefaultEnvPrefix + "IMAGE"
)

// DefaultImage is the container image used when none is named: Docker
// Hub's official image, so that a machine with Docker needs no build.
// Where it cannot be pulled, .ci/docker builds one from Debian's packages.
const DefaultImage = "postgres:16-alpine"

// Mode says where a server came from.
type Mode string

// The sources of a server.
const (
	ModeContainer Mode = "container"
	ModeLocal     Mode = "local"
)

// ErrUnavailable: no source of a server works on this machine. Start then
// returns an *UnavailableError, which wraps it and says why for each source.
var ErrUnavailable = errors.New("no PostgreSQL server available")

// UnavailableError is Start's error when no source works: errors.Is(err,
// ErrUnavailable) holds for it.
type UnavailableError struct {
	// Reasons says, for each source tried, why it is not available.
	Reasons []string
}

func (e *UnavailableError) Error() string {
	return ErrUnavailable.Error() + ": " + strings.Join(e.Reasons, "; ")
}

// Unwrap returns ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// ErrNoLog: the server's log cannot be read (a Server that Start did not
// make, such as one describing an existing server).
var ErrNoLog = errors.New("pgserver: no log for this server")

// Options configure Start.
type Options struct {
	// Mode restricts the source ("" tries container, then local; default
	// from $ROTATOR_POSTGRES_MODE). A forced source that is not available
	// is Start's error; otherwise Start falls back to the next one.
	Mode Mode
	// BinDir is where initdb and postgres are (default from
	// $ROTATOR_POSTGRES_BINDIR, else searched). Set, with no Mode, it puts
	// local binaries before containers.
	BinDir string
	// Image is the container image (default from $ROTATOR_POSTGRES_IMAGE,
	// else DefaultImage).
	Image string
	// EnvPrefix names the environment variables read for Mode, BinDir and
	// Image when they are empty: EnvPrefix+"MODE", +"BINDIR" and +"IMAGE"
	// (default DefaultEnvPrefix). internal/pgtest uses its own.
	EnvPrefix string
	// PasswordEncryption is "scram-sha-256" (default) or "md5".
	PasswordEncryption string
	// HostAuth is the pg_hba.conf method of TCP connections: "" (the
	// PasswordEncryption method), "scram-sha-256", "md5", "password"
	// (cleartext) or "trust" (no password at all). The methods other than
	// the default exist to test clients against servers that ask for a
	// weaker authentication, or for none.
	HostAuth string
	// TLSHosts turns TLS on, with a server certificate for these hosts
	// (e.g. "127.0.0.1", "localhost") signed by a CA made for the server.
	TLSHosts []string
	// LogStatements sets log_statement=all (every statement in the log).
	LogStatements bool
}

// Server is a running PostgreSQL server.
type Server struct {
	// Mode is where the server came from: ModeContainer or ModeLocal for a
	// server from Start. Code that fills in a Server for a server it did
	// not start (internal/pgtest's $ROTATOR_TEST_POSTGRES_DSN) uses a mode
	// of its own; Stop then does nothing and ReadLog returns ErrNoLog.
	Mode Mode
	// Host and Port are the TCP address to connect to.
	Host string
	Port int
	// SuperUser and SuperPassword are a superuser's credentials.
	SuperUser, SuperPassword string
	// Database always exists ("postgres").
	Database string
	// Version is the server_version ("16.4"), VersionNum its
	// server_version_num (160004).
	Version    string
	VersionNum int
	// DataDir, LogFile and BinDir (where initdb and postgres are): local
	// mode only.
	DataDir, LogFile, BinDir string
	// Image is the container image: container mode only.
	Image string
	// Skipped says why each source tried before this one was not used
	// ("no Docker engine (...)", "container not used: ..."), for the log
	// line that says where a server came from.
	Skipped []string
	// FellBack is the failure of a source that was there but did not give
	// a server (a Docker engine answered, but the image could not be
	// pulled), when this server came from the next one: worth telling a
	// user who expected the first.
	FellBack string
	// TLS is true when the server accepts TLS; CAPEM is then the CA that
	// signed its certificate, and CAFile a file holding it.
	TLS    bool
	CAPEM  []byte
	CAFile string
	// TLSHosts are the names and addresses in the server certificate.
	TLSHosts []string
	// PasswordEncryption is the server's password_encryption.
	PasswordEncryption string
	// HostAuth is the pg_hba.conf method of TCP connections.
	HostAuth string
	// ApplicationName is the application_name of the connections made
	// through ConnConfig (default "rotator-pgserver").
	ApplicationName string

	stopFn   func() error
	logFn    func() (string, error)
	stopOnce sync.Once
	stopErr  error
}

// Start starts a server. ctx bounds the start-up only. Call Stop when done.
//
// With no mode forced, the sources are tried in order: a container when a
// Docker engine answers, then local binaries; local binaries first when
// BinDir (or $<EnvPrefix>BINDIR) names them, since asking for particular
// binaries means wanting them. A container that cannot be had (an image
// that cannot be pulled: offline, no registry) or started is not the end:
// Start goes on to the next source and records why in Server.FellBack and
// Server.Skipped. With a mode forced, that source's failure is Start's
// error.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.PasswordEncryption == "" {
		opts.PasswordEncryption = "scram-sha-256"
	}
	var err error
	if opts.HostAuth, err = CheckAuth(opts.PasswordEncryption, opts.HostAuth); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	if opts.EnvPrefix == "" {
		opts.EnvPrefix = DefaultEnvPrefix
	}
	if opts.Mode == "" {
		opts.Mode = Mode(strings.ToLower(strings.TrimSpace(os.Getenv(opts.EnvPrefix + "MODE"))))
	}
	switch opts.Mode {
	case "", ModeContainer, ModeLocal:
	default:
		return nil, fmt.Errorf("pgserver: mode %q: want container or local", opts.Mode)
	}
	binDirWhat := opts.BinDir // how findBinaries names it
	if opts.BinDir == "" {
		opts.BinDir = os.Getenv(opts.EnvPrefix + "BINDIR")
		binDirWhat = "$" + opts.EnvPrefix + "BINDIR=" + opts.BinDir
	}
	if opts.Image == "" {
		opts.Image = os.Getenv(opts.EnvPrefix + "IMAGE")
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}

	order := []Mode{ModeContainer, ModeLocal}
	switch {
	case opts.Mode != "":
		order = []Mode{opts.Mode}
	case opts.BinDir != "":
		order = []Mode{ModeLocal, ModeContainer}
	}
	var reasons []string
	fellBack := ""
	for _, mode := range order {
		switch mode {
		case ModeContainer:
			if ok, why := dockerAvailable(ctx); !ok {
				reasons = append(reasons, "no Docker engine ("+why+")")
				continue
			}
			s, err := startContainer(ctx, opts)
			if err == nil {
				s.Skipped, s.FellBack = reasons, fellBack
				return s, nil
			}
			if opts.Mode == ModeContainer {
				return nil, err
			}
			fellBack = "container not used: " + err.Error()
			reasons = append(reasons, fellBack)
		case ModeLocal:
			bindir, why := findBinaries(opts.BinDir, binDirWhat, opts.EnvPrefix+"BINDIR")
			if bindir == "" {
				reasons = append(reasons, "no local PostgreSQL binaries ("+why+")")
				continue
			}
			s, skip, err := startLocal(ctx, opts, bindir)
			if skip != "" {
				reasons = append(reasons, skip)
				continue
			}
			if err != nil {
				return nil, err
			}
			s.Skipped, s.FellBack = reasons, fellBack
			return s, nil
		}
	}
	return nil, &UnavailableError{Reasons: reasons}
}

// CheckAuth checks a password_encryption (scram-sha-256 or md5) and a
// pg_hba.conf method for TCP connections (scram-sha-256, md5, password or
// trust; "" means the password_encryption's), and returns the latter.
func CheckAuth(passwordEncryption, hostAuth string) (string, error) {
	switch passwordEncryption {
	case "scram-sha-256", "md5":
	default:
		return "", fmt.Errorf("password encryption %q is not scram-sha-256 or md5", passwordEncryption)
	}
	if hostAuth == "" {
		hostAuth = passwordEncryption
	}
	switch hostAuth {
	case "scram-sha-256", "md5", "password", "trust":
	default:
		return "", fmt.Errorf("host authentication %q is not scram-sha-256, md5, password or trust", hostAuth)
	}
	return hostAuth, nil
}

// Source says where the server came from, for a log line: "container
// rotator-test/postgres:15-0123456789ab", "local binaries
// /usr/lib/postgresql/15/bin", or the mode of a server Start did not make.
func (s *Server) Source() string {
	switch {
	case s.Mode == ModeContainer && s.Image != "":
		return "container " + s.Image
	case s.Mode == ModeLocal && s.BinDir != "":
		return "local binaries " + s.BinDir
	}
	return string(s.Mode)
}

// Stop stops the server and removes its files. It is safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.stopFn != nil {
			s.stopErr = s.stopFn()
		}
	})
	return s.stopErr
}

// ReadLog returns the server log.
func (s *Server) ReadLog() (string, error) {
	if s.logFn == nil {
		return "", ErrNoLog
	}
	return s.logFn()
}

// ConnConfig returns a pgx configuration for user, built field by field,
// never by pasting values into a connection string (db "" means
// s.Database). On a TLS server the connection uses TLS and checks that the
// server's certificate chains to s.CAPEM; otherwise TLS is off. The host
// name is not checked: the CA was made for this server and signed nothing
// else, and TLSHosts may name other hosts on purpose (to test a client's
// host name verification).
func (s *Server) ConnConfig(user, password, db string) (*pgx.ConnConfig, error) {
	if db == "" {
		db = s.Database
	}
	cc, err := pgx.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("pgserver: default connection config: %w", err)
	}
	cc.Host, cc.Port, cc.User, cc.Password, cc.Database = s.Host, uint16(s.Port), user, password, db
	cc.ConnectTimeout = 10 * time.Second
	cc.Fallbacks = nil
	app := s.ApplicationName
	if app == "" {
		app = "rotator-pgserver"
	}
	cc.RuntimeParams = map[string]string{"application_name": app}
	cc.TLSConfig = nil
	if s.TLS {
		cc.TLSConfig = dbrig.TLSClientConfig(s.CAPEM)
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

// Exec runs one statement as the superuser.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		return fmt.Errorf("pgserver: connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return nil
}

// CreateRole creates a login role whose password is hashed here
// (SCRAM-SHA-256, or md5 when the server says md5): the plaintext never
// reaches the server or its log. attrs are extra role options as SQL
// keywords ("CREATEROLE").
func (s *Server) CreateRole(ctx context.Context, name, password string, attrs ...string) error {
	return s.CreateRoleWith(ctx, name, password, append([]string{"LOGIN"}, attrs...)...)
}

// CreateRoleWith is CreateRole without the implied LOGIN: the role gets
// exactly attrs ("LOGIN", "CREATEROLE", "CONNECTION LIMIT 3"), and no
// password when password is "".
func (s *Server) CreateRoleWith(ctx context.Context, name, password string, attrs ...string) error {
	for _, a := range attrs {
		if !attrOK(a) {
			return fmt.Errorf("pgserver: CreateRole: attribute %q is not plain SQL keywords", a)
		}
	}
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		return fmt.Errorf("pgserver: connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	opts := slices.Clone(attrs)
	if password != "" {
		var enc string
		if err := conn.QueryRow(ctx, "SHOW password_encryption").Scan(&enc); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		v := hashPassword(enc, name, password)
		if !verifierRE.MatchString(v) {
			return errors.New("pgserver: unexpected verifier form")
		}
		opts = append(opts, "PASSWORD '"+v+"'")
	}
	sql := "CREATE ROLE " + pgx.Identifier{name}.Sanitize()
	if len(opts) > 0 {
		sql += " WITH " + strings.Join(opts, " ")
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgserver: create role %q: %w", name, err)
	}
	return nil
}

func attrOK(a string) bool {
	if a == "" || !(a[0] >= 'A' && a[0] <= 'Z' || a[0] >= 'a' && a[0] <= 'z') {
		return false
	}
	for _, c := range a {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ' ') {
			return false
		}
	}
	return true
}

// CanLogin reports whether user logs in with password: nil when it does,
// else the server's refusal.
func (s *Server) CanLogin(ctx context.Context, user, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, user, password, "")
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func randomHex(n int) string { return dbrig.RandomHex(n) }

// readVersion fills s.Version and s.PasswordEncryption through a
// superuser connection, proving that password authentication works.
func (s *Server) readVersion(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_setting('password_encryption')").
		Scan(&s.Version, &s.VersionNum, &s.PasswordEncryption)
}

// RoleExists reports whether a role exists.
func (s *Server) RoleExists(ctx context.Context, name string) (bool, error) {
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		return false, fmt.Errorf("pgserver: connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", name).Scan(&ok)
	return ok, err
}
