//go:build unix

package mariadbtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/rotatorkit/rotator/internal/pgserver"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

const localDirPrefix = "rotator-mariadbtest-"

// binaries are the server and the installer.
type binaries struct{ server, install string }

// findBinaries looks for mariadbd/mysqld and mariadb-install-db/
// mysql_install_db. It returns why not when they are missing.
func findBinaries() (binaries, string) {
	var dirs []string
	if d := os.Getenv(EnvBinDir); d != "" {
		dirs = []string{d}
	} else {
		dirs = append(filepath.SplitList(os.Getenv("PATH")), "/usr/sbin", "/usr/libexec", "/usr/local/mysql/bin", "/usr/local/bin")
	}
	find := func(names ...string) string {
		for _, d := range dirs {
			for _, n := range names {
				p := filepath.Join(d, n)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return p
				}
			}
		}
		return ""
	}
	b := binaries{server: find("mariadbd", "mysqld"), install: find("mariadb-install-db", "mysql_install_db")}
	where := "in $PATH, /usr/sbin or /usr/libexec"
	if d := os.Getenv(EnvBinDir); d != "" {
		where = "in $" + EnvBinDir + "=" + d
	}
	switch {
	case b.server == "":
		return b, "no mariadbd or mysqld " + where
	case b.install == "":
		return b, "no mariadb-install-db or mysql_install_db " + where
	}
	return b, ""
}

// serverCredential: as root, the server runs as the `mysql` OS user.
func serverCredential() (*syscall.Credential, string) {
	if os.Geteuid() != 0 {
		return nil, ""
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		return nil, "running as root and there is no 'mysql' OS user to run the server as"
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, "cannot parse the 'mysql' OS user's uid/gid"
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, ""
}

// childEnv is this process's environment without MYSQL_* variables
// (MYSQL_PWD, MYSQL_HOST...), which would change what the tools do.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MYSQL_") || strings.HasPrefix(kv, "MARIADB_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// startLocal makes a data directory in a temporary directory and starts a
// server on it. A non-empty skip says local mode is not possible here.
func startLocal(ctx context.Context, cfg config) (_ *Server, skip string, _ error) {
	bins, why := findBinaries()
	if why != "" {
		return nil, "no local MariaDB binaries (" + why + ")", nil
	}
	cred, why := serverCredential()
	if why != "" {
		return nil, why, nil
	}
	sweepStale()
	dir, err := os.MkdirTemp("", localDirPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %w", err)
	}
	chown := func(p string) error {
		if cred == nil {
			return nil
		}
		return os.Chown(p, int(cred.Uid), int(cred.Gid))
	}
	if err := chown(dir); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: chown %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %w", err)
	}
	// The server's temporary tables go in a directory of its own: in the
	// shared /tmp, servers installing at once removed one another's
	// (mariadb-install-db: "Unknown table mysql.tmp_user_sys").
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %w", err)
	}
	if err := chown(tmp); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: chown %s: %w", tmp, err)
	}
	writeFile := func(name string, data []byte, mode os.FileMode) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			return "", fmt.Errorf("mariadbtest: %w", err)
		}
		return p, chown(p)
	}

	s := &Server{
		Mode:                   ModeLocal,
		source:                 "local binaries " + bins.server,
		Host:                   "127.0.0.1",
		SuperUser:              "root",
		SuperHost:              "127.0.0.1",
		SuperPassword:          randomHex(16),
		DataDir:                filepath.Join(dir, "data"),
		LogFile:                filepath.Join(dir, "general.log"),
		ErrorLog:               filepath.Join(dir, "error.log"),
		RequireSecureTransport: cfg.requireSecure,
	}
	install := exec.CommandContext(ctx, bins.install, "--no-defaults", "--datadir="+s.DataDir,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve", "--tmpdir="+tmp)
	install.Dir = dir
	install.Env = childEnv()
	install.SysProcAttr = procAttr(cred)
	if out, err := install.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %s: %v\n%s", filepath.Base(bins.install), err, out)
	}

	sock := filepath.Join(dir, "mysqld.sock")
	args := []string{
		"--no-defaults",
		"--datadir=" + s.DataDir,
		"--tmpdir=" + tmp,
		"--bind-address=127.0.0.1",
		"--socket=" + sock,
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--log-error=" + s.ErrorLog,
		"--general-log=1",
		"--general-log-file=" + s.LogFile,
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M",
		"--performance-schema=OFF",
		"--max-connections=400",
		"--character-set-server=utf8mb4",
		"--plugin-load-add=auth_ed25519",
	}
	if cfg.tls {
		b, err := pgserver.NewServerCert(cfg.tlsHosts)
		if err != nil {
			return nil, "", err
		}
		if s.CAFile, err = writeFile("ca.pem", b.CAPEM, 0o644); err != nil {
			return nil, "", err
		}
		cert, err := writeFile("server.pem", b.CertPEM, 0o644)
		if err != nil {
			return nil, "", err
		}
		key, err := writeFile("server.key", b.KeyPEM, 0o600)
		if err != nil {
			return nil, "", err
		}
		s.TLS, s.CAPEM = true, b.CAPEM
		args = append(args, "--ssl-ca="+s.CAFile, "--ssl-cert="+cert, "--ssl-key="+key)
		if cfg.requireSecure {
			args = append(args, "--require-secure-transport=ON")
		}
	}

	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, "", fmt.Errorf("mariadbtest: free port: %w", err)
		}
		s.Port = port
		stop, err := runServer(ctx, s, bins.server, cred, dir, sock, append(args, "--port="+strconv.Itoa(port)))
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

// runServer starts the server, waits until it answers on its socket, then
// gives root a password (hashed here) and checks a TCP login.
func runServer(ctx context.Context, s *Server, server string, cred *syscall.Credential, dir, sock string, args []string) (func() error, error) {
	start := fileSize(s.ErrorLog)
	cmd := exec.Command(server, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mariadbtest: start %s: %w", filepath.Base(server), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			return nil
		case <-time.After(20 * time.Second):
		}
		_ = cmd.Process.Kill()
		<-done
		return errors.New("mariadbtest: the server did not stop in 20s; killed")
	}

	deadline := time.Now().Add(90 * time.Second)
	var root *sql.DB
	for root == nil {
		select {
		case err := <-done:
			log := logSince(s.ErrorLog, start)
			if strings.Contains(log, "Address already in use") || strings.Contains(log, "Can't start server: Bind") {
				return nil, fmt.Errorf("%w: %d", errPortTaken, s.Port)
			}
			return nil, fmt.Errorf("mariadbtest: the server exited during start-up (%v); log:\n%s", err, log)
		case <-ctx.Done():
			_ = stop()
			return nil, fmt.Errorf("mariadbtest: start-up interrupted: %w", ctx.Err())
		default:
		}
		if _, err := os.Stat(sock); err == nil {
			c := mysql.NewConfig()
			c.User, c.Net, c.Addr = "root", "unix", sock
			c.Timeout = 2 * time.Second
			if conn, err := mysql.NewConnector(c); err == nil {
				db := sql.OpenDB(conn)
				if db.PingContext(ctx) == nil {
					root = db
					break
				}
				db.Close()
			}
		}
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("mariadbtest: the server is not ready after 90s; log:\n%s", logSince(s.ErrorLog, start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer root.Close()
	if err := secureAccounts(ctx, root, s); err != nil {
		_ = stop()
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	db, err := s.Connect(rctx, s.SuperUser, s.SuperPassword)
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("mariadbtest: the server started but root cannot log in over TCP: %v; log:\n%s", err, logSince(s.ErrorLog, start))
	}
	defer db.Close()
	if err := db.QueryRowContext(rctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		_ = stop()
		return nil, fmt.Errorf("mariadbtest: %w", err)
	}
	s.MariaDB = strings.Contains(strings.ToLower(s.Version), "mariadb")
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

// sweepStale removes directories left by test processes that died without
// stopping their servers (the parent-death signal kills the server; its
// directory stays).
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
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(owner) {
			continue
		}
		if pb, err := os.ReadFile(filepath.Join(dir, "mysqld.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(pb))); err == nil && alive(pid) {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				if !bytes.Contains(cmdline, []byte(dir)) {
					continue
				}
				_ = syscall.Kill(pid, syscall.SIGKILL)
				for i := 0; i < 100 && alive(pid); i++ {
					time.Sleep(20 * time.Millisecond)
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
