package pgxrotate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotatorkit/rotator/client/internal/dbcred"
	"github.com/rotatorkit/rotator/client/secretcache"
)

// Source is what the clients read from *secretcache.Cache: a stage of a
// secret, a value newer than a refused one, and the value held now without
// waiting (to tell which connections are older than the credential).
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
	ErrInvalidArgument = errors.New("pgxrotate: invalid argument")
	// ErrMalformedSecret means the secret's value is not a JSON object with
	// string "username" and "password" fields (AWS's RDS secret format).
	ErrMalformedSecret = dbcred.ErrMalformed
)

// SQLSTATE 28P01, invalid_password: what PostgreSQL answers to a wrong
// password, and to a role that does not exist when the method is SCRAM.
const invalidPassword = "28P01"

// IsAuthFailure reports whether err is a connection attempt that the server
// refused with SQLSTATE 28P01. Such an error can only come from
// connecting, before any statement was sent, so an operation that failed
// with it can be retried as it is.
func IsAuthFailure(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	return errors.As(err, &ce) && errors.As(err, &pe) && pe.Code == invalidPassword
}

// Option configures the clients.
type Option func(*options)

type options struct {
	pending bool
	recycle bool
	logger  *slog.Logger
}

// WithPendingFallback sets whether a new connection that the server
// refuses with the AWSCURRENT credential, while Secrets Manager still
// calls that version current, tries AWSPENDING's (default true). That
// happens only in a single-user rotation between setSecret and
// finishSecret: the server has the new password, AWSCURRENT the old one.
// It needs secretsmanager:GetSecretValue on AWSPENDING, which an IAM
// policy conditioned on secretsmanager:VersionStage may deny; the
// connection then fails as it would have.
func WithPendingFallback(on bool) Option { return func(o *options) { o.pending = on } }

// WithRecycle sets whether connections made with a credential older than
// the one new connections use are closed when released, or skipped and
// closed when next acquired, instead of being reused (default true). That
// ties a connection's lifetime to the rotation: once the cache has seen a
// new version, no connection outlives the credential it logged in with by
// more than one use, and no guessed MaxConnLifetime is needed for it.
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

func newOptions(opts []Option) options {
	o := options{pending: true, recycle: true, logger: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Stats count what the clients did about rotations.
type Stats struct {
	// AuthFailures are connection attempts the server refused (28P01).
	AuthFailures uint64
	// Retries are operations (pool) or connects (database/sql) retried
	// once after such a refusal.
	Retries uint64
	// PendingUsed counts the times new connections switched to AWSPENDING's
	// credential (see WithPendingFallback).
	PendingUsed uint64
	// Recycled are connections closed instead of reused because they were
	// made with an older credential version.
	Recycled uint64
}

// versionKey is the key of a connection's credential version in
// pgconn.PgConn.CustomData.
const versionKey = "github.com/rotatorkit/rotator/client/pgxrotate.version"

// Credentials links connections to a secret: it sets each new connection's
// user and password, remembers which version it used, and records
// refusals. ConfigurePool and NewConnector return one.
type Credentials struct {
	picker  *dbcred.Picker
	recycle bool
}

func newCredentials(src Source, secretID string, o options) (*Credentials, error) {
	if src == nil || secretID == "" {
		return nil, fmt.Errorf("%w: a secret source and a secret ID are required", ErrInvalidArgument)
	}
	log := o.logger.With("client", "pgxrotate", "secret_id", secretID)
	return &Credentials{picker: dbcred.NewPicker(src, secretID, o.pending, log), recycle: o.recycle}, nil
}

// Stats returns the counters.
func (c *Credentials) Stats() Stats {
	s := c.picker.Stats()
	return Stats(s)
}

// BeforeConnect sets cc's user and password from the secret and tags the
// connection with the version they came from. It has the signature of
// pgxpool.Config.BeforeConnect and of stdlib.OptionBeforeConnect.
func (c *Credentials) BeforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	cred, err := c.picker.Pick(ctx)
	if err != nil {
		return fmt.Errorf("pgxrotate: credential from secret %s: %w", c.picker.SecretID(), err)
	}
	cc.User, cc.Password = cred.Username, cred.Password
	version := cred.VersionID
	prev := cc.AfterConnect // pgconn's hook: cc is a copy made for this attempt
	cc.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		if prev != nil {
			if err := prev(ctx, pc); err != nil {
				return err
			}
		}
		pc.CustomData()[versionKey] = version
		return nil
	}
	return nil
}

// Observe records a failed connection attempt: a refusal (28P01) marks the
// credential's version as refused, so that the next attempt reads a newer
// one. Other errors are ignored.
func (c *Credentials) Observe(err error) {
	var ce *pgconn.ConnectError
	if !IsAuthFailure(err) || !errors.As(err, &ce) || ce.Config == nil {
		return
	}
	c.picker.Refused(ce.Config.User, ce.Config.Password)
}

// Outdated reports whether conn was made with a credential older than the
// one new connections use (and recycling is on).
func (c *Credentials) Outdated(conn *pgx.Conn) bool {
	if !c.recycle || conn == nil {
		return false
	}
	v, _ := conn.PgConn().CustomData()[versionKey].(string)
	return c.picker.Outdated(v)
}

// maxRetries bounds the retries of one operation after refusals.
const maxRetries = 2

// attempts tracks the refused connection attempts of one operation.
type attempts struct {
	n          int
	user, pass string // the credential refused last
}

// again reports whether an operation that failed with err is tried again,
// and counts it. It is, after a refusal (28P01), unless the credential
// just refused is the one refused before (nothing newer to try) or
// maxRetries retries were made: the first retry uses a value fetched
// after the refusal; a second one happens only when a rotation moved the
// password again while the first connected, which only tests that rotate
// every few milliseconds see.
func (c *Credentials) again(ctx context.Context, err error, a *attempts) bool {
	var ce *pgconn.ConnectError
	if err == nil || ctx.Err() != nil || !IsAuthFailure(err) || !errors.As(err, &ce) || ce.Config == nil {
		return false
	}
	if a.n >= maxRetries || (a.n > 0 && ce.Config.User == a.user && ce.Config.Password == a.pass) {
		return false
	}
	a.n++
	a.user, a.pass = ce.Config.User, ce.Config.Password
	c.picker.Retried()
	return true
}

// retry runs op, again after each refusal that again allows.
func retry[T any](ctx context.Context, c *Credentials, op func() (T, error)) (T, error) {
	var a attempts
	for {
		v, err := op()
		if !c.again(ctx, err, &a) {
			return v, err
		}
	}
}

// ConfigurePool makes cfg's pool take each new connection's user and
// password from secretID's AWSCURRENT value in src (so that with
// alternating users the user name follows the secret), record the
// version each connection used, and close the connections made with an
// older version once src has seen a newer one: on release (AfterRelease)
// or, for an idle one, when next acquired (PrepareConn), so that no query
// fails and no guessed MaxConnLifetime is needed. A connection attempt
// that the server refuses (28P01) marks that version: the next attempt
// reads a newer one (and AWSPENDING's in the middle of a single-user
// rotation, see WithPendingFallback).
//
// pgxpool offers no hook that can retry a connection attempt, so an
// acquire whose attempt was refused still fails, once; [NewPool]'s Pool
// retries such operations and is what most applications want.
//
// The hooks cfg already has (BeforeConnect, PrepareConn or BeforeAcquire,
// AfterRelease, ConnConfig.Tracer) keep working: they run first. Set them
// before calling ConfigurePool: a hook or tracer set afterwards replaces
// the one that links the pool to the secret.
func ConfigurePool(cfg *pgxpool.Config, src Source, secretID string, opts ...Option) (*Credentials, error) {
	if cfg == nil || cfg.ConnConfig == nil {
		return nil, fmt.Errorf("%w: nil pgxpool.Config (make it with pgxpool.ParseConfig)", ErrInvalidArgument)
	}
	c, err := newCredentials(src, secretID, newOptions(opts))
	if err != nil {
		return nil, err
	}

	userBefore := cfg.BeforeConnect
	cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		if userBefore != nil {
			if err := userBefore(ctx, cc); err != nil {
				return err
			}
		}
		return c.BeforeConnect(ctx, cc)
	}

	// pgxpool's only view of a failed connection attempt is its tracer.
	tr := connectTracer{c}
	if cfg.ConnConfig.Tracer == nil {
		cfg.ConnConfig.Tracer = tr
	} else {
		cfg.ConnConfig.Tracer = multitracer.New(cfg.ConnConfig.Tracer, tr)
	}

	if c.recycle {
		userPrepare := cfg.PrepareConn
		if userPrepare == nil && cfg.BeforeAcquire != nil {
			// pgxpool ignores BeforeAcquire once PrepareConn is set.
			before := cfg.BeforeAcquire
			userPrepare = func(ctx context.Context, conn *pgx.Conn) (bool, error) { return before(ctx, conn), nil }
		}
		cfg.PrepareConn = func(ctx context.Context, conn *pgx.Conn) (bool, error) {
			if userPrepare != nil {
				if ok, err := userPrepare(ctx, conn); !ok || err != nil {
					return ok, err
				}
			}
			// false with no error: pgxpool closes it and acquires another.
			return !c.Outdated(conn), nil
		}
		userRelease := cfg.AfterRelease
		cfg.AfterRelease = func(conn *pgx.Conn) bool {
			if userRelease != nil && !userRelease(conn) {
				return false
			}
			return !c.Outdated(conn)
		}
	}
	return c, nil
}

// connectTracer tells Credentials of failed connection attempts.
type connectTracer struct{ c *Credentials }

var (
	_ pgx.QueryTracer   = connectTracer{}
	_ pgx.ConnectTracer = connectTracer{}
)

func (connectTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (connectTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (connectTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (t connectTracer) TraceConnectEnd(_ context.Context, data pgx.TraceConnectEndData) {
	if data.Err != nil {
		t.c.Observe(data.Err)
	}
}
