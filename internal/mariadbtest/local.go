//go:build unix

package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/internal/dbrig"
)

const localDirPrefix = "rotator-mariadbtest-"

// mariadbLocal lays out the local servers' directories: run as the mysql
// OS user under root; a server a dead process left running is killed
// before its directory goes.
var mariadbLocal = dbrig.Local{
	Prefix: localDirPrefix, User: "mysql",
	PIDFile: "mysqld.pid", SweepSignal: syscall.SIGKILL,
}

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

// startLocal makes a data directory in a temporary directory and starts a
// server on it. A non-empty skip says local mode is not possible here.
func startLocal(ctx context.Context, cfg config) (_ *Server, skip string, _ error) {
	bins, why := findBinaries()
	if why != "" {
		return nil, "no local MariaDB binaries (" + why + ")", nil
	}
	wd, skip, err := mariadbLocal.Prepare()
	if skip != "" || err != nil {
		return nil, skip, wrap(err)
	}
	defer wd.Discard()
	dir, cred := wd.Path, wd.Cred()
	// The server's temporary tables go in a directory of its own: in the
	// shared /tmp, servers installing at once removed one another's
	// (mariadb-install-db: "Unknown table mysql.tmp_user_sys").
	tmp, err := wd.Mkdir("tmp")
	if err != nil {
		return nil, "", wrap(err)
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
	// Without MYSQL_* and MARIADB_* variables (MYSQL_PWD, MYSQL_HOST...),
	// which would change what the tools do.
	install.Env = dbrig.ChildEnv("MYSQL_", "MARIADB_")
	install.SysProcAttr = dbrig.ProcAttr(cred, syscall.SIGKILL, true)
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
		b, err := dbrig.NewServerCert(cfg.tlsHosts)
		if err != nil {
			return nil, "", err
		}
		f, err := wd.WriteTLS(b, dbrig.TLSFiles{CA: "ca.pem", Cert: "server.pem", Key: "server.key"})
		if err != nil {
			return nil, "", wrap(err)
		}
		s.CAFile = f.CA
		s.TLS, s.CAPEM = true, b.CAPEM
		args = append(args, "--ssl-ca="+f.CA, "--ssl-cert="+f.Cert, "--ssl-key="+f.Key)
		if cfg.requireSecure {
			args = append(args, "--require-secure-transport=ON")
		}
	}

	stop, err := wd.Serve(func(port int) (func() error, error) {
		s.Port = port
		return runServer(ctx, s, bins.server, cred, dir, sock, append(args, "--port="+strconv.Itoa(port)))
	})
	if err != nil {
		return nil, "", wrap(err)
	}
	s.stopFn, s.logFn = stop, dbrig.FileReader(s.LogFile)
	return s, "", nil
}

func wrap(err error) error { return dbrig.Wrap("mariadbtest", err) }

// runServer starts the server, waits until it answers on its socket, then
// gives root a password (hashed here) and checks a TCP login.
func runServer(ctx context.Context, s *Server, server string, cred *syscall.Credential, dir, sock string, args []string) (func() error, error) {
	start := dbrig.FileSize(s.ErrorLog)
	cmd := exec.Command(server, args...)
	cmd.Dir = dir
	cmd.Env = dbrig.ChildEnv("MYSQL_", "MARIADB_")
	cmd.SysProcAttr = dbrig.ProcAttr(cred, syscall.SIGKILL, true)
	proc, err := dbrig.StartProcess(cmd, dbrig.StopStep{Signal: syscall.SIGTERM, Wait: 20 * time.Second})
	if err != nil {
		return nil, err
	}
	stop := func() error { return wrap(proc.Stop()) }
	var root *sql.DB
	err = proc.AwaitReady(ctx, dbrig.Readiness{
		Timeout: 90 * time.Second, Interval: 50 * time.Millisecond,
		Ready: func() bool {
			if _, err := os.Stat(sock); err != nil {
				return false
			}
			c := mysql.NewConfig()
			c.User, c.Net, c.Addr = "root", "unix", sock
			c.Timeout = 2 * time.Second
			conn, err := mysql.NewConnector(c)
			if err != nil {
				return false
			}
			db := sql.OpenDB(conn)
			if db.PingContext(ctx) != nil {
				db.Close()
				return false
			}
			root = db
			return true
		},
		LogFile: s.ErrorLog, Since: start,
		Port: s.Port, BindErrors: []string{"Address already in use", "Can't start server: Bind"},
	})
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("the server started but root cannot log in over TCP: %v; log:\n%s", err, dbrig.LogSince(s.ErrorLog, start))
	}
	defer db.Close()
	if err := db.QueryRowContext(rctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		_ = stop()
		return nil, err
	}
	s.MariaDB = strings.Contains(strings.ToLower(s.Version), "mariadb")
	return stop, nil
}
