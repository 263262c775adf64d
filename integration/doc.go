// Package integration holds the end-to-end tests: the real bootstrap
// binaries, built as `make build` builds them, run as Lambda runs them
// (internal/lambdaruntime, and aws-lambda-rie when it is on PATH), invoked
// by rotatortest's Secrets Manager as Secrets Manager invokes a rotation
// function, against real database servers (internal/pgtest). Tests that
// find no database server skip, unless ROTATOR_REQUIRE_DB=1.
package integration
