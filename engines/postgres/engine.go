package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
	"github.com/rotatorkit/rotator/rotator"
)

// Environment variables read by New (options given to New override them).
const (
	// EnvCABundle names a PEM file of CA certificates to verify servers
	// against (e.g. the RDS global bundle). Unset, the engine looks for
	// CABundleFile in $LAMBDA_TASK_ROOT, then LayerCABundlePath.
	EnvCABundle = "ROTATOR_PG_CA_BUNDLE"
	// EnvSSLMode is the TLS mode for secrets that set neither "ssl" nor
	// "sslmode".
	EnvSSLMode = "ROTATOR_PG_SSLMODE"
	// EnvAllowMD5 ("true") is WithAllowMD5(true): md5 authentication on
	// connections whose certificate is not verified, and md5 verifiers for
	// new passwords.
	EnvAllowMD5 = "ROTATOR_PG_ALLOW_MD5"
	// EnvAllowCleartext ("true") is WithAllowCleartextPassword(true):
	// cleartext password authentication on connections whose certificate
	// is not verified.
	EnvAllowCleartext = "ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD"
)

// Where New looks for a CA bundle when $ROTATOR_PG_CA_BUNDLE is unset, in
// this order, so that shipping AWS's RDS CA bundle with the function is
// enough to make verify-full the default. The first file that exists is
// used; one that exists but holds no certificate is a configuration error.
const (
	// CABundleFile is the bundle's name next to bootstrap in the
	// function's zip (`make build CA_BUNDLE=path` puts it there), read
	// from $LAMBDA_TASK_ROOT, where Lambda unpacks the zip (/var/task).
	CABundleFile = tlsplan.CABundleFile
	// LayerCABundlePath is the bundle in a Lambda layer: a layer's zip is
	// unpacked under /opt, so a layer holding rotator/rds-ca-bundle.pem
	// provides it.
	LayerCABundlePath = tlsplan.LayerCABundlePath
)

// layerCABundlePath is LayerCABundlePath; tests point it elsewhere.
var layerCABundlePath = LayerCABundlePath

// DefaultConnectTimeout bounds each connection attempt (DNS, TCP, TLS and
// authentication together).
const DefaultConnectTimeout = 5 * time.Second

// Secret fields this engine reads besides the rotator.Field* ones.
const (
	FieldSSL         = tlsplan.FieldSSL
	FieldSSLMode     = tlsplan.FieldSSLMode
	FieldSSLRootCert = tlsplan.FieldSSLRootCert
	// FieldChannelBinding, as libpq's channel_binding: "require" accepts
	// SCRAM-SHA-256-PLUS over TLS and nothing else, whatever the TLS
	// mode and the md5 or cleartext opt-ins. The alternating strategy sets
	// it on a master secret whose host came from the application's secret
	// (see the alternating package).
	FieldChannelBinding = tlsplan.FieldChannelBinding
)

// TLS modes, with libpq's meanings.
const (
	SSLDisable    = tlsplan.Disable
	SSLPrefer     = tlsplan.Prefer
	SSLRequire    = tlsplan.Require
	SSLVerifyCA   = tlsplan.VerifyCA
	SSLVerifyFull = tlsplan.VerifyFull
)

// Errors of this package; each comes wrapped together with a rotator
// sentinel.
var (
	// ErrServerNoTLS: TLS is required but the server does not offer it
	// (with rotator.ErrUnreachable).
	ErrServerNoTLS = errors.New("server does not support TLS")
	// ErrCertificate: the server's certificate failed verification (with
	// rotator.ErrUnreachable).
	ErrCertificate = errors.New("server certificate verification failed")
	// ErrNoSuchRole: the role to change or to clone does not exist.
	ErrNoSuchRole = errors.New("role does not exist")
	// ErrConfig: the engine's own configuration (options or environment)
	// is invalid.
	ErrConfig = errors.New("invalid postgres engine configuration")
	// ErrAuthMethod: on a connection whose certificate is not verified,
	// the server asked for an authentication method other than
	// SCRAM-SHA-256 (and the opt-ins), or for none; nothing was sent (with
	// rotator.ErrUnreachable).
	ErrAuthMethod = errors.New("authentication method refused")
	// ErrChannelBinding: on a TLS connection whose certificate is not
	// verified, the server offered SCRAM without channel binding; nothing
	// was sent (with rotator.ErrUnreachable).
	ErrChannelBinding = errors.New("channel binding required")
	// ErrMD5Verifier: the server's password_encryption is md5, and md5
	// verifiers are not allowed (WithAllowMD5).
	ErrMD5Verifier = errors.New("md5 verifiers not allowed")
)

// Compile-time check of the capability shapes the strategies ask for.
var _ dbengine.Capabilities = (*Engine)(nil)

// Engine is the PostgreSQL engine. It holds no connection: each call opens
// one and closes it. It is safe for concurrent use.
type Engine struct {
	cfg            dbengine.Config
	allowMD5       bool
	allowCleartext bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithConnectTimeout bounds each connection attempt (default 5s).
func WithConnectTimeout(d time.Duration) Option {
	return func(e *Engine) { e.cfg.SetConnectTimeout(d) }
}

// WithCABundle sets the PEM CA certificates that verify servers when the
// secret brings none (replacing $ROTATOR_PG_CA_BUNDLE and the bundle
// shipped with the function).
func WithCABundle(pem []byte) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetBundle(pem, "WithCABundle")) }
}

// WithCABundleFile reads the PEM CA certificates from a file, at New.
func WithCABundleFile(path string) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetBundleFile(path)) }
}

// WithDefaultSSLMode sets the TLS mode for secrets that set neither "ssl"
// nor "sslmode" (replacing $ROTATOR_PG_SSLMODE).
func WithDefaultSSLMode(mode string) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetDefaultMode(mode)) }
}

// WithAllowMD5 lets the engine use md5, which it otherwise refuses
// (replacing $ROTATOR_PG_ALLOW_MD5): md5 authentication on connections whose
// certificate is not verified (sslmode disable, prefer, require), and md5
// verifiers when the server's password_encryption is md5 (on any
// connection). An md5 verifier is as good as the password for md5 logins
// to whoever reads it (the server's statement log, a man in the middle),
// and an md5 exchange can be relayed; only for servers that cannot move to
// SCRAM. Channel binding is still required when a server offers SCRAM over
// TLS.
func WithAllowMD5(allow bool) Option {
	return func(e *Engine) { e.allowMD5 = allow }
}

// WithAllowCleartextPassword lets the engine answer a cleartext password
// request on a connection whose certificate is not verified (replacing
// $ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD). It sends the password itself to
// whoever answers: verify the certificate instead wherever possible (with
// verify-ca and verify-full, cleartext is accepted anyway, inside TLS).
func WithAllowCleartextPassword(allow bool) Option {
	return func(e *Engine) { e.allowCleartext = allow }
}

// WithLogger sets the logger for calls made outside a rotation step
// (default: discard). Within a step the engine logs through the handler's
// scrubbed logger (rotator.LoggerFrom), so that its warnings reach the
// function's log. Secret values are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) { e.cfg.SetLogger(l) }
}

// New returns an engine. It reads $ROTATOR_PG_CA_BUNDLE,
// $ROTATOR_PG_SSLMODE, $ROTATOR_PG_ALLOW_MD5 and
// $ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD, then applies the options. When
// neither $ROTATOR_PG_CA_BUNDLE nor an option gives a CA bundle, it reads
// the bundle shipped with the function, if any: $LAMBDA_TASK_ROOT/
// rds-ca-bundle.pem, then /opt/rotator/rds-ca-bundle.pem (CABundleFile,
// LayerCABundlePath). A configuration error (unreadable bundle, unknown
// mode, a boolean that is not one) is returned by every method.
func New(opts ...Option) *Engine {
	e := &Engine{cfg: dbengine.NewConfig(ErrConfig, tlsplan.Settings{EnvCABundle: EnvCABundle}, EnvSSLMode, DefaultConnectTimeout)}
	e.cfg.EnvBool(EnvAllowMD5, &e.allowMD5)
	e.cfg.EnvBool(EnvAllowCleartext, &e.allowCleartext)
	for _, o := range opts {
		o(e)
	}
	e.cfg.Finish(layerCABundlePath)
	return e
}

// target is a parsed, validated secret.
type target struct {
	host     string
	port     int
	dbname   string
	username string
	password string
	tls      tlsplan.Plan
}

// Validate checks a secret without connecting: engine (when present),
// host, username, password, port, dbname and the TLS fields.
func (e *Engine) Validate(s *rotator.Secret) error {
	_, err := e.parse(s)
	return err
}

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer identifiers are
// truncated by the server, so a long user name could name another role.
const maxIdentifierLen = MaxIdentifierLength

// checkRoleName rejects names the server would not take as given.
func checkRoleName(field, name string) error {
	switch {
	case name == "":
		return &rotator.FieldError{Field: field, Reason: "is empty", Err: rotator.ErrMissingField}
	case strings.IndexByte(name, 0) >= 0:
		return &rotator.FieldError{Field: field, Reason: "holds a NUL character", Err: rotator.ErrInvalidField}
	case len(name) > maxIdentifierLen:
		return &rotator.FieldError{Field: field, Reason: fmt.Sprintf("is %d bytes long; PostgreSQL role names have at most %d", len(name), maxIdentifierLen), Err: rotator.ErrInvalidField}
	}
	return nil
}

// maxHostNameLength is DNS's limit on a host name.
const maxHostNameLength = 253

// checkDBName rejects database names no server takes as given.
func checkDBName(v string, max int) error {
	switch {
	case strings.ContainsFunc(v, rotator.IsControlOrFormat) || !utf8.ValidString(v):
		return &rotator.FieldError{Field: rotator.FieldDBName, Reason: "holds a NUL, control character or invalid UTF-8", Err: rotator.ErrInvalidField}
	case utf8.RuneCountInString(v) > max:
		return &rotator.FieldError{Field: rotator.FieldDBName, Reason: fmt.Sprintf("is %d characters long; database names have at most %d", utf8.RuneCountInString(v), max), Err: rotator.ErrInvalidField}
	}
	return nil
}

func (e *Engine) parse(s *rotator.Secret) (*target, error) {
	if e.cfg.Err != nil {
		return nil, e.cfg.Err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: no secret", rotator.ErrMissingField)
	}
	if s.Has(rotator.FieldEngine) {
		raw, _ := s.Raw(rotator.FieldEngine)
		if strings.TrimSpace(string(raw)) != "null" {
			v, ok := s.String(rotator.FieldEngine)
			if !ok {
				return nil, &rotator.FieldError{Field: rotator.FieldEngine, Reason: "must be a JSON string", Err: rotator.ErrInvalidField}
			}
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "postgres", "postgresql", "aurora-postgresql":
			default:
				return nil, fmt.Errorf("%w: engine %s is not PostgreSQL (this rotator serves postgres, postgresql and aurora-postgresql)", rotator.ErrWrongEngine, rotator.Quote(v))
			}
		}
	}
	t := &target{}
	var err error
	if t.host, err = s.Require(rotator.FieldHost); err != nil {
		return nil, err
	}
	if strings.ContainsFunc(t.host, rotator.IsControlOrFormat) || !utf8.ValidString(t.host) {
		return nil, &rotator.FieldError{Field: rotator.FieldHost, Reason: "holds a control character or invalid UTF-8", Err: rotator.ErrInvalidField}
	}
	if len(t.host) > maxHostNameLength {
		return nil, &rotator.FieldError{Field: rotator.FieldHost, Reason: fmt.Sprintf("is %d bytes long; a host name has at most %d", len(t.host), maxHostNameLength), Err: rotator.ErrInvalidField}
	}
	if strings.HasPrefix(t.host, "/") || strings.ContainsAny(t.host, ", \t\r\n") {
		return nil, &rotator.FieldError{Field: rotator.FieldHost, Reason: "must be one host name or IP address", Err: rotator.ErrInvalidField}
	}
	if t.username, err = s.Require(rotator.FieldUsername); err != nil {
		return nil, err
	}
	if err := checkRoleName(rotator.FieldUsername, t.username); err != nil {
		return nil, err
	}
	if t.password, err = s.Require(rotator.FieldPassword); err != nil {
		return nil, err
	}
	if t.port, err = s.Int(rotator.FieldPort, 5432); err != nil {
		return nil, err
	}
	if t.port < 1 || t.port > 65535 {
		return nil, &rotator.FieldError{Field: rotator.FieldPort, Reason: "must be between 1 and 65535", Err: rotator.ErrInvalidField}
	}
	t.dbname = "postgres"
	if raw, ok := s.Raw(rotator.FieldDBName); ok && strings.TrimSpace(string(raw)) != "null" {
		v, ok := s.String(rotator.FieldDBName)
		if !ok {
			return nil, &rotator.FieldError{Field: rotator.FieldDBName, Reason: "must be a JSON string", Err: rotator.ErrInvalidField}
		}
		if err := checkDBName(v, maxIdentifierLen); err != nil {
			return nil, err
		}
		if v != "" {
			t.dbname = v
		}
	}
	if t.tls, err = e.cfg.TLS.Plan(s); err != nil {
		return nil, err
	}
	return t, nil
}

// MaxIdentifierLength is PostgreSQL's limit on a role name in bytes
// (NAMEDATALEN - 1). Longer names are truncated by the server, so the
// engine refuses them.
const MaxIdentifierLength = 63

// NewFromEnv is New for a Lambda's main: it returns a configuration error
// (unreadable $ROTATOR_PG_CA_BUNDLE, unknown $ROTATOR_PG_SSLMODE) at start-up
// instead of at the first rotation.
func NewFromEnv(opts ...Option) (*Engine, error) {
	e := New(opts...)
	return dbengine.Ready(e, e.cfg.Err)
}
