package sqlrotate

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/client/internal/dbcred"
	"github.com/rotatorkit/rotator/client/secretcache"
)

// Source is what the connector reads from *secretcache.Cache: a stage of
// a secret, a value newer than a refused one, and the value held now
// without waiting (to tell which connections are older than the
// credential).
type Source interface {
	GetStage(ctx context.Context, secretID, stage string) (secretcache.Value, error)
	Refresh(ctx context.Context, secretID, stage string, since time.Time) (secretcache.Value, error)
	Cached(secretID, stage string) (secretcache.Value, bool)
}

var _ Source = (*secretcache.Cache)(nil)

// Errors of this package.
var (
	// ErrInvalidArgument is returned for a nil configuration or source, or
	// an empty secret ID.
	ErrInvalidArgument = errors.New("sqlrotate: invalid argument")
	// ErrMalformedSecret means the secret's value is not a JSON object with
	// string "username" and "password" fields (AWS's RDS secret format).
	ErrMalformedSecret = dbcred.ErrMalformed
)

// erAccessDenied is MySQL's and MariaDB's ER_ACCESS_DENIED_ERROR: a wrong
// password or an unknown user at login.
const erAccessDenied = 1045

// IsAuthFailure reports whether err is a login that the server refused
// with error 1045 (Access denied). It can only come from connecting.
func IsAuthFailure(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == erAccessDenied
}

// Option configures a connector.
type Option func(*options)

type options struct {
	pending bool
	recycle bool
	logger  *slog.Logger
}

// WithPendingFallback sets whether a login that the server refuses with
// the AWSCURRENT credential, while Secrets Manager still calls that
// version current, tries AWSPENDING's (default true): the moment of a
// single-user rotation between setSecret and finishSecret. It needs
// secretsmanager:GetSecretValue on AWSPENDING.
func WithPendingFallback(on bool) Option { return func(o *options) { o.pending = on } }

// WithRecycle sets whether connections made with a credential older than
// the one new connections use are closed when released instead of pooled
// again (default true).
func WithRecycle(on bool) Option { return func(o *options) { o.recycle = on } }

// WithLogger sets where refusals and the AWSPENDING fallback are logged
// (default slog.Default()); lines name the secret, version and user, never
// a password. nil discards them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.logger = l
	}
}

// Stats count what the connector did about rotations.
type Stats struct {
	// AuthFailures are logins the server refused (1045).
	AuthFailures uint64
	// Retries are logins retried after such a refusal.
	Retries uint64
	// PendingUsed counts the times new connections switched to AWSPENDING's
	// credential.
	PendingUsed uint64
	// Recycled are connections closed instead of pooled again because they
	// were made with an older credential version.
	Recycled uint64
}

// maxRetries bounds the retries of one Connect after refusals.
const maxRetries = 2

// MySQLConnector is a database/sql driver.Connector for go-sql-driver/mysql
// (MySQL and MariaDB) whose connections log in with the user and password
// of a rotated secret:
//
//	db := sql.OpenDB(connector)
//
// A login that the server refuses with error 1045 marks that version, and
// Connect retries with a value fetched after the refusal: once, or twice
// when a rotation moved the password again meanwhile, never with the
// credential just refused; AWSPENDING's between a single-user rotation's
// setSecret and finishSecret (see WithPendingFallback). database/sql never
// sees the refusal. Once the cache has seen a newer version, connections
// made with an older one are closed when released (driver.Validator), not
// while in use. A dual-password rotation (MySQL's RETAIN CURRENT PASSWORD)
// needs nothing more: both passwords work until the old one is discarded,
// and a login refused after that is retried with the new one.
type MySQLConnector struct {
	base    *mysql.Config
	picker  *dbcred.Picker
	recycle bool
}

var _ driver.Connector = (*MySQLConnector)(nil)

// NewMySQLConnector returns a connector that connects as cfg says (address,
// TLS, database, parameters; make it with mysql.NewConfig or
// mysql.ParseDSN), with the user and password of secretID's AWSCURRENT
// value in src. cfg's User and Passwd are ignored.
func NewMySQLConnector(cfg *mysql.Config, src Source, secretID string, opts ...Option) (*MySQLConnector, error) {
	if cfg == nil || src == nil || secretID == "" {
		return nil, fmt.Errorf("%w: a mysql.Config, a secret source and a secret ID are required", ErrInvalidArgument)
	}
	o := options{pending: true, recycle: true, logger: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	log := o.logger.With("client", "sqlrotate", "secret_id", secretID)
	base := cfg.Clone()
	base.User, base.Passwd = "", ""
	return &MySQLConnector{base: base, picker: dbcred.NewPicker(src, secretID, o.pending, log), recycle: o.recycle}, nil
}

// Stats returns the counters.
func (c *MySQLConnector) Stats() Stats { return Stats(c.picker.Stats()) }

// Connect opens a connection with the secret's credential, retried after
// a refused login.
func (c *MySQLConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var last dbcred.Credential
	for attempt := 0; ; attempt++ {
		cred, err := c.picker.Pick(ctx)
		if err != nil {
			return nil, fmt.Errorf("sqlrotate: credential from secret %s: %w", c.picker.SecretID(), err)
		}
		conn, err := c.connect(ctx, cred)
		if err == nil {
			return &Conn{Conn: conn, version: cred.VersionID, c: c}, nil
		}
		if !IsAuthFailure(err) {
			return nil, err
		}
		c.picker.Refused(cred.Username, cred.Password)
		same := attempt > 0 && cred.Username == last.Username && cred.Password == last.Password
		if attempt >= maxRetries || same || ctx.Err() != nil {
			return nil, err
		}
		c.picker.Retried()
		last = cred
	}
}

func (c *MySQLConnector) connect(ctx context.Context, cred dbcred.Credential) (driver.Conn, error) {
	cfg := c.base.Clone()
	cfg.User, cfg.Passwd = cred.Username, cred.Password
	inner, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return inner.Connect(ctx)
}

// Driver returns go-sql-driver/mysql's driver.
func (c *MySQLConnector) Driver() driver.Driver { return &mysql.MySQLDriver{} }

// Conn is the driver.Conn a MySQLConnector returns: the driver's own
// connection, every optional interface of it forwarded, with IsValid
// telling database/sql to close it instead of pooling it once it was made
// with an older credential.
type Conn struct {
	driver.Conn
	version string
	c       *MySQLConnector
}

var (
	_ driver.Validator          = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
)

// IsValid reports whether database/sql may pool the connection again: the
// driver says it is usable, and it was made with the credential new
// connections use.
func (w *Conn) IsValid() bool {
	if v, ok := w.Conn.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	return !w.c.recycle || !w.c.picker.Outdated(w.version)
}

// ResetSession forwards to the driver's connection.
func (w *Conn) ResetSession(ctx context.Context) error {
	if r, ok := w.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// QueryContext forwards to the driver's connection.
func (w *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := w.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

// ExecContext forwards to the driver's connection.
func (w *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := w.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

// BeginTx forwards to the driver's connection.
func (w *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := w.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("sqlrotate: the driver does not support transaction options")
	}
	return w.Conn.Begin() //nolint:staticcheck // the fallback database/sql would use
}

// PrepareContext forwards to the driver's connection.
func (w *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := w.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return w.Conn.Prepare(query)
}

// Ping forwards to the driver's connection.
func (w *Conn) Ping(ctx context.Context) error {
	if p, ok := w.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// CheckNamedValue forwards to the driver's connection.
func (w *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := w.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
