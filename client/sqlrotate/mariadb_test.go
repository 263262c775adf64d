package sqlrotate_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// mariaDB is a throwaway MariaDB (or MySQL) server from the locally
// installed binaries: a temporary data directory, 127.0.0.1 on a free
// port, root over the Unix socket with no password.
type mariaDB struct {
	dir  string
	port int
	cmd  *exec.Cmd
	// exited is closed when the server process ends.
	exited chan struct{}
}

var shared struct {
	once sync.Once
	db   *mariaDB
	skip string
	err  error
}

func TestMain(m *testing.M) {
	code := rotatortest.Hygienic(m).Run()
	if shared.db != nil {
		shared.db.stop()
	}
	os.Exit(code)
}

// sharedMariaDB starts the test binary's server on first use. With no
// binaries it skips the test, or fails it when ROTATOR_REQUIRE_DB is set.
func sharedMariaDB(t *testing.T) *mariaDB {
	t.Helper()
	shared.once.Do(func() { shared.db, shared.skip, shared.err = startMariaDB() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.skip != "" {
		if ok, _ := rotator.ParseBool(os.Getenv("ROTATOR_REQUIRE_DB")); ok {
			t.Fatalf("%s (ROTATOR_REQUIRE_DB=1 makes this a failure instead of a skip)", shared.skip)
		}
		t.Skipf("%s (set ROTATOR_REQUIRE_DB=1 to make this a failure)", shared.skip)
	}
	return shared.db
}

func findBinary(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			if p := filepath.Join(dir, n); fileExists(p) {
				return p
			}
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startMariaDB() (*mariaDB, string, error) {
	server, install := findBinary("mariadbd", "mysqld"), findBinary("mariadb-install-db", "mysql_install_db")
	if server == "" || install == "" {
		return nil, "no MariaDB server for tests: mariadbd and mariadb-install-db not found", nil
	}
	dir, err := os.MkdirTemp("", "rotator-mariadb-")
	if err != nil {
		return nil, "", err
	}
	runAs := []string{}
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root: run it as the mysql user.
		u, err := user.Lookup("mysql")
		if err != nil {
			return nil, "no MariaDB server for tests: running as root and there is no mysql user", nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, "", err
		}
		runAs = []string{"--user=mysql"}
	}
	data := filepath.Join(dir, "data")
	out, err := exec.Command(install, append([]string{"--no-defaults", "--auth-root-authentication-method=normal",
		"--skip-test-db", "--datadir=" + data}, runAs...)...).CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	m := &mariaDB{dir: dir, port: port, exited: make(chan struct{})}
	m.cmd = exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + m.socket(), "--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--skip-name-resolve", "--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(dir, "error.log"), "--innodb-buffer-pool-size=16M",
		"--max-connections=200"}, runAs...)...)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := m.admin()
		if err == nil {
			err = db.Ping()
			_ = db.Close()
		}
		if err == nil {
			return m, "", nil
		}
		select {
		case <-m.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, "", fmt.Errorf("mariadbd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, "", fmt.Errorf("mariadbd not ready after 60 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (m *mariaDB) socket() string { return filepath.Join(m.dir, "mariadbd.sock") }

// admin opens a root connection over the Unix socket, with client-side
// parameter interpolation (ALTER USER takes no placeholders).
func (m *mariaDB) admin() (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.socket()
	cfg.InterpolateParams = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// config is the application's configuration: the server, no credential.
func (m *mariaDB) config() *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	cfg.Timeout = 10 * time.Second
	return cfg
}

func (m *mariaDB) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(20 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
	}
	_ = os.RemoveAll(m.dir)
}

// createUser creates a user that logs in from 127.0.0.1.
func (m *mariaDB) createUser(t *testing.T, name, password string) {
	t.Helper()
	db, err := m.admin()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", name, password); err != nil {
		t.Fatalf("create user: %v", sqlErr(err))
	}
}

// sqlErr reduces an error of a statement that carried a password (sent
// interpolated) to its error number: the server's message may quote the
// statement.
func sqlErr(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Errorf("MySQL error %d", me.Number)
	}
	return err
}
