package pgxrotate

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool is a *pgxpool.Pool configured by ConfigurePool whose operations
// are retried when the connection attempt they made was refused with
// SQLSTATE 28P01: the retry connects with a newer credential (once; twice
// if a rotation moved the password again meanwhile; never with the
// credential just refused). A refused attempt happens before any statement
// is sent, so the retry never runs a statement twice.
//
// The embedded *pgxpool.Pool is there for code that needs that type: its
// methods have the same hooks but no retry (see ConfigurePool).
type Pool struct {
	*pgxpool.Pool
	creds *Credentials
}

// NewPool configures cfg with ConfigurePool and opens the pool. Like
// pgxpool.NewWithConfig, it does not connect: the first operation does.
func NewPool(ctx context.Context, cfg *pgxpool.Config, src Source, secretID string, opts ...Option) (*Pool, error) {
	c, err := ConfigurePool(cfg, src, secretID, opts...)
	if err != nil {
		return nil, err
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Pool{Pool: p, creds: c}, nil
}

// Credentials returns the pool's link to its secret (for Stats).
func (p *Pool) Credentials() *Credentials { return p.creds }

// Acquire is pgxpool.Pool.Acquire, retried after a refused attempt.
func (p *Pool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return retry(ctx, p.creds, func() (*pgxpool.Conn, error) { return p.Pool.Acquire(ctx) })
}

// AcquireFunc acquires a connection (retried as Acquire is), calls f with
// it and releases it.
func (p *Pool) AcquireFunc(ctx context.Context, f func(*pgxpool.Conn) error) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return f(c)
}

// Exec is pgxpool.Pool.Exec, retried after a refused attempt.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return retry(ctx, p.creds, func() (pgconn.CommandTag, error) { return p.Pool.Exec(ctx, sql, args...) })
}

// Query is pgxpool.Pool.Query, retried after a refused attempt.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return retry(ctx, p.creds, func() (pgx.Rows, error) { return p.Pool.Query(ctx, sql, args...) })
}

// QueryRow is pgxpool.Pool.QueryRow, its connection acquired as Acquire
// does. Errors are returned by Scan.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := p.Acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return &poolRow{row: c.QueryRow(ctx, sql, args...), c: c}
}

// SendBatch is pgxpool.Pool.SendBatch, its connection acquired as Acquire
// does. The connection is released when the results are closed or, for a
// batch that begins a transaction (pgx.Batch.BeginTx), when that
// transaction ends.
func (p *Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c, err := p.Acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	br := c.SendBatch(ctx, b)
	if tx := br.Tx(); tx != nil {
		return &poolBatch{BatchResults: br, tx: &poolTx{Tx: tx, c: c}}
	}
	return &poolBatch{BatchResults: br, c: c}
}

// Begin is pgxpool.Pool.Begin, retried after a refused attempt.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	return retry(ctx, p.creds, func() (pgx.Tx, error) { return p.Pool.Begin(ctx) })
}

// BeginTx is pgxpool.Pool.BeginTx, retried after a refused attempt.
func (p *Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	return retry(ctx, p.creds, func() (pgx.Tx, error) { return p.Pool.BeginTx(ctx, opts) })
}

// CopyFrom is pgxpool.Pool.CopyFrom, retried after a refused attempt
// (the source has not been read then).
func (p *Pool) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return retry(ctx, p.creds, func() (int64, error) { return p.Pool.CopyFrom(ctx, table, columns, src) })
}

// Ping is pgxpool.Pool.Ping, retried after a refused attempt.
func (p *Pool) Ping(ctx context.Context) error {
	_, err := retry(ctx, p.creds, func() (struct{}, error) { return struct{}{}, p.Pool.Ping(ctx) })
	return err
}

// poolRow releases its connection once scanned, as pgxpool's own does.
type poolRow struct {
	row pgx.Row
	c   *pgxpool.Conn
}

func (r *poolRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if r.c != nil {
		r.c.Release()
		r.c = nil
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// poolBatch releases its connection when closed, or leaves that to the
// transaction the batch began, as pgxpool's own does.
type poolBatch struct {
	pgx.BatchResults
	c  *pgxpool.Conn
	tx *poolTx
}

func (b *poolBatch) Close() error {
	err := b.BatchResults.Close()
	if b.c != nil {
		b.c.Release()
		b.c = nil
	}
	return err
}

func (b *poolBatch) Tx() pgx.Tx {
	if b.tx == nil {
		return nil
	}
	return b.tx
}

// poolTx releases its connection when it ends, as pgxpool.Tx does.
type poolTx struct {
	pgx.Tx
	c *pgxpool.Conn
}

func (t *poolTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.release()
	return err
}

func (t *poolTx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	t.release()
	return err
}

func (t *poolTx) release() {
	if t.c != nil {
		t.c.Release()
		t.c = nil
	}
}

var (
	_ pgx.Row          = (*poolRow)(nil)
	_ pgx.Row          = errRow{}
	_ pgx.BatchResults = (*poolBatch)(nil)
	_ pgx.Tx           = (*poolTx)(nil)
)
