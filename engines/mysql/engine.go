package mysql

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
	EnvCABundle = "ROTATOR_MYSQL_CA_BUNDLE"
	// EnvSSLMode is the TLS mode for secrets that set neither "ssl" nor
	// "sslmode".
	EnvSSLMode = "ROTATOR_MYSQL_SSLMODE"
	// EnvAllowCleartext ("true") is WithAllowCleartextPassword(true): on a
	// connection whose certificate is not verified, answer a server that
	// asks for the password itself (mysql_clear_password).
	EnvAllowCleartext = "ROTATOR_MYSQL_ALLOW_CLEARTEXT_PASSWORD"
)

// Where New looks for a CA bundle when $ROTATOR_MYSQL_CA_BUNDLE is unset:
// the same files as the PostgreSQL engine, so that one bundle shipped with
// the functions serves both.
const (
	// CABundleFile is the bundle's name next to bootstrap in the
	// function's zip, read from $LAMBDA_TASK_ROOT.
	CABundleFile = tlsplan.CABundleFile
	// LayerCABundlePath is the bundle in a Lambda layer.
	LayerCABundlePath = tlsplan.LayerCABundlePath
)

// layerCABundlePath is LayerCABundlePath; tests point it elsewhere.
var layerCABundlePath = LayerCABundlePath

// DefaultConnectTimeout bounds each connection attempt (DNS, TCP, TLS and
// authentication together).
const DefaultConnectTimeout = 5 * time.Second

// DefaultPort is MySQL's port, used when a secret has no "port".
const DefaultPort = 3306

// Secret fields this engine reads besides the rotator.Field* ones.
const (
	FieldSSL         = tlsplan.FieldSSL
	FieldSSLMode     = tlsplan.FieldSSLMode
	FieldSSLRootCert = tlsplan.FieldSSLRootCert
	// FieldChannelBinding "require" is what the alternating strategy sets
	// on a master secret whose host came from the application's secret.
	// MySQL has no channel binding, so the engine then sends the master's
	// credential only over TLS verified (verify-full) against the
	// function's own CA bundle ($ROTATOR_MYSQL_CA_BUNDLE, WithCABundle or
	// the bundle shipped with the function), never against the secret's
	// "sslrootcert" or the system roots, which whoever writes the
	// application's secret can satisfy for a host of their own.
	FieldChannelBinding = tlsplan.FieldChannelBinding
	// FieldUserHost is the host part of the user's account ('app'@'10.0.%'
	// has "userhost": "10.0.%"). Without it the engine uses the account the
	// user logs in as (CURRENT_USER()) for its own password, and, with a
	// master, the only account of that user name; it never assumes '%'.
	FieldUserHost = "userhost"
)

// TLS modes, with libpq's meanings (as the PostgreSQL engine).
const (
	SSLDisable    = tlsplan.Disable
	SSLPrefer     = tlsplan.Prefer
	SSLRequire    = tlsplan.Require
	SSLVerifyCA   = tlsplan.VerifyCA
	SSLVerifyFull = tlsplan.VerifyFull
)

// User name limits, in characters.
const (
	// MaxUserNameLengthMySQL is MySQL 5.7.8 and later's limit.
	MaxUserNameLengthMySQL = 32
	// MaxUserNameLengthMariaDB is MariaDB's limit.
	MaxUserNameLengthMariaDB = 80
	// MaxUserNameLength is the larger of the two: what a secret may name
	// before the engine knows the server (the server's own limit is
	// checked once connected).
	MaxUserNameLength = MaxUserNameLengthMariaDB
	// maxHostLength is the limit on an account's host part.
	maxHostLength = 255
)

// Errors of this package; each comes wrapped together with a rotator
// sentinel.
var (
	// ErrServerNoTLS: TLS is required but the server does not offer it
	// (with rotator.ErrUnreachable).
	ErrServerNoTLS = errors.New("server does not support TLS")
	// ErrServerRequiresTLS: the server refuses plaintext connections
	// (require_secure_transport) and the secret asks for none.
	ErrServerRequiresTLS = errors.New("server requires TLS")
	// ErrCertificate: the server's certificate failed verification (with
	// rotator.ErrUnreachable).
	ErrCertificate = errors.New("server certificate verification failed")
	// ErrAuthMethod: the server asked for an authentication exchange that
	// would hand over the password (or a form of it a server could use) on
	// a connection whose certificate is not verified; nothing was sent
	// (with rotator.ErrUnreachable).
	ErrAuthMethod = errors.New("authentication method refused")
	// ErrVerificationRequired: the secret requires a certificate verified
	// against the function's own CA bundle ("channel_binding": "require"),
	// and none is configured (with rotator.ErrUnreachable).
	ErrVerificationRequired = errors.New("verified TLS against the function's CA bundle required")
	// ErrNoSuchUser: the account to change or to clone does not exist.
	ErrNoSuchUser = errors.New("account does not exist")
	// ErrAccountHost: the account's host part is ambiguous or does not
	// match "userhost".
	ErrAccountHost = errors.New("account host")
	// ErrUnsupportedPlugin: the account authenticates with a plugin whose
	// password hash the engine cannot compute (it never sends a plaintext
	// password to set one).
	ErrUnsupportedPlugin = errors.New("authentication plugin not supported")
	// ErrDualPasswordUnsupported: the server has no dual passwords (MariaDB,
	// MySQL before 8.0.14).
	ErrDualPasswordUnsupported = errors.New("dual passwords not supported by the server")
	// ErrCurrentPasswordMismatch: a dual-password change found that the
	// account's primary password is not the one the request replaces.
	ErrCurrentPasswordMismatch = errors.New("the account's primary password is not the current one")
	// ErrConfig: the engine's own configuration (options or environment)
	// is invalid.
	ErrConfig = errors.New("invalid mysql engine configuration")
)

// Engine is the MySQL and MariaDB engine. It holds no connection: each
// call opens one and closes it. It is safe for concurrent use.
type Engine struct {
	cfg            dbengine.Config
	allowCleartext bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithConnectTimeout bounds each connection attempt (default 5s).
func WithConnectTimeout(d time.Duration) Option {
	return func(e *Engine) { e.cfg.SetConnectTimeout(d) }
}

// WithCABundle sets the PEM CA certificates that verify servers when the
// secret brings none (replacing $ROTATOR_MYSQL_CA_BUNDLE and the bundle
// shipped with the function). It is also the only trust anchor for a
// secret with "channel_binding": "require".
func WithCABundle(pem []byte) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetBundle(pem, "WithCABundle")) }
}

// WithCABundleFile reads the PEM CA certificates from a file, at New.
func WithCABundleFile(path string) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetBundleFile(path)) }
}

// WithDefaultSSLMode sets the TLS mode for secrets that set neither "ssl"
// nor "sslmode" (replacing $ROTATOR_MYSQL_SSLMODE).
func WithDefaultSSLMode(mode string) Option {
	return func(e *Engine) { e.cfg.Fail(e.cfg.TLS.SetDefaultMode(mode)) }
}

// WithAllowCleartextPassword lets the engine answer a server that asks for
// the password in cleartext (mysql_clear_password) on a connection whose
// certificate is not verified (replacing
// $ROTATOR_MYSQL_ALLOW_CLEARTEXT_PASSWORD). It hands the password to
// whoever answers: verify the certificate instead wherever possible. It
// never lets a password go out RSA-encrypted with a key the server sent.
func WithAllowCleartextPassword(allow bool) Option {
	return func(e *Engine) { e.allowCleartext = allow }
}

// WithLogger sets the logger for calls made outside a rotation step
// (default: discard). Within a step the engine logs through the handler's
// scrubbed logger (rotator.LoggerFrom). Secret values are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) { e.cfg.SetLogger(l) }
}

// New returns an engine. It reads $ROTATOR_MYSQL_CA_BUNDLE,
// $ROTATOR_MYSQL_SSLMODE and $ROTATOR_MYSQL_ALLOW_CLEARTEXT_PASSWORD, then
// applies the options. When neither $ROTATOR_MYSQL_CA_BUNDLE nor an option
// gives a CA bundle, it reads the bundle shipped with the function, if any:
// $LAMBDA_TASK_ROOT/rds-ca-bundle.pem, then /opt/rotator/rds-ca-bundle.pem.
// A configuration error is returned by every method (NewFromEnv returns it
// at once).
func New(opts ...Option) *Engine {
	e := &Engine{cfg: dbengine.NewConfig(ErrConfig,
		tlsplan.Settings{EnvCABundle: EnvCABundle, BindingNeedsBundle: true}, EnvSSLMode, DefaultConnectTimeout)}
	e.cfg.EnvBool(EnvAllowCleartext, &e.allowCleartext)
	for _, o := range opts {
		o(e)
	}
	e.cfg.Finish(layerCABundlePath)
	return e
}

// NewFromEnv is New for a Lambda's main: it returns a configuration error
// (unreadable $ROTATOR_MYSQL_CA_BUNDLE, unknown $ROTATOR_MYSQL_SSLMODE) at
// start-up instead of at the first rotation.
func NewFromEnv(opts ...Option) (*Engine, error) {
	e := New(opts...)
	return dbengine.Ready(e, e.cfg.Err)
}

// target is a parsed, validated secret.
type target struct {
	host     string
	port     int
	dbname   string // "": none
	username string
	password string
	userHost string // "": not given
	tls      tlsplan.Plan
}

// Validate checks a secret without connecting: engine (when present),
// host, port, username, password, dbname, userhost and the TLS fields.
func (e *Engine) Validate(s *rotator.Secret) error {
	_, err := e.parse(s)
	return err
}

// engineNames are the "engine" values this engine serves.
var engineNames = map[string]bool{"mysql": true, "mariadb": true, "aurora": true, "aurora-mysql": true}

// checkEngine checks the "engine" field.
func checkEngine(s *rotator.Secret) error {
	raw, ok := s.Raw(rotator.FieldEngine)
	if !ok || strings.TrimSpace(string(raw)) == "null" {
		return nil
	}
	v, ok := s.String(rotator.FieldEngine)
	if !ok {
		return &rotator.FieldError{Field: rotator.FieldEngine, Reason: "must be a JSON string", Err: rotator.ErrInvalidField}
	}
	if !engineNames[strings.ToLower(strings.TrimSpace(v))] {
		return fmt.Errorf("%w: engine %s is not MySQL or MariaDB (this rotator serves mysql, mariadb, aurora and aurora-mysql)", rotator.ErrWrongEngine, rotator.Quote(v))
	}
	return nil
}

// checkUserName rejects names no server takes as given.
func checkUserName(field, name string) error {
	switch {
	case name == "":
		return &rotator.FieldError{Field: field, Reason: "is empty", Err: rotator.ErrMissingField}
	case strings.IndexByte(name, 0) >= 0:
		return &rotator.FieldError{Field: field, Reason: "holds a NUL character", Err: rotator.ErrInvalidField}
	case !utf8.ValidString(name):
		return &rotator.FieldError{Field: field, Reason: "is not valid UTF-8", Err: rotator.ErrInvalidField}
	case utf8.RuneCountInString(name) > MaxUserNameLength:
		return &rotator.FieldError{Field: field, Reason: fmt.Sprintf("has %d characters; MariaDB user names have at most %d (MySQL: %d)", utf8.RuneCountInString(name), MaxUserNameLengthMariaDB, MaxUserNameLengthMySQL), Err: rotator.ErrInvalidField}
	}
	return nil
}

// checkHostPart rejects account host parts no server takes as given.
func checkHostPart(field, host string) error {
	switch {
	case strings.IndexByte(host, 0) >= 0:
		return &rotator.FieldError{Field: field, Reason: "holds a NUL character", Err: rotator.ErrInvalidField}
	case !utf8.ValidString(host):
		return &rotator.FieldError{Field: field, Reason: "is not valid UTF-8", Err: rotator.ErrInvalidField}
	case len(host) > maxHostLength:
		return &rotator.FieldError{Field: field, Reason: fmt.Sprintf("is %d bytes; an account's host part has at most %d", len(host), maxHostLength), Err: rotator.ErrInvalidField}
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
	if err := checkEngine(s); err != nil {
		return nil, err
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
	if strings.HasPrefix(t.host, "/") || strings.ContainsAny(t.host, ", \t\r\n()") {
		return nil, &rotator.FieldError{Field: rotator.FieldHost, Reason: "must be one host name or IP address", Err: rotator.ErrInvalidField}
	}
	if t.username, err = s.Require(rotator.FieldUsername); err != nil {
		return nil, err
	}
	if err := checkUserName(rotator.FieldUsername, t.username); err != nil {
		return nil, err
	}
	if t.password, err = s.Require(rotator.FieldPassword); err != nil {
		return nil, err
	}
	if t.port, err = s.Int(rotator.FieldPort, DefaultPort); err != nil {
		return nil, err
	}
	if t.port < 1 || t.port > 65535 {
		return nil, &rotator.FieldError{Field: rotator.FieldPort, Reason: "must be between 1 and 65535", Err: rotator.ErrInvalidField}
	}
	db, _, err := s.Optional(rotator.FieldDBName)
	if err != nil {
		return nil, err
	}
	if err := checkDBName(db, 64); err != nil {
		return nil, err
	}
	t.dbname = db
	uh, set, err := s.Optional(FieldUserHost)
	if err != nil {
		return nil, err
	}
	if set {
		if err := checkHostPart(FieldUserHost, uh); err != nil {
			return nil, err
		}
		if uh == "" {
			return nil, &rotator.FieldError{Field: FieldUserHost, Reason: "is empty; remove it to use the account the user logs in as, or name the host part ('%' for any host)", Err: rotator.ErrInvalidField}
		}
		t.userHost = uh
	}
	if t.tls, err = e.cfg.TLS.Plan(s); err != nil {
		return nil, err
	}
	return t, nil
}
