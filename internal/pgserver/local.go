//go:build unix

package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const localDirPrefix = "rotator-pgserver-"

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

// serverCredential is the OS identity the server runs as: nil (this
// process's) unless we are root, then the postgres user's.
func serverCredential() (*syscall.Credential, string) {
	if os.Geteuid() != 0 {
		return nil, ""
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, "running as root and there is no 'postgres' OS user to run the server as (PostgreSQL refuses to run as root)"
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, "cannot parse the 'postgres' OS user's uid/gid"
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, ""
}

// childEnv is this process's environment without PG* variables (which
// would change how initdb and postgres behave).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startLocal makes a cluster in a temporary directory and starts postgres
// on it. A non-empty skip says local mode is not possible here.
func startLocal(ctx context.Context, opts Options, bindir string) (_ *Server, skip string, _ error) {
	cred, why := serverCredential()
	if why != "" {
		return nil, why, nil
	}
	sweepStale()

	dir, err := os.MkdirTemp("", localDirPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("pgserver: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	// Written first, so that a crashed run's directory can be recognised
	// and removed by a later one.
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, "", fmt.Errorf("pgserver: %w", err)
	}
	chown := func(path string) error {
		if cred == nil {
			return nil
		}
		return os.Chown(path, int(cred.Uid), int(cred.Gid))
	}
	if err := chown(dir); err != nil {
		return nil, "", fmt.Errorf("pgserver: chown %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, "", fmt.Errorf("pgserver: %w", err)
	}
	writeFile := func(name string, data []byte, mode os.FileMode) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			return "", fmt.Errorf("pgserver: %w", err)
		}
		return p, chown(p)
	}

	s := &Server{
		Mode:               ModeLocal,
		Host:               "127.0.0.1",
		SuperUser:          "postgres",
		SuperPassword:      randomHex(16),
		Database:           "postgres",
		DataDir:            filepath.Join(dir, "data"),
		LogFile:            filepath.Join(dir, "postgres.log"),
		BinDir:             bindir,
		PasswordEncryption: opts.PasswordEncryption,
		HostAuth:           opts.HostAuth,
	}

	pwfile, err := writeFile("pwfile", []byte(s.SuperPassword+"\n"), 0o600)
	if err != nil {
		return nil, "", err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"),
		"-D", s.DataDir, "-U", s.SuperUser, "--pwfile="+pwfile,
		"--auth-host="+opts.PasswordEncryption, "--auth-local="+opts.PasswordEncryption,
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = childEnv()
	initdb.SysProcAttr = procAttr(cred, syscall.SIGKILL, false)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("pgserver: initdb: %v\n%s", err, out)
	}
	_ = os.Remove(pwfile)

	// Our own pg_hba.conf: password authentication for every connection
	// (TCP ones with opts.HostAuth).
	hba := fmt.Sprintf("local all all %[1]s\nhost all all 127.0.0.1/32 %[2]s\nhost all all ::1/128 %[2]s\n", opts.PasswordEncryption, opts.HostAuth)
	hbaFile := filepath.Join(s.DataDir, "pg_hba.conf")
	if err := os.WriteFile(hbaFile, []byte(hba), 0o600); err != nil {
		return nil, "", fmt.Errorf("pgserver: %w", err)
	}
	if err := chown(hbaFile); err != nil {
		return nil, "", fmt.Errorf("pgserver: %w", err)
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
		b, err := NewServerCert(opts.TLSHosts)
		if err != nil {
			return nil, "", err
		}
		if s.CAFile, err = writeFile("ca.crt", b.CAPEM, 0o644); err != nil {
			return nil, "", err
		}
		certFile, err := writeFile("server.crt", b.CertPEM, 0o644)
		if err != nil {
			return nil, "", err
		}
		keyFile, err := writeFile("server.key", b.KeyPEM, 0o600)
		if err != nil {
			return nil, "", err
		}
		s.TLS, s.CAPEM, s.TLSHosts = true, b.CAPEM, slices.Clone(opts.TLSHosts)
		args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file="+certFile, "-c", "ssl_key_file="+keyFile)
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", fmt.Errorf("pgserver: free port: %w", err)
		}
		s.Port = port
		stop, err := runPostgres(ctx, s, bindir, cred, dir, append(args, "-p", strconv.Itoa(port)))
		if err == nil {
			s.stopFn = func() error {
				err := stop()
				if rerr := os.RemoveAll(dir); err == nil {
					err = rerr
				}
				return err
			}
			s.logFn = func() (string, error) {
				b, err := os.ReadFile(s.LogFile)
				return string(b), err
			}
			ok = true
			return s, "", nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, "", lastErr
}

var errPortTaken = errors.New("port taken")

// runPostgres starts the postmaster and waits until it accepts password
// logins. The returned function stops it.
func runPostgres(ctx context.Context, s *Server, bindir string, cred *syscall.Credential, dir string, args []string) (func() error, error) {
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	start := fileSize(s.LogFile)

	cmd := exec.Command(filepath.Join(bindir, "postgres"), args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	// If this process dies without stopping the server, the kernel sends
	// the postmaster SIGQUIT (immediate shutdown; Linux). Its own process
	// group: a terminal's Ctrl-C reaches us, and we stop the server in order.
	cmd.SysProcAttr = procAttr(cred, syscall.SIGQUIT, true)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgserver: start postgres: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-done:
			return nil
		case <-time.After(15 * time.Second):
		}
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
			return nil
		case <-time.After(5 * time.Second):
		}
		_ = cmd.Process.Kill()
		<-done
		return errors.New("pgserver: postgres did not stop in 20s; killed")
	}

	deadline := time.Now().Add(60 * time.Second)
	pidFile := filepath.Join(s.DataDir, "postmaster.pid")
	for {
		select {
		case err := <-done:
			log := logSince(s.LogFile, start)
			if strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use") {
				return nil, fmt.Errorf("%w: %d", errPortTaken, s.Port)
			}
			return nil, fmt.Errorf("pgserver: postgres exited during start-up (%v); log:\n%s", err, log)
		case <-ctx.Done():
			_ = stop()
			return nil, fmt.Errorf("pgserver: start-up interrupted: %w", ctx.Err())
		default:
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			lines := strings.Split(string(b), "\n")
			// Line 8 is the postmaster status, "ready" once it accepts
			// connections (PostgreSQL 10 and later).
			if len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("pgserver: postgres not ready after 60s; log:\n%s", logSince(s.LogFile, start))
		}
		time.Sleep(15 * time.Millisecond)
	}
	if err := s.readVersion(ctx); err != nil {
		_ = stop()
		return nil, fmt.Errorf("pgserver: postgres started but the superuser cannot connect: %v; log:\n%s", err, logSince(s.LogFile, start))
	}
	return stop, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func logSince(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// sweepStale removes directories left by processes that died without
// stopping their servers. A directory is stale when the process named in
// its owner.pid is gone; a postmaster still running from it (which the
// parent-death signal should have stopped) is stopped first, after checking
// that its command line names that directory.
func sweepStale() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), localDirPrefix) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // being created, or not ours
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(owner) {
			continue
		}
		if pb, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(pb), "\n")
			if pm, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && alive(pm) {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pm))
				if !bytes.Contains(cmdline, []byte(dir)) {
					continue // pid reused by something else; leave it alone
				}
				_ = syscall.Kill(pm, syscall.SIGQUIT)
				for i := 0; i < 100 && alive(pm); i++ {
					time.Sleep(20 * time.Millisecond)
				}
				if alive(pm) {
					continue
				}
			}
		}
		_ = os.RemoveAll(dir)
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
