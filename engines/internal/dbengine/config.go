package dbengine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
	"github.com/rotatorkit/rotator/rotator"
)

// Config is the configuration both database engines hold, set from the
// environment and then from the engine's options.
type Config struct {
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout time.Duration
	// TLS is the CA bundle and default mode secrets are planned with.
	TLS tlsplan.Settings
	// Log is the logger for calls made outside a rotation step.
	Log *slog.Logger
	// Err is the configuration error every method returns (nil: none),
	// wrapped in the engine's ErrConfig.
	Err error

	errConfig error // the engine's ErrConfig sentinel
}

// NewConfig starts an engine's configuration: the connect timeout, a
// discarding logger, and the TLS settings read from the environment
// ($<tls.EnvCABundle>, $<envSSLMode>). errConfig is the engine's sentinel
// for configuration errors.
func NewConfig(errConfig error, tls tlsplan.Settings, envSSLMode string, timeout time.Duration) Config {
	c := Config{ConnectTimeout: timeout, TLS: tls, Log: slog.New(slog.DiscardHandler), errConfig: errConfig}
	c.Fail(c.TLS.FromEnv(envSSLMode))
	return c
}

// Fail records a configuration error (nil: none).
func (c *Config) Fail(err error) {
	if err != nil {
		c.Err = fmt.Errorf("%w: %v", c.errConfig, err)
	}
}

// EnvBool reads the boolean environment variable env into to ("": false);
// a value that is not a boolean is a configuration error naming env.
func (c *Config) EnvBool(env string, to *bool) {
	v, err := rotator.ParseBool(os.Getenv(env))
	if err != nil {
		c.Err = fmt.Errorf("%w: $%s: %v", c.errConfig, env, err)
		return
	}
	*to = v
}

// SetConnectTimeout is an engine's WithConnectTimeout: d must be positive.
func (c *Config) SetConnectTimeout(d time.Duration) {
	if d <= 0 {
		c.Err = fmt.Errorf("%w: connect timeout %v is not positive", c.errConfig, d)
		return
	}
	c.ConnectTimeout = d
}

// SetLogger is an engine's WithLogger: nil keeps the current logger.
func (c *Config) SetLogger(l *slog.Logger) {
	if l != nil {
		c.Log = l
	}
}

// Finish ends New once the options ran: without a configuration error so
// far, it loads the CA bundle shipped with the function when nothing else
// gave one (layerPath is the engine's LayerCABundlePath).
func (c *Config) Finish(layerPath string) {
	if c.Err == nil {
		c.Fail(c.TLS.LoadShipped(layerPath))
	}
}

// Logger is the step's logger when the handler runs the call
// (rotator.LoggerFrom, scrubbed), else the engine's own.
func (c *Config) Logger(ctx context.Context) *slog.Logger {
	if l := rotator.LoggerFrom(ctx); l != nil {
		return l
	}
	return c.Log
}

// Ready is an engine's NewFromEnv: the engine, or its configuration error
// (and a nil engine).
func Ready[E any](e *E, err error) (*E, error) {
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Capabilities are the capability shapes the strategies ask of a database
// engine (each strategy asks for a subset, with its own small interface);
// each engine checks at compile time that it has them all.
type Capabilities interface {
	Validate(*rotator.Secret) error
	Login(context.Context, *rotator.Secret) error
	SetPassword(context.Context, rotator.SetPasswordRequest) error
	EnsureUser(context.Context, rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error)
	CheckTarget(context.Context, rotator.CheckTargetRequest) error
}
