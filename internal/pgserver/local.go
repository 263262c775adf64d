//go:build unix

package pgserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rotatorkit/rotator/internal/dbrig"
)

const localDirPrefix = "rotator-pgserver-"

// pgLocal lays out the local servers' directories: run as the postgres OS
// user under root; a postmaster a dead process left running gets SIGQUIT
// (immediate shutdown) before its directory goes.
var pgLocal = dbrig.Local{
	Prefix: localDirPrefix, User: "postgres", Note: " (PostgreSQL refuses to run as root)",
	PIDFile: "data/postmaster.pid", SweepSignal: syscall.SIGQUIT,
}

// findBinaries returns the directory holding initdb and postgres, or "" and
// why not. dir "" means search; what names a given dir in the reason, and
// envName is the variable that sets it.
func findBinaries(dir, what, envName string) (string, string) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if has(dir) {
			return dir, ""
		}
		return "", what + " holds no initdb and postgres"
	}
	var candidates []string
	if pgc, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgc, "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/opt/postgresql@*/bin", "/opt/homebrew/opt/postgresql@*/bin"} {
		m, _ := filepath.Glob(pattern)
		sort.Slice(m, func(i, j int) bool { return versionOf(m[i]) > versionOf(m[j]) })
		candidates = append(candidates, m...)
	}
	candidates = append(candidates, "/usr/local/pgsql/bin")
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, c := range candidates {
		if has(c) {
			return c, ""
		}
	}
	return "", "initdb and postgres not found via pg_config, /usr/lib/postgresql/*/bin or $PATH; set $" + envName
}

// versionOf extracts the major version from paths like
// /usr/lib/postgresql/15/bin, to try the newest first.
func versionOf(path string) int {
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}

// startLocal makes a cluster in a temporary directory and starts postgres
// on it. A non-empty skip says local mode is not possible here.
func startLocal(ctx context.Context, opts Options, bindir string) (_ *Server, skip string, _ error) {
	wd, skip, err := pgLocal.Prepare()
	if skip != "" || err != nil {
		return nil, skip, wrap(err)
	}
	defer wd.Discard()
	dir, cred := wd.Path, wd.Cred()

	s := &Server{
		Mode:               ModeLocal,
		Host:               "127.0.0.1",
		SuperUser:          "postgres",
		SuperPassword:      randomHex(16),
		Database:           "postgres",
		DataDir:            wd.File("data"),
		LogFile:            wd.File("postgres.log"),
		BinDir:             bindir,
		PasswordEncryption: opts.PasswordEncryption,
		HostAuth:           opts.HostAuth,
	}

	pwfile, err := wd.WriteFile("pwfile", []byte(s.SuperPassword+"\n"), 0o600)
	if err != nil {
		return nil, "", wrap(err)
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"),
		"-D", s.DataDir, "-U", s.SuperUser, "--pwfile="+pwfile,
		"--auth-host="+opts.PasswordEncryption, "--auth-local="+opts.PasswordEncryption,
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = dbrig.ChildEnv("PG")
	initdb.SysProcAttr = dbrig.ProcAttr(cred, syscall.SIGKILL, false)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("pgserver: initdb: %v\n%s", err, out)
	}
	_ = os.Remove(pwfile)

	// Our own pg_hba.conf: password authentication for every connection
	// (TCP ones with opts.HostAuth).
	hba := fmt.Sprintf("local all all %[1]s\nhost all all 127.0.0.1/32 %[2]s\nhost all all ::1/128 %[2]s\n", opts.PasswordEncryption, opts.HostAuth)
	if _, err := wd.WriteFile(filepath.Join("data", "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return nil, "", wrap(err)
	}

	args := []string{
		"-D", s.DataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + dir,
		"-c", "logging_collector=off",
		"-c", "password_encryption=" + opts.PasswordEncryption,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=60",
		"-c", "huge_pages=off",
	}
	if opts.LogStatements {
		args = append(args, "-c", "log_statement=all")
	}
	if len(opts.TLSHosts) > 0 {
		b, err := dbrig.NewServerCert(opts.TLSHosts)
		if err != nil {
			return nil, "", err
		}
		f, err := wd.WriteTLS(b, dbrig.TLSFiles{CA: "ca.crt", Cert: "server.crt", Key: "server.key"})
		if err != nil {
			return nil, "", wrap(err)
		}
		s.CAFile = f.CA
		args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file="+f.Cert, "-c", "ssl_key_file="+f.Key)
		s.TLS, s.CAPEM, s.TLSHosts = true, b.CAPEM, slices.Clone(opts.TLSHosts)
	}

	stop, err := wd.Serve(func(port int) (func() error, error) {
		s.Port = port
		return runPostgres(ctx, s, bindir, cred, dir, append(args, "-p", strconv.Itoa(port)))
	})
	if err != nil {
		return nil, "", wrap(err)
	}
	s.stopFn, s.logFn = stop, dbrig.FileReader(s.LogFile)
	return s, "", nil
}

func wrap(err error) error { return dbrig.Wrap("pgserver", err) }

// runPostgres starts the postmaster and waits until it accepts password
// logins. The returned function stops it.
func runPostgres(ctx context.Context, s *Server, bindir string, cred *syscall.Credential, dir string, args []string) (func() error, error) {
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	start := dbrig.FileSize(s.LogFile)

	cmd := exec.Command(filepath.Join(bindir, "postgres"), args...)
	cmd.Dir = dir
	cmd.Env = dbrig.ChildEnv("PG")
	cmd.Stdout, cmd.Stderr = logf, logf
	// If this process dies without stopping the server, the kernel sends
	// the postmaster SIGQUIT (immediate shutdown; Linux). Its own process
	// group: a terminal's Ctrl-C reaches us, and we stop the server in order.
	cmd.SysProcAttr = dbrig.ProcAttr(cred, syscall.SIGQUIT, true)
	// SIGINT: fast shutdown; SIGQUIT: immediate shutdown.
	proc, err := dbrig.StartProcess(cmd, dbrig.StopStep{Signal: syscall.SIGINT, Wait: 15 * time.Second}, dbrig.StopStep{Signal: syscall.SIGQUIT, Wait: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	pidFile := filepath.Join(s.DataDir, "postmaster.pid")
	err = proc.AwaitReady(ctx, dbrig.Readiness{
		Timeout: 60 * time.Second, Interval: 15 * time.Millisecond,
		Ready: func() bool {
			b, err := os.ReadFile(pidFile)
			// Line 8 is the postmaster status, "ready" once it accepts
			// connections (PostgreSQL 10 and later).
			lines := strings.Split(string(b), "\n")
			return err == nil && len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready"
		},
		LogFile: s.LogFile, Since: start,
		Port: s.Port, BindErrors: []string{"could not bind", "Address already in use"},
	})
	if err != nil {
		return nil, err
	}
	if err := s.readVersion(ctx); err != nil {
		_ = proc.Stop()
		return nil, fmt.Errorf("postgres started but the superuser cannot connect: %v; log:\n%s", err, dbrig.LogSince(s.LogFile, start))
	}
	return func() error { return wrap(proc.Stop()) }, nil
}
