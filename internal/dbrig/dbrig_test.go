package dbrig

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOnFreePortRetriesOnlyTakenPorts(t *testing.T) {
	other := errors.New("other failure")
	for _, tc := range []struct {
		name      string
		errs      []error // start's answers, in turn
		wantCalls int
		wantErr   error
	}{
		{name: "first port works", errs: []error{nil}, wantCalls: 1},
		{name: "taken, then works", errs: []error{fmt.Errorf("%w: 1", ErrPortTaken), nil}, wantCalls: 2},
		{name: "another failure ends it", errs: []error{other}, wantCalls: 1, wantErr: other},
		{name: "taken every time", errs: []error{ErrPortTaken, ErrPortTaken, ErrPortTaken, nil}, wantCalls: PortAttempts, wantErr: ErrPortTaken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := OnFreePort(func(port int) error {
				if port <= 0 || port > 65535 {
					t.Fatalf("port %d", port)
				}
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.wantCalls {
				t.Errorf("start called %d times, want %d", calls, tc.wantCalls)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("OnFreePort = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestFreePortIsFree(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d from FreePort cannot be listened on: %v", port, err)
	}
	l.Close()
}

func TestChildEnvDropsPrefixes(t *testing.T) {
	t.Setenv("PGPASSWORD", "x")
	t.Setenv("MYSQL_PWD", "y")
	t.Setenv("ROTATOR_DBRIG_KEEP", "z")
	env := strings.Join(ChildEnv("PG", "MYSQL_"), "\n")
	for _, gone := range []string{"PGPASSWORD=", "MYSQL_PWD="} {
		if strings.Contains(env, gone) {
			t.Errorf("ChildEnv kept %s", gone)
		}
	}
	for _, kept := range []string{"ROTATOR_DBRIG_KEEP=z", "LC_ALL=C"} {
		if !strings.Contains(env, kept) {
			t.Errorf("ChildEnv lacks %s", kept)
		}
	}
}

func TestLogSince(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	off := FileSize(p)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "during\n")
	f.Close()
	if got := LogSince(p, off); got != "during\n" {
		t.Errorf("LogSince = %q", got)
	}
	if got := LogSince(p, 1<<20); got != "" {
		t.Errorf("LogSince past the end = %q", got)
	}
	if got := FileSize(filepath.Join(t.TempDir(), "none")); got != 0 {
		t.Errorf("FileSize of a missing file = %d", got)
	}
}

// The line CI's containers run counts: "RIG: backend=containers (".
func TestStartLine(t *testing.T) {
	got := StartLine(Start{Rig: "pgtest", Mode: "container", Source: "container img:1", Detail: "PostgreSQL 16 on 127.0.0.1:1, TLS on",
		Skipped: []string{"no local binaries"}})
	want := "pgtest: backend=containers (container img:1): PostgreSQL 16 on 127.0.0.1:1, TLS on\npgtest:   before it: no local binaries\n"
	if got != want {
		t.Errorf("StartLine =\n%q\nwant\n%q", got, want)
	}
	got = StartLine(Start{Rig: "mariadbtest", Mode: "dsn", Detail: "d"})
	if want := "mariadbtest: backend=dsn (dsn): d\n"; got != want {
		t.Errorf("StartLine = %q, want %q", got, want)
	}
}

func TestSecret(t *testing.T) {
	fields := map[string]any{"engine": "postgres", "host": "h", "port": 5, "username": "u", "password": "p"}
	asMap := func(useTLS bool) map[string]any {
		t.Helper()
		b, err := json.Marshal(Secret(fields, useTLS, []byte("PEM")))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := asMap(true)
	if m["ssl"] != true || m["sslrootcert"] != "PEM" || m["port"] != float64(5) {
		t.Errorf("TLS secret = %v", m)
	}
	if _, ok := fields["ssl"]; ok {
		t.Error("Secret changed its argument")
	}
	m = asMap(false)
	if _, ok := m["sslrootcert"]; ok || m["ssl"] != false {
		t.Errorf("plaintext secret = %v", m)
	}
}

func TestRandomPasswordAndNames(t *testing.T) {
	p := RandomPassword(200)
	if len(p) != 200 {
		t.Fatalf("len %d", len(p))
	}
	for _, c := range []byte(p) {
		if c < ' ' || c > '~' {
			t.Fatalf("byte %q outside printable ASCII", c)
		}
	}
	a, b := UniqueName("r", 4), UniqueName("r", 4)
	if a == b || len(a) != len("r_")+8 || !strings.HasPrefix(a, "r_") {
		t.Errorf("UniqueName = %q, %q", a, b)
	}
	if err := Wrap("rig", nil); err != nil {
		t.Errorf("Wrap(nil) = %v", err)
	}
	inner := errors.New("inner")
	if err := Wrap("rig", inner); !errors.Is(err, inner) || err.Error() != "rig: inner" {
		t.Errorf("Wrap = %v", err)
	}
}

func TestWorkDir(t *testing.T) {
	prefix := "rotator-dbrig-test-" + RandomHex(3) + "-"
	d, err := NewWorkDir(prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove() })
	if !strings.HasPrefix(filepath.Base(d.Path), prefix) {
		t.Fatalf("dir %s", d.Path)
	}
	if b, err := os.ReadFile(d.File(ownerFile)); err != nil || string(b) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("owner file = %q, %v", b, err)
	}
	if sub, err := d.Mkdir("tmp"); err != nil {
		t.Fatal(err)
	} else if fi, err := os.Stat(sub); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("Mkdir made %v, %v", fi, err)
	}
	b, err := NewServerCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.WriteTLS(b, TLSFiles{CA: "ca.pem", Cert: "c.pem", Key: "k.pem"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(f.Key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if got, _ := os.ReadFile(f.CA); string(got) != string(b.CAPEM) {
		t.Fatal("CA file does not hold the CA")
	}

	// A directory is discarded until a server started in it.
	d.Discard()
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Fatalf("Discard left %s: %v", d.Path, err)
	}
	d, err = NewWorkDir(prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop, err := d.Serve(func(port int) (func() error, error) {
		return func() error { stopped = true; return nil }, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Discard()
	if _, err := os.Stat(d.Path); err != nil {
		t.Fatalf("Discard removed a served directory: %v", err)
	}
	if err := stop(); err != nil || !stopped {
		t.Fatalf("stop = %v, stopped %v", err, stopped)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Fatalf("stop left %s: %v", d.Path, err)
	}
}
