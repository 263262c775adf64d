package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
	"github.com/rotatorkit/rotator/rotator"
)

// statementTimeout bounds each read and write of a statement (the step's
// context bounds the whole call).
const statementTimeout = 30 * time.Second

// policy returns the authentication policy of a target.
func (e *Engine) policy(t *target) *authPolicy {
	return &authPolicy{
		tlsWanted:   t.tls.Mode != SSLDisable,
		tlsRequired: t.tls.Mode != SSLDisable && t.tls.Mode != SSLPrefer,
		tlsConfig:   t.tls.ClientConfig(t.host),
		verified:    t.tls.Verified(),
		cleartext:   e.allowCleartext,
		timeout:     e.cfg.ConnectTimeout,
	}
}

// discardLogger silences the driver: its messages are reported through the
// engine's errors.
type discardLogger struct{}

func (discardLogger) Print(...any) {}

// session is one connection to the server.
type session struct {
	db     *sql.DB
	conn   *sql.Conn
	server serverInfo
	tls    bool
	// verified: the certificate was verified.
	verified bool
}

func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	_ = s.db.Close()
}

// connect opens a connection for op ("login", "set password", ...).
func (e *Engine) connect(ctx context.Context, op string, t *target) (*session, error) {
	if t.tls.RequireBinding && t.tls.Roots == nil {
		return nil, e.newError(op, t, fmt.Sprintf("the secret requires a certificate verified against the function's own CA bundle (\"channel_binding\": \"require\", which the alternating strategy sets on a master secret whose host came from the application's secret: MySQL has no channel binding, so only such a certificate shows the server is the real one), and none is configured; nothing was sent. Give the master secret its own \"host\" and \"port\", or configure the bundle ($%s, or %s shipped with the function)", EnvCABundle, CABundleFile),
			nil, rotator.ErrUnreachable, ErrVerificationRequired)
	}
	pol := e.policy(t)
	var guard *guardConn
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = t.username, t.password
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(t.host, strconv.Itoa(t.port))
	cfg.DBName = t.dbname
	cfg.Timeout = e.cfg.ConnectTimeout
	cfg.ReadTimeout, cfg.WriteTimeout = statementTimeout, statementTimeout
	cfg.AllowNativePasswords = true
	cfg.AllowCleartextPasswords = pol.verified || pol.cleartext
	cfg.AllowOldPasswords = false
	cfg.AllowAllFiles = false
	cfg.TLS, cfg.TLSConfig = nil, "" // the guard does TLS
	cfg.InterpolateParams = true
	cfg.CheckConnLiveness = false
	cfg.MultiStatements = false
	cfg.Logger = discardLogger{}
	cfg.ConnectionAttributes = "program_name:rotator"
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if guard != nil {
			// database/sql dials again after some failures: the first
			// answer stands.
			return nil, errors.New("mysql engine: one connection attempt per call")
		}
		d := net.Dialer{Timeout: e.cfg.ConnectTimeout}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		guard = &guardConn{raw: raw, cur: raw, policy: pol}
		return guard, nil
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, e.newError(op, t, "invalid connection settings: "+scrub(err.Error(), t.password), nil, rotator.ErrInvalidField)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	cctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if err != nil {
		db.Close()
		var gi guardInfo
		if guard != nil {
			gi = guard.info()
		}
		return nil, e.connectError(op, t, gi, err)
	}
	gi := guard.info()
	s := &session{db: db, conn: conn, server: parseServerVersion(gi.version), tls: gi.tls, verified: gi.verified}
	if gi.fellBack {
		e.cfg.Logger(ctx).Warn("mysql: connected without TLS: the server does not offer it and sslmode=prefer allows plaintext",
			"host", t.host, "port", t.port, "user", t.username)
	}
	return s, nil
}

// Error is a failure to connect or a statement the server refused. Its
// text names the operation, the user and the server, never a password or a
// hash.
type Error struct {
	// Op is what failed: "login", "set password", "ensure user".
	Op string
	// Host, Port and User name the connection (User is the one logging in).
	Host string
	Port int
	User string
	// Code is the server's error number when the server answered with one.
	Code uint16
	// Reason says what went wrong.
	Reason string

	kind  []error
	cause error
}

func (e *Error) Error() string {
	code := ""
	if e.Code != 0 {
		code = "error " + strconv.Itoa(int(e.Code))
	}
	return dbengine.ErrorText("mysql", e.Op, e.User, e.Host, e.Port, e.Reason, code)
}

// Unwrap gives errors.Is and errors.As the sentinels and the cause.
func (e *Error) Unwrap() []error { return dbengine.Unwrap(e.kind, e.cause) }

func (e *Engine) newError(op string, t *target, reason string, cause error, kind ...error) *Error {
	err := &Error{Op: op, Reason: reason, kind: kind, cause: cause}
	if t != nil {
		err.Host, err.Port, err.User = t.host, t.port, t.username
	}
	return err
}

// scrub removes every occurrence of the given secrets from s.
func scrub(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// Server error numbers the engine classifies.
const (
	erDBAccessDenied       = 1044
	erAccessDenied         = 1045
	erBadDB                = 1049
	erHostBlocked          = 1129
	erTooManyConnections   = 1040
	erNoSuchGrant          = 1141
	erTableAccessDenied    = 1142
	erColumnAccessDenied   = 1143
	erPasswordNoMatch      = 1133
	erCannotUser           = 1396
	erSpecificAccess       = 1227
	erProcAccessDenied     = 1370
	erCantCreateUserGrant  = 1410
	erPasswordExpired      = 1862
	erMustChangePassword   = 1820
	erSecureTransport      = 3159
	erAccountLocked        = 3118
	erMariaDBAccountLocked = 4151
	erIncorrectCurrentPW   = 3891
	erUnknownSystemVar     = 1193
	erAccessDeniedNoPass   = 1698 // MariaDB: granting a role without ADMIN OPTION
)

// connectError classifies a failure to connect.
func (e *Engine) connectError(op string, t *target, gi guardInfo, err error) error {
	if gi.refusal != nil {
		kind := gi.refusal.Kind
		return e.newError(op, t, authRefusalReason(gi.refusal, t.tls), nil, rotator.ErrUnreachable, kind)
	}
	if gi.tlsErr != nil {
		return e.tlsError(op, t, gi.tlsErr)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		msg := scrub(me.Message, t.password)
		r := e.newError(op, t, msg, nil)
		r.Code = me.Number
		switch me.Number {
		case erAccessDenied:
			r.Reason = "access denied (wrong \"password\", no account for \"username\" on this host, or the account needs what this connection lacks): " + msg
			r.kind = []error{rotator.ErrLoginFailed}
			if !gi.tls && gi.serverTLS {
				r.Reason += fmt.Sprintf("; this connection did not use TLS (%s), and MariaDB answers so when the server has require_secure_transport=ON or the account REQUIRE SSL: remove \"ssl\": false / \"sslmode\": \"disable\" from the secret", t.tls.Source)
			}
		case erAccountLocked, erMariaDBAccountLocked, erPasswordExpired, erMustChangePassword:
			r.kind = []error{rotator.ErrLoginFailed}
		case erDBAccessDenied:
			r.Reason = "not allowed to use the database (field \"dbname\"): " + msg
			r.kind = []error{rotator.ErrPermission}
		case erBadDB:
			r.Reason = fmt.Sprintf("database %s (field \"dbname\") does not exist", rotator.Quote(t.dbname))
			r.kind = []error{&rotator.FieldError{Field: rotator.FieldDBName, Reason: "names a database that does not exist on the server", Err: rotator.ErrInvalidField}}
		case erSecureTransport:
			r.Reason = fmt.Sprintf("the server requires TLS (require_secure_transport) and %s asks for none: %s", t.tls.Source, msg)
			r.kind = []error{rotator.ErrUnreachable, ErrServerRequiresTLS}
		default:
			r.Reason = "the server refused the connection: " + msg
			r.kind = []error{rotator.ErrUnreachable}
		}
		return r
	}
	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return e.newError(op, t, fmt.Sprintf("no answer within the connect timeout (%v)", e.cfg.ConnectTimeout), context.DeadlineExceeded, rotator.ErrUnreachable)
	case errors.Is(err, context.Canceled):
		return e.newError(op, t, "canceled", context.Canceled, rotator.ErrUnreachable)
	case errors.As(err, &dnsErr):
		return e.newError(op, t, "cannot resolve the \"host\": "+dnsErr.Err, dnsErr, rotator.ErrUnreachable)
	case errors.As(err, &opErr):
		return e.newError(op, t, opErr.Error(), opErr, rotator.ErrUnreachable)
	case errors.Is(err, mysql.ErrInvalidConn):
		return e.newError(op, t, "the server closed the connection during the handshake", nil, rotator.ErrUnreachable)
	}
	return e.newError(op, t, "cannot connect: "+scrub(err.Error(), t.password), nil, rotator.ErrUnreachable)
}

// tlsError classifies a failed TLS handshake.
func (e *Engine) tlsError(op string, t *target, err error) error {
	detail, ok := tlsplan.CertFailure(err)
	if !ok && !tlsplan.HandshakeFailure(err) && (strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "certificate")) {
		detail, ok = err.Error(), true
	}
	if ok {
		return e.newError(op, t, "TLS certificate verification failed ("+t.tls.Trust()+"): "+detail, nil, rotator.ErrUnreachable, ErrCertificate)
	}
	return e.newError(op, t, "TLS handshake failed: "+err.Error(), nil, rotator.ErrUnreachable)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statementError classifies an error of a statement run by op.
func (e *Engine) statementError(op string, t *target, what string, err error, secrets ...string) error {
	secrets = append(secrets, t.password)
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return e.newError(op, t, what+": "+err.Error(), err, rotator.ErrUnreachable)
		}
		return e.newError(op, t, what+": "+scrub(err.Error(), secrets...), nil, rotator.ErrUnreachable)
	}
	r := e.newError(op, t, what+": "+scrub(me.Message, secrets...), nil)
	r.Code = me.Number
	switch me.Number {
	case erSpecificAccess, erDBAccessDenied, erTableAccessDenied, erColumnAccessDenied, erProcAccessDenied, erCantCreateUserGrant, erAccessDenied, erAccessDeniedNoPass:
		r.kind = []error{rotator.ErrPermission}
	case erPasswordNoMatch, erCannotUser:
		r.kind = []error{ErrNoSuchUser}
	case erIncorrectCurrentPW:
		r.kind = []error{ErrCurrentPasswordMismatch}
	}
	return r
}
