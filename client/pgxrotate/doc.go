// Package pgxrotate makes pgx/v5 connections (a pgxpool.Pool, or
// database/sql through pgx's stdlib driver) take their user name and
// password from a rotated AWS Secrets Manager secret, through a
// [secretcache.Cache], so that an application keeps working while
// Rotator (or any rotation function) changes its database password.
//
//	cache := secretcache.New(secretsmanager.NewFromConfig(awsCfg))
//	cfg, _ := pgxpool.ParseConfig("host=db.example.com dbname=app sslmode=verify-full")
//	pool, err := pgxrotate.NewPool(ctx, cfg, cache, "prod/app/db")
//
// The connection string names the server, database and TLS settings; the
// secret (AWS's RDS format: "username", "password") supplies the
// credential. PostgreSQL keeps a session open after its password changes,
// so a rotation only matters to new connections; this package handles
// both sides of it:
//
//   - Every new connection reads the credential from the cache, so with
//     alternating users the user name follows the secret.
//   - A connection attempt that the server refuses with SQLSTATE 28P01
//     marks that version as refused; the attempt is retried (by [Pool]'s
//     operations and by [Connector.Connect]) with a value fetched after
//     the refusal: once, or twice when a rotation moved the password again
//     while the first retry connected, and never with the credential just
//     refused. If Secrets Manager still calls the refused
//     version current, a single-user rotation is between its setSecret and
//     finishSecret, and the retry uses AWSPENDING's credential (see
//     [WithPendingFallback]). Many refusals at once cost one fetch.
//   - Once the cache has seen a newer version, connections made with an
//     older one are closed when released, or skipped when next acquired
//     (see [WithRecycle]): connection lifetime follows the rotation
//     instead of a guessed MaxConnLifetime, and no query fails for it.
//
// pgxpool has no hook that can retry a connection attempt; [ConfigurePool]
// alone (for code that must build its own *pgxpool.Pool) therefore lets
// the one acquire whose attempt was refused fail, and heals the next one.
// [NewPool]'s [Pool] wraps *pgxpool.Pool to retry it.
//
// No password reaches a log or an error: pgx's connect errors name the
// user and database only, and this package logs secret IDs, version IDs
// and user names.
package pgxrotate

import "github.com/rotatorkit/rotator/client/secretcache"

var _ Source = (*secretcache.Cache)(nil)
