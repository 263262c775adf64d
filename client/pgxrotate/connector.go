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
// A connection attempt that the server refuses (28P01) is retried with a
// newer credential (AWSPENDING's in the middle of a single-user
// rotation, see WithPendingFallback), inside Connect, so database/sql
// never sees the refusal. A connection made with a credential older than
// the one new connections use is closed when it is released, through
// driver.Validator, which database/sql asks before it puts a connection
// back in its pool: the query that used it has already succeeded.
// (Rejecting it later, in ResetSession, would make database/sql fail a
// query that met three such connections in a row.)
//
// The connections are [*DriverConn] values: in sql.Conn.Raw, reach the
// *pgx.Conn with driverConn.(*pgxrotate.DriverConn).Conn(), or with
// driverConn.(interface{ Conn() *pgx.Conn }).Conn(), which works with
// pgx's own *stdlib.Conn too.
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

// Connect opens a connection, retried after a refused attempt as Pool's
// operations are.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	return retry(ctx, c.creds, func() (driver.Conn, error) {
		conn, err := c.connect(ctx)
		if err != nil {
			c.creds.Observe(err)
		}
		return conn, err
	})
}

func (c *Connector) connect(ctx context.Context) (driver.Conn, error) {
	dc, err := stdlib.GetConnector(*c.base, stdlib.OptionBeforeConnect(c.creds.BeforeConnect)).Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(*stdlib.Conn)
	if !ok {
		return dc, nil
	}
	return &DriverConn{stdConn: sc, creds: c.creds}, nil
}

// stdConn names the embedded *stdlib.Conn so that its Conn method (the
// *pgx.Conn) is promoted instead of shadowed by a field called Conn.
type stdConn = stdlib.Conn

// DriverConn is the driver.Conn a Connector returns: pgx's *stdlib.Conn,
// every method and optional interface of it promoted, plus
// driver.Validator, which tells database/sql to close the connection
// instead of pooling it once it was made with an older credential.
type DriverConn struct {
	*stdConn
	creds *Credentials
}

var (
	_ driver.Conn               = (*DriverConn)(nil)
	_ driver.Validator          = (*DriverConn)(nil)
	_ driver.SessionResetter    = (*DriverConn)(nil)
	_ driver.QueryerContext     = (*DriverConn)(nil)
	_ driver.ExecerContext      = (*DriverConn)(nil)
	_ driver.ConnBeginTx        = (*DriverConn)(nil)
	_ driver.ConnPrepareContext = (*DriverConn)(nil)
	_ driver.Pinger             = (*DriverConn)(nil)
	_ driver.NamedValueChecker  = (*DriverConn)(nil)
)

// StdlibConn returns pgx's connection that c wraps.
func (c *DriverConn) StdlibConn() *stdlib.Conn { return c.stdConn }

// IsValid reports whether database/sql may pool the connection again: it
// is open and was made with the credential new connections use.
func (c *DriverConn) IsValid() bool {
	conn := c.Conn()
	return !conn.IsClosed() && !c.creds.Outdated(conn)
}

// Driver returns pgx's stdlib driver.
func (c *Connector) Driver() driver.Driver { return stdlib.GetDefaultDriver() }
