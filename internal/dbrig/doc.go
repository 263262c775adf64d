// Package dbrig is what the throwaway-server rigs share: internal/pgserver
// (PostgreSQL, under internal/pgtest), internal/mariadbtest (MariaDB and
// MySQL) and internal/mototest. It knows nothing of any one server: it
// makes the temporary directory a local server lives in (marked with the
// owning process, so that a later run removes what a killed one left),
// finds a free port and retries on another when a server could not bind
// it, runs a server process as an unprivileged OS user with a
// parent-death signal and stops it by escalating signals, waits for a
// readiness check, and runs the Docker side: the bounded engine check,
// images pulled within a time limit, TLS files copied into a container,
// containers removed within a time limit. It also writes the line each
// rig prints when a server starts ("pgtest: backend=containers (...)"),
// which CI's containers run counts.
//
// It does not import the testing package (pgserver serves `rotator demo`
// too): the test-facing half (shared servers, skips, clean-up at exit) is
// internal/dbrig/registry.
package dbrig
