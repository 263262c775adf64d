package pgxrotate_test

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotatorkit/rotator/client/pgxrotate"
	"github.com/rotatorkit/rotator/client/secretcache"
)

// README:begin pgxpool
// openPool opens a pool whose connections log in with the secret's user
// and password; the connection string names the server and TLS settings.
func openPool(ctx context.Context, cache *secretcache.Cache) (*pgxrotate.Pool, error) {
	cfg, err := pgxpool.ParseConfig("host=db.example.com dbname=app sslmode=verify-full")
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 10 // no MaxConnLifetime needed for rotations: connections follow the secret's version
	// Query, Exec, QueryRow, Begin...: retried when the server refuses a stale password.
	// pool.Pool is the *pgxpool.Pool, for code that needs that type.
	return pgxrotate.NewPool(ctx, cfg, cache, "prod/app/db")
}

// README:end pgxpool

// README:begin database-sql
// openDB opens a database/sql handle over pgx's stdlib driver whose
// connections log in with the secret's user and password.
func openDB(cache *secretcache.Cache) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig("host=db.example.com dbname=app sslmode=verify-full")
	if err != nil {
		return nil, err
	}
	connector, err := pgxrotate.NewConnector(cfg, cache, "prod/app/db")
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// README:end database-sql

// Example_pool compiles the README's examples; it needs a database and an
// AWS account to run.
func Example_pool() {
	ctx := context.Background()
	var cache *secretcache.Cache // secretcache.New(secretsmanager.NewFromConfig(awsCfg))
	if pool, err := openPool(ctx, cache); err == nil {
		defer pool.Close()
	}
	if db, err := openDB(cache); err == nil {
		defer db.Close()
	}
}
