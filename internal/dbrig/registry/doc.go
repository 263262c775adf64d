// Package registry is the test-facing half of the throwaway-server rigs
// (internal/pgtest, internal/mariadbtest, internal/mototest): it keeps
// every server a rig started, so that TestMain (through internal/testmain)
// stops them when the tests end or a signal arrives; it shares one server
// per test binary and option set; and it turns "no server here" into a
// skip, or a failure when the rig's require variable says so.
package registry
