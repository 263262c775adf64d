package dbrig

import (
	"errors"
	"fmt"
	"net"
)

// ErrPortTaken is what a start function given to OnFreePort returns
// (wrapped) when its server could not listen on the port it was given:
// another process took the port between FreePort and the server's bind.
var ErrPortTaken = errors.New("port taken")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PortAttempts is how many ports OnFreePort tries.
const PortAttempts = 3

// OnFreePort calls start with a free port until it succeeds, returns an
// error that is not ErrPortTaken, or PortAttempts ports were taken; it
// returns start's last error.
func OnFreePort(start func(port int) error) error {
	var lastErr error
	for range PortAttempts {
		port, err := FreePort()
		if err != nil {
			return fmt.Errorf("free port: %w", err)
		}
		lastErr = start(port)
		if lastErr == nil || !errors.Is(lastErr, ErrPortTaken) {
			return lastErr
		}
	}
	return lastErr
}
