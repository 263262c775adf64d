package rotatortest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogBuffer collects log output from several goroutines (a handler invoked
// by the server, a command's background server) for assertions.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is safe for concurrent use.
// Everything written is captured for the test binary's secret hygiene
// check (see [Hygienic]): as metric text when it is an Embedded Metric
// Format line, else as log text.
func (l *LogBuffer) Write(p []byte) (int, error) {
	kind := "log"
	if bytes.HasPrefix(p, []byte(`{"_aws"`)) {
		kind = "metric"
	}
	Capture(kind, string(p))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a JSON logger at debug level writing into the buffer: the
// format a rotation function logs in Lambda, with every line kept.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// AssertNoSecrets fails the test if any of values (passwords, keys) appears
// in text. Empty values are ignored. The failure message never quotes a
// value, so the test log does not leak what it looked for.
func AssertNoSecrets(t testing.TB, what, text string, values ...string) {
	t.Helper()
	for i, v := range values {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("%s holds secret value #%d", what, i+1)
		}
	}
}
