package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// logBuffer collects the engine's log lines for assertions and echoes them
// to the test log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

// newEngine returns an engine that ignores the environment's defaults (and
// any CA bundle shipped on this machine) and logs into the returned buffer.
func newEngine(t *testing.T, opts ...Option) (*Engine, *logBuffer) {
	t.Helper()
	for _, v := range []string{EnvCABundle, EnvSSLMode, EnvAllowMD5, EnvAllowCleartext, "LAMBDA_TASK_ROOT"} {
		t.Setenv(v, "")
	}
	noLayer(t)
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", lb.String())
		}
	})
	l := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(append([]Option{WithLogger(l)}, opts...)...), lb
}

// noLayer points the layer's CA bundle path at a file that does not exist,
// for the test.
func noLayer(t *testing.T) {
	t.Helper()
	old := layerCABundlePath
	layerCABundlePath = filepath.Join(t.TempDir(), "no-layer", CABundleFile)
	t.Cleanup(func() { layerCABundlePath = old })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// del, as a value in with, removes the field.
var del = &struct{}{}

// with returns a copy of s with fields replaced (any JSON value).
func with(t *testing.T, s *rotator.Secret, fields map[string]any) *rotator.Secret {
	t.Helper()
	out := s.Clone()
	for k, v := range fields {
		if v == del {
			out.Delete(k)
		} else if err := out.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// noSecrets fails the test when err's text holds any of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error text holds a secret: %v", err)
		}
	}
}

// wantErr checks err against the wanted sentinels (none: no error).
func wantErr(t *testing.T, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("error %q does not wrap %q", err, w)
		}
	}
}

// queryOne runs a one-value query as user or fails the test.
func queryString(t *testing.T, s *pgtest.Server, user, password, sql string, args ...any) string {
	t.Helper()
	var out string
	if err := s.Conn(t, user, password, "").QueryRow(context.Background(), sql, args...).Scan(&out); err != nil {
		t.Fatalf("%s as %q: %v", sql, user, err)
	}
	return out
}

// serverVersion is the server's server_version_num.
func serverVersion(t *testing.T, s *pgtest.Server) int {
	t.Helper()
	v, err := strconv.Atoi(queryString(t, s, s.SuperUser, s.SuperPassword, "SHOW server_version_num"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// allowManage gives master what PostgreSQL 16 and later require of a
// CREATEROLE user to alter role or grant it: ADMIN OPTION on it (without
// inheriting its privileges or being able to SET ROLE to it). Earlier
// versions need CREATEROLE only.
func allowManage(t *testing.T, s *pgtest.Server, master, role string) {
	t.Helper()
	if serverVersion(t, s) < 160000 {
		return
	}
	s.Exec(t, "GRANT "+pgx.Identifier{role}.Sanitize()+" TO "+pgx.Identifier{master}.Sanitize()+" WITH ADMIN TRUE, INHERIT FALSE, SET FALSE")
}
