package testmain

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// M is what runs a test binary's tests: *testing.M, or a wrapper of it
// such as rotatortest.Hygienic's.
type M interface{ Run() int }

// Run runs the tests, then stop, and exits with the tests' code. On SIGINT
// or SIGTERM it runs stop at once and exits with 128 + the signal number.
// name prefixes the message it prints when a signal arrives.
func Run(m M, name string, stop func()) {
	os.Exit(run(m, name, stop, func(code int) { os.Exit(code) }))
}

func run(m M, name string, stop func(), exit func(int)) int {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigc
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "%s: %v: stopping test servers\n", name, sig)
		stop()
		code := 1
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		exit(code)
	}()
	code := m.Run()
	signal.Stop(sigc)
	close(sigc)
	stop()
	return code
}
