package dbrig

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/rotatorkit/rotator/internal/testbackend"
	"github.com/rotatorkit/rotator/rotator"
)

// ChildEnv is this process's environment without the variables beginning
// with any of drop (PG*, MYSQL_*: they would change what a server's tools
// do), with LC_ALL=C.
func ChildEnv(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// FileSize is the size of the file at path, 0 when it cannot be read: the
// offset LogSince starts at.
func FileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns what the file at path holds from offset off on (what a
// server logged during this start), "" when it cannot be read.
func LogSince(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// Wrap prefixes err with a package's name ("pgserver: ..."); nil stays
// nil.
func Wrap(prefix string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// FileReader returns a function that reads the file at path: a local
// server's log reader.
func FileReader(path string) func() (string, error) {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		return string(b), err
	}
}

// RandomHex returns n random bytes in hex: a rig's superuser password.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomPassword returns n printable ASCII characters drawn from the whole
// printable range (space through tilde), quotes, backslash and dollar
// included.
func RandomPassword(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = ' ' + b[i]%95
	}
	return string(b)
}

// UniqueName returns prefix, "_" and n random bytes in hex.
func UniqueName(prefix string, n int) string {
	return prefix + "_" + RandomHex(n)
}

// Start describes a server start for StartLine.
type Start struct {
	// Rig names the rig ("pgtest"); Mode is where the server came from
	// ("container", "local", "dsn"); Source says more ("container IMAGE",
	// "local binaries PATH"; default Mode).
	Rig, Mode, Source string
	// Detail follows the source: "PostgreSQL 16.4 on 127.0.0.1:5432, TLS on".
	Detail string
	// Skipped says why each backend tried before this one was not used.
	Skipped []string
}

// StartLine is the line a rig writes to stderr when a server starts:
// "RIG: backend=BACKEND (SOURCE): DETAIL", then a "RIG:   before it: WHY"
// line for each backend skipped. .ci/test-containers counts the first
// lines by backend, and fails a containers run in which one says another
// backend: the mode "container" is written as the backend's name,
// "containers".
func StartLine(s Start) string {
	backend := s.Mode
	if backend == "container" {
		backend = string(testbackend.Containers)
	}
	source := s.Source
	if source == "" {
		source = s.Mode
	}
	var w strings.Builder
	fmt.Fprintf(&w, "%s: backend=%s (%s): %s\n", s.Rig, backend, source, s.Detail)
	for _, r := range s.Skipped {
		fmt.Fprintf(&w, "%s:   before it: %s\n", s.Rig, r)
	}
	return w.String()
}

// LogStart writes StartLine(s) to stderr, which `go test -v` and a failing
// package's output show.
func LogStart(s Start) { fmt.Fprint(os.Stderr, StartLine(s)) }

// Secret returns an RDS-style secret of fields (engine, host, port,
// username, password...) with the TLS fields of a server: "ssl": useTLS,
// and the CA's PEM in "sslrootcert" when useTLS and caPEM is not empty.
// It panics on values that do not make a secret (rigs pass plain ones).
func Secret(fields map[string]any, useTLS bool, caPEM []byte) *rotator.Secret {
	m := maps.Clone(fields)
	m["ssl"] = useTLS
	if useTLS && len(caPEM) > 0 {
		m["sslrootcert"] = string(caPEM)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	sec, err := rotator.ParseSecret(string(b))
	if err != nil {
		panic(err)
	}
	return sec
}
