// Package pgtest gives tests a real PostgreSQL server. It is a testing
// layer over internal/pgserver, which starts the servers: this package
// maps its options onto pgserver's, turns "no server here" into a skip (or
// a failure), shares servers across a test binary, adds the DSN source
// below and test conveniences that fail the test instead of returning
// errors.
//
// A server comes from the first of these that works, tried in order:
//
//  1. a container started by testcontainers-go, when a Docker engine is
//     reachable (the provider's health check fails fast when it is not),
//     from $ROTATOR_TEST_IMAGE_POSTGRES (default postgres:16-alpine, from
//     Docker Hub; .ci/docker builds rotator-test/postgres where there is
//     no registry). An image that cannot be pulled, or a container that
//     does not start, is not the end: the next source is tried;
//  2. a throwaway cluster made from locally installed binaries (initdb and
//     postgres, found through $ROTATOR_TEST_POSTGRES_BINDIR, `pg_config
//     --bindir`, /usr/lib/postgresql/*/bin or $PATH) in a temporary
//     directory, listening on 127.0.0.1 on a random free port, with
//     password authentication (scram-sha-256, or md5 on request) for every
//     connection ([WithHostAuth] makes TCP connections use md5, cleartext
//     password or trust instead). When the test runs as root the server runs as the
//     `postgres` OS user, since PostgreSQL refuses to run as root.
//     $ROTATOR_TEST_POSTGRES_BINDIR set puts this source first;
//  3. an existing server named by $ROTATOR_TEST_POSTGRES_DSN (a superuser
//     connection string). Options that need control over the server (TLS,
//     password_encryption) are not available there.
//
// Every server start writes a line to stderr naming the backend it came
// from and why the ones before it were not used ("pgtest: backend=...";
// `go test -v` shows it).
//
// $ROTATOR_TEST_BACKEND=containers|local|dsn (internal/testbackend; or the
// older $ROTATOR_TEST_POSTGRES_MODE=container|local|dsn) forces one source:
// when it is not available the tests fail with the reason, rather than
// fall back or skip. $ROTATOR_TEST_POSTGRES_IMAGE is an older name of
// $ROTATOR_TEST_IMAGE_POSTGRES; pgserver's $ROTATOR_POSTGRES_* variables
// are not read ([SetServerEnv] sets them for programs that start their
// own server). When no source is available the test is skipped with the
// reason, or fails when $ROTATOR_REQUIRE_DB=1 (CI sets it, so that a
// missing server cannot pass as a green run).
//
// TLS servers get a certificate from a CA made for that server alone, in
// containers too (copied in at start): tests verify the chain against
// [Server.CAPEM], and a certificate from another server does not verify.
//
// Two ways to get a server:
//
//   - [Shared] starts one server per test binary and option set, on first
//     use, and [Main] (called from TestMain) stops them all when the tests
//     end or when the binary gets SIGINT/SIGTERM;
//   - [Start] starts a server for one test and stops it in t.Cleanup.
//
// Local servers are started with a parent-death signal, so even a test
// binary that crashes or is killed takes its postgres processes with it; a
// temporary directory left behind that way is removed by the next run.
//
// Local and container servers log every statement (log_statement=all), so a
// test can read [Server.ReadLog] to prove that a plaintext password never
// reached the server. Helpers in this package never send plaintext passwords
// either: [Server.CreateRole] hashes them client-side.
package pgtest
