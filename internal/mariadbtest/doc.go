// Package mariadbtest gives tests a real MariaDB (or MySQL) server, as
// internal/pgtest does for PostgreSQL.
//
// A server comes from the first of these that works, tried in order:
//
//  1. a container of $ROTATOR_TEST_IMAGE_MARIADB (default [DefaultImage];
//     .ci/docker builds rotator-test/mariadb) when a Docker engine on this
//     Linux host answers (container.go): on the host's network, listening
//     on 127.0.0.1 on a random free port like a local server (the accounts
//     tests make live at 127.0.0.1), every account with a password, TLS
//     with a certificate signed by a CA made for it (copied into the
//     container), require_secure_transport on request, and the general log
//     (copied out of the container by [Server.ReadLog]). An engine or image
//     that cannot be had makes the rig go on to local binaries, with the
//     reason; [RegisterContainerBackend] replaces this backend;
//  2. a throwaway server made from locally installed binaries (mariadbd
//     and mariadb-install-db, or mysqld and mysql_install_db, found through
//     $ROTATOR_TEST_MYSQL_BINDIR, $PATH, /usr/sbin and /usr/libexec) in a
//     temporary directory, listening on 127.0.0.1 on a random free port,
//     every account with a password, TLS on with a certificate signed by a
//     CA made for it, and the general log on. When the test runs as root
//     the server runs as the `mysql` OS user (mariadbd refuses root);
//  3. an existing server named by $ROTATOR_TEST_MYSQL_DSN (a
//     go-sql-driver DSN for an account with every privilege, WITH GRANT
//     OPTION), for tests that ask for the default server only: over TLS
//     verified against $ROTATOR_TEST_MYSQL_CA when set (MySQL 8's
//     caching_sha2_password needs it), else without TLS. Tests that need a
//     server configured for them (no TLS, require_secure_transport) and
//     the general log are skipped there.
//
// $ROTATOR_TEST_BACKEND=containers|local|dsn (internal/testbackend; or the
// older $ROTATOR_TEST_MYSQL_MODE=container|local|dsn) forces one of them: a
// forced backend that is not available fails the test with the reason. Not
// forced, when none is available the test is skipped with the reasons, or
// fails when $ROTATOR_REQUIRE_DB=1. Each server start prints where it came
// from, and why not from the backends before it, on stderr:
// "mariadbtest: backend=containers (container IMAGE): VERSION on
// 127.0.0.1:PORT, TLS on" (CI's containers run checks these lines).
//
// MySQL 8.4, for the paths MariaDB has not (dual passwords,
// caching_sha2_password, mysql_native_password on 8.4), comes only from a
// container: [TryMySQL8] and [MySQL8] run $ROTATOR_TEST_IMAGE_MYSQL8
// (default [DefaultMySQL8Image]) set up as the MariaDB containers are, or
// give the reason there is none (no Docker engine, an image that cannot
// be had, a backend forced to local or dsn): [MySQL8] skips with it, or
// fails when $ROTATOR_REQUIRE_MYSQL8=1.
//
// Two ways to get a server, as in pgtest: [Shared] (one server per test
// binary and option set; TestMain must call [Main] or [Activate]) and
// [Start] (one server for one test, stopped in t.Cleanup).
//
// Local and container servers log every statement to the general log, so
// a test can read [Server.ReadLog] to prove that a plaintext password never
// reached the server. The helpers here never send one either: [Server.CreateUser]
// sends mysql_native_password hashes computed client-side.
package mariadbtest
