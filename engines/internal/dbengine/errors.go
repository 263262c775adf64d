package dbengine

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// ErrorText is the text of an engine's Error: "<engine>: <op>[ as
// "<user>"][ on <host>:<port>]: <reason>[ (<code>)]", the user quoted
// (rotator.Quote) and the address made printable (rotator.Printable). It
// holds what the Error holds and nothing else, so never a password.
func ErrorText(engine, op, user, host string, port int, reason, code string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", engine, op)
	if user != "" {
		fmt.Fprintf(&b, " as %s", rotator.Quote(user))
	}
	if host != "" {
		fmt.Fprintf(&b, " on %s", rotator.Printable(net.JoinHostPort(host, strconv.Itoa(port))))
	}
	b.WriteString(": ")
	b.WriteString(reason)
	if code != "" {
		fmt.Fprintf(&b, " (%s)", code)
	}
	return b.String()
}

// Unwrap is an engine's Error.Unwrap: its sentinels, then its cause (when
// there is one), for errors.Is and errors.As.
func Unwrap(kind []error, cause error) []error {
	out := make([]error, 0, len(kind)+1)
	out = append(out, kind...)
	if cause != nil {
		out = append(out, cause)
	}
	return out
}

// AuthRefusal is an engine guard's refusal of what a server asked for
// during authentication, before any credential was sent.
type AuthRefusal struct {
	// Method is what the server asked for, as the errors say it.
	Method string
	// OptIn is the environment variable that would allow it ("": none).
	OptIn string
	// Kind is the engine's sentinel (its ErrAuthMethod, ...).
	Kind error
}

func (e *AuthRefusal) Error() string {
	return "refused before sending any credential: the server asked for " + e.Method
}

// Unwrap gives errors.Is the engine's sentinel.
func (e *AuthRefusal) Unwrap() error { return e.Kind }
