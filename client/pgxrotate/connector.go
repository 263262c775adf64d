package pgxrotate

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Connector is a database/sql driver.Connector for pgx's stdlib driver
// whose connections take their user and password from a secret:
//
//	db := sql.OpenDB(connector)
//
// A connection attempt that the server refuses (28P01) is retried once
// with a newer credential (AWSPENDING's in the middle of a single-user
// rotation, see WithPendingFallback), inside Connect, so database/sql
// never sees the refusal. A connection made with a credential older than
// the one new connections use is discarded when database/sql next resets
// it for reuse (driver.ErrBadConn from ResetSession, which database/sql
// answers by taking or opening another connection, not by failing the
// query).
type Connector struct {
	base  *pgx.ConnConfig
	creds *Credentials
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a connector that connects as cfg says (host, TLS,
// database, parameters: make it with pgx.ParseConfig), with the user and
// password of secretID's AWSCURRENT value in src.
func NewConnector(cfg *pgx.ConnConfig, src Source, secretID string, opts ...Option) (*Connector, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil pgx.ConnConfig (make it with pgx.ParseConfig)", ErrInvalidArgument)
	}
	c, err := newCredentials(src, secretID, newOptions(opts))
	if err != nil {
		return nil, err
	}
	return &Connector{base: cfg.Copy(), creds: c}, nil
}

// Credentials returns the connector's link to its secret (for Stats).
func (c *Connector) Credentials() *Credentials { return c.creds }

// Connect opens a connection, retried once after a refused attempt.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		c.creds.Observe(err)
		if c.creds.retry(ctx, err) {
			conn, err = c.connect(ctx)
			if err != nil {
				c.creds.Observe(err)
			}
		}
	}
	return conn, err
}

func (c *Connector) connect(ctx context.Context) (driver.Conn, error) {
	opts := []stdlib.OptionOpenDB{stdlib.OptionBeforeConnect(c.creds.BeforeConnect)}
	if c.creds.recycle {
		opts = append(opts, stdlib.OptionResetSession(func(_ context.Context, conn *pgx.Conn) error {
			if c.creds.Outdated(conn) {
				return driver.ErrBadConn
			}
			return nil
		}))
	}
	return stdlib.GetConnector(*c.base, opts...).Connect(ctx)
}

// Driver returns pgx's stdlib driver.
func (c *Connector) Driver() driver.Driver { return stdlib.GetDefaultDriver() }
