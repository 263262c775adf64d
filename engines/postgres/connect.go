package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
	"github.com/rotatorkit/rotator/rotator"
)

// applicationName is what the server shows in pg_stat_activity.
const applicationName = "rotator"

// connConfig builds the pgx configuration from a parsed secret. pgx insists
// on configurations made by ParseConfig; it is given an empty string and
// every field that the environment (PG* variables, ~/.pgpass, service
// files) could have influenced is then set explicitly.
func (e *Engine) connConfig(t *target) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig("")
	if err != nil {
		// Only the environment can make an empty string fail.
		return nil, fmt.Errorf("%w: pgx rejects the default connection settings (check the PG* environment variables): %v", ErrConfig, err)
	}
	cc.Host = t.host
	cc.Port = uint16(t.port)
	cc.Database = t.dbname
	cc.User = t.username
	cc.Password = t.password
	cc.ConnectTimeout = e.cfg.ConnectTimeout
	cc.RuntimeParams = map[string]string{
		"application_name": applicationName,
		// Catalog names and operators resolve to pg_catalog only.
		"search_path": "pg_catalog",
	}
	cc.KerberosSrvName, cc.KerberosSpn = "", ""
	cc.ValidateConnect = nil
	cc.AfterConnect = nil
	cc.SSLNegotiation = ""
	cc.SSLCertMode = "allow"
	cc.MinProtocolVersion, cc.MaxProtocolVersion = "3.0", "3.0"
	cc.Tracer = nil
	// One round trip per statement, no statement cache: a handful of
	// statements per connection.
	cc.DefaultQueryExecMode = pgx.QueryExecModeExec
	cc.StatementCacheCapacity, cc.DescriptionCacheCapacity = 0, 0

	// TLS. pgx's ParseConfig adds a plaintext fallback for its default
	// sslmode (prefer); it is dropped here. pgx would take its fallbacks
	// after any failure of the TLS attempt (a refused authentication
	// method included), so prefer's plaintext attempt is made by connect,
	// and only when the server declines TLS.
	cc.Fallbacks = nil
	cc.TLSConfig = nil
	if !tlsplan.ValidMode(t.tls.Mode) {
		return nil, fmt.Errorf("%w: unknown sslmode %q", ErrConfig, t.tls.Mode)
	}
	cc.TLSConfig = t.tls.ClientConfig(t.host)
	e.authPolicyFor(t.tls, cc.TLSConfig != nil).apply(cc)
	return cc, nil
}

// plaintextFallback is prefer's second attempt after the server declined
// TLS: cc without TLS, SCRAM-SHA-256 only (no channel to bind).
func (e *Engine) plaintextFallback(cc *pgx.ConnConfig, t *target) *pgx.ConnConfig {
	plain := cc.Copy()
	plain.TLSConfig = nil
	e.authPolicyFor(t.tls, false).apply(plain)
	return plain
}

// connect opens a connection for op ("login", "set password", ...).
func (e *Engine) connect(ctx context.Context, op string, t *target) (*pgx.Conn, error) {
	cc, err := e.connConfig(t)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil && t.tls.Mode == SSLPrefer && serverRefusedTLS(err) {
		conn, err = pgx.ConnectConfig(ctx, e.plaintextFallback(cc, t))
	}
	if err != nil {
		return nil, e.connectError(op, t, err)
	}
	if _, isTLS := conn.PgConn().Conn().(*tls.Conn); !isTLS && t.tls.Mode == SSLPrefer {
		e.cfg.Logger(ctx).Warn("postgres: connected without TLS: the server does not offer it and sslmode=prefer allows plaintext",
			"host", t.host, "port", t.port, "user", t.username)
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultConnectTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// Error is a failure to connect or a statement the server refused. Its
// text names the operation, the user and the server, never a password or a
// verifier.
type Error struct {
	// Op is what failed: "login", "set password", "ensure user".
	Op string
	// Host, Port and User name the connection (User is the one logging in).
	Host string
	Port int
	User string
	// Code is the SQLSTATE when the server answered with an error.
	Code string
	// Reason says what went wrong.
	Reason string

	kind  []error // rotator sentinels and this package's errors
	cause error   // the underlying error, scrubbed (never pgx's ConnectError)
}

func (e *Error) Error() string {
	code := ""
	if e.Code != "" {
		code = "SQLSTATE " + e.Code
	}
	return dbengine.ErrorText("postgres", e.Op, e.User, e.Host, e.Port, e.Reason, code)
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

// connectError classifies a pgx connect error. pgx's *pgconn.ConnectError
// carries the whole configuration (password included), so it is not kept:
// only the innermost causes are.
func (e *Engine) connectError(op string, t *target, err error) error {
	var refused *authRefusedError
	if errors.As(err, &refused) {
		return e.newError(op, t, authRefusalReason(refused, t.tls), nil, rotator.ErrUnreachable, refused.Kind)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		pe := scrubPgError(pgErr, t.password)
		r := e.newError(op, t, pe.Message, pe)
		r.Code = pe.Code
		switch {
		case pe.Code == "28P01":
			r.Reason = "password authentication failed (wrong password, or no such role: check the secret's \"username\" and \"password\")"
			r.kind = []error{rotator.ErrLoginFailed}
		case strings.HasPrefix(pe.Code, "28"): // invalid_authorization_specification: no pg_hba entry, NOLOGIN, ...
			r.kind = []error{rotator.ErrLoginFailed}
		case pe.Code == "3D000":
			r.Reason = fmt.Sprintf("database %s (field \"dbname\") does not exist", rotator.Quote(t.dbname))
			r.kind = []error{&rotator.FieldError{Field: rotator.FieldDBName, Reason: "names a database that does not exist on the server", Err: rotator.ErrInvalidField}}
		case pe.Code == "42501":
			r.Reason = "not allowed to connect: " + pe.Message
			r.kind = []error{rotator.ErrPermission}
		default: // too many connections, starting up, shutting down, ...
			r.Reason = "the server refused the connection: " + pe.Message
			r.kind = []error{rotator.ErrUnreachable}
		}
		return r
	}

	if serverRefusedTLS(err) {
		return e.newError(op, t, fmt.Sprintf(
			"the server does not support TLS, and %s requires it; there is no fallback to plaintext (set \"sslmode\" to \"prefer\" to allow one, or to \"disable\")",
			t.tls.Source), nil, rotator.ErrUnreachable, ErrServerNoTLS)
	}
	// pgx's own enforcement of the policy (the guard refuses first; these
	// remain for what it does not see, such as a certificate whose
	// signature algorithm has no channel binding).
	for _, leaf := range leaves(err) {
		switch msg := leaf.Error(); {
		case strings.Contains(msg, "authentication method requirement"):
			return e.newError(op, t, "the server asked for an authentication method the engine refuses on this connection: "+msg, nil, rotator.ErrUnreachable, ErrAuthMethod)
		case strings.Contains(msg, "channel binding"):
			return e.newError(op, t, "channel binding failed (without a verified certificate the engine requires it): "+msg, nil, rotator.ErrUnreachable, ErrChannelBinding)
		}
	}

	var (
		dnsErr *net.DNSError
		opErr  *net.OpError
	)
	if detail, ok := tlsplan.CertFailure(err); ok {
		return e.newError(op, t, "TLS certificate verification failed ("+t.tls.Trust()+"): "+detail, nil, rotator.ErrUnreachable, ErrCertificate)
	}
	switch {
	case tlsplan.HandshakeFailure(err):
		return e.newError(op, t, "TLS handshake failed: "+scrub(err2text(err), t.password), nil, rotator.ErrUnreachable)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return e.newError(op, t, fmt.Sprintf("no answer within the connect timeout (%v)", e.cfg.ConnectTimeout), context.DeadlineExceeded, rotator.ErrUnreachable)
	case errors.Is(err, context.Canceled):
		return e.newError(op, t, "canceled", context.Canceled, rotator.ErrUnreachable)
	case errors.As(err, &dnsErr):
		return e.newError(op, t, "cannot resolve the \"host\": "+dnsErr.Err, dnsErr, rotator.ErrUnreachable)
	case errors.As(err, &opErr):
		return e.newError(op, t, opErr.Error(), opErr, rotator.ErrUnreachable)
	}
	return e.newError(op, t, "cannot connect: "+scrub(err2text(err), t.password), nil, rotator.ErrUnreachable)
}

// serverRefusedTLS: the server answered the SSLRequest with 'N'.
func serverRefusedTLS(err error) bool {
	for _, leaf := range leaves(err) {
		// pgx has no type for this one.
		if leaf.Error() == "server refused TLS connection" {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// leaves returns the innermost errors of a tree of wrapped errors.
func leaves(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil {
			return leaves(inner)
		}
	}
	return []error{err}
}

// err2text joins the texts of the innermost errors (never pgx's wrapper,
// whose text could change to include more of the configuration).
func err2text(err error) string {
	var parts []string
	for _, l := range leaves(err) {
		parts = append(parts, l.Error())
	}
	return strings.Join(parts, "; ")
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

// scrubPgError returns a copy of a server error with secrets removed from
// every text field. The server never quotes a password in its own
// messages, but event triggers and extensions can say anything.
func scrubPgError(pe *pgconn.PgError, secrets ...string) *pgconn.PgError {
	c := *pe
	for _, f := range []*string{&c.Message, &c.Detail, &c.Hint, &c.Where, &c.InternalQuery, &c.SchemaName, &c.TableName, &c.ColumnName, &c.ConstraintName, &c.DataTypeName, &c.File, &c.Routine} {
		*f = scrub(*f, secrets...)
	}
	return &c
}

// statementError classifies an error of a statement run by op.
func (e *Engine) statementError(op string, t *target, what string, err error, secrets ...string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return e.newError(op, t, what+": "+err.Error(), err, rotator.ErrUnreachable)
		}
		return e.newError(op, t, what+": "+scrub(err2text(err), secrets...), nil, rotator.ErrUnreachable)
	}
	pe := scrubPgError(pgErr, secrets...)
	reason := what + ": " + pe.Message
	if pe.Detail != "" {
		reason += " (" + pe.Detail + ")"
	}
	r := e.newError(op, t, reason, pe)
	r.Code = pe.Code
	switch pe.Code {
	case "42501": // insufficient_privilege
		r.kind = []error{rotator.ErrPermission}
	case "42704": // undefined_object
		r.kind = []error{ErrNoSuchRole}
	}
	return r
}
