// Package pgserver starts a throwaway PostgreSQL server without the testing
// package: for `rotator demo`, for anything else that wants a real server
// for a few seconds and no setup, and under internal/pgtest, which adds
// what tests need (skips, shared servers, an existing server named by a
// connection string) on top of it.
//
// A server comes from the first of these that works, tried in order:
//
//  1. a container started by testcontainers-go, when a Docker engine is
//     reachable (its health check fails fast when it is not), from
//     $ROTATOR_POSTGRES_IMAGE (default [DefaultImage], Docker Hub's
//     postgres:16-alpine; .ci/docker builds rotator-test/postgres from
//     Debian's packages where no registry is reachable). Pulls and starts
//     are bounded in time;
//  2. a cluster made by initdb from locally installed binaries ($ROTATOR_
//     POSTGRES_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin or
//     $PATH) in a temporary directory, listening on 127.0.0.1 on a free
//     port, with password authentication (scram-sha-256, or md5 on
//     request) for every connection. Run as root, the server runs as the
//     `postgres` OS user (PostgreSQL refuses root). Binaries named
//     explicitly ($ROTATOR_POSTGRES_BINDIR, [Options.BinDir]) come first.
//
// When a Docker engine answers but the container cannot be had (an image
// that cannot be pulled: offline, no registry) or does not start, Start
// goes on to the local binaries and says why in [Server.FellBack];
// [Server.Skipped] lists why each source before the one used was not.
// $ROTATOR_POSTGRES_MODE=container|local (or [Options.Mode]) allows one
// source only; its failure is then Start's error.
//
// [Options] turn on TLS (a certificate signed by a CA made for the server),
// md5 password encryption, a weaker (or no) authentication for TCP
// connections ([Options.HostAuth]) and log_statement=all. [Options.EnvPrefix] says
// which environment variables fill in what the options leave out
// ($ROTATOR_POSTGRES_MODE, _BINDIR and _IMAGE by default).
//
// A local server gets a parent-death signal, so it stops when the process
// that started it dies, however it dies; a directory left behind that way
// is removed by the next Start.
//
// [Server.CreateRole] hashes passwords here (SCRAM-SHA-256 or md5), so a
// plaintext password never reaches the server or its log.
package pgserver
