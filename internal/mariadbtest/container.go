package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/internal/testbackend"
)

// DefaultImage is the container image used when $ROTATOR_TEST_IMAGE_MARIADB
// is not set: Docker Hub's MariaDB 10.11. .ci/docker builds
// rotator-test/mariadb (.ci/images/mariadb), whose entrypoint takes the
// same variables and command.
const DefaultImage = "mariadb:10.11"

// ContainerLabel labels the containers this package starts (.ci/docker
// removes the exited ones a killed test binary left behind).
const ContainerLabel = dbrig.ContainerLabel

// readyTimeout bounds the wait for a container's server (dbrig bounds the
// engine check, the pull and the removal).
const readyTimeout = 90 * time.Second

// Paths in the container: the TLS files (copied in owned by root), the
// entrypoint that gives the key to the mysql user before running the
// image's own entrypoint (found by the same name in Docker Hub's mariadb
// image and in rotator-test/mariadb), and the general log.
const (
	containerDir       = "/etc/rotator-mariadbtest/"
	containerTLSScript = "/usr/local/bin/rotator-mariadbtest-tls.sh"
	containerLogFile   = "/var/lib/mysql/rotator-general.log"
	initSQL            = "GRANT PROXY ON ''@'%' TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
)

// image is $ROTATOR_TEST_IMAGE_MARIADB, else DefaultImage.
func image() string {
	if img := testbackend.Image("mariadb"); img != "" {
		return img
	}
	return DefaultImage
}

// startContainer is the containers backend: a server in a container of
// image() on the host's network, listening on 127.0.0.1 on a free port as
// a local server does (the accounts tests make live at 127.0.0.1, the
// address their connections come from; through a published port they
// would come from the bridge's gateway). It mirrors the local rig: TLS
// with a certificate signed by a CA made for this server (copied into the
// container), require_secure_transport on request, a password for every
// account (the same account clean-up), and the general log, read by
// copying it out of the container.
//
// The reason to skip (fall back) is non-empty when containers cannot be
// had here: no Docker engine, an image that cannot be had, or an engine
// whose host network is not this machine's. A container that was had but
// whose server failed is an error.
func startContainer(ctx context.Context, useTLS bool, tlsHosts []string, requireSecure bool) (*Server, string, error) {
	return startFlavour(ctx, mariadbFlavour(), useTLS, tlsHosts, requireSecure)
}

// flavour is what differs between the servers this package runs in
// containers: MariaDB (the default backend) and MySQL 8.4 (mysql8.go).
type flavour struct {
	// name is the server's name in messages; image the image to run.
	name, image string
	// args are the server command and the options only this flavour has;
	// runContainer adds the common ones.
	args []string
	// env sets the root password and host for the image's entrypoint.
	env func(password, host string) map[string]string
	// initSQL, when not empty, is run by the entrypoint as root@localhost.
	initSQL string
	// label is the value of ContainerLabel.
	label string
}

func mariadbFlavour() flavour {
	return flavour{
		name:  "MariaDB",
		image: image(),
		args:  []string{"mariadbd", "--innodb-log-file-size=16M", "--plugin-load-add=auth_ed25519"},
		env: func(pw, host string) map[string]string {
			return map[string]string{"MARIADB_ROOT_PASSWORD": pw, "MARIADB_ROOT_HOST": host}
		},
		initSQL: initSQL,
		label:   "mariadbtest",
	}
}

// startFlavour runs a server of flavour fl (see startContainer).
func startFlavour(ctx context.Context, fl flavour, useTLS bool, tlsHosts []string, requireSecure bool) (*Server, string, error) {
	img := fl.image
	what := "container " + img
	if runtime.GOOS != "linux" {
		return nil, what + ": needs a Docker engine on this Linux host (host networking); this is " + runtime.GOOS, nil
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		return nil, what + ": needs a Docker engine on this host (host networking); $DOCKER_HOST=" + h, nil
	}
	if ok, why := dbrig.DockerAvailable(ctx); !ok {
		return nil, what + ": no Docker engine (" + why + ")", nil
	}
	if err := dbrig.EnsureImage(ctx, img); err != nil {
		return nil, what + ": " + err.Error(), nil
	}
	var s *Server
	err := dbrig.OnFreePort(func(port int) (err error) {
		s, err = runContainer(ctx, fl, port, useTLS, tlsHosts, requireSecure)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("mariadbtest: %s: %w", what, err)
	}
	return s, "", nil
}

// containerArgs is the server's command line in a container of fl
// listening on port.
func containerArgs(fl flavour, port int) []string {
	return append(slices.Clone(fl.args),
		"--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=32M",
		"--innodb-flush-log-at-trx-commit=0",
		"--performance-schema=OFF",
		"--max-connections=400",
		"--character-set-server=utf8mb4",
	)
}

func runContainer(ctx context.Context, fl flavour, port int, useTLS bool, tlsHosts []string, requireSecure bool) (*Server, error) {
	img := fl.image
	s := &Server{
		Mode:                   ModeContainer,
		Host:                   "127.0.0.1",
		Port:                   port,
		SuperUser:              "root",
		SuperHost:              "127.0.0.1",
		SuperPassword:          randomHex(16),
		RequireSecureTransport: requireSecure,
		source:                 "container " + img,
	}
	args := containerArgs(fl, port)
	copts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEnv(fl.env(s.SuperPassword, s.SuperHost)),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = "host"
		}),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithLabels(map[string]string{dbrig.ContainerLabel: fl.label}),
	}
	if fl.initSQL != "" {
		// Run by the entrypoint as root@localhost, which alone may give
		// root@127.0.0.1 the PROXY grant a local server's root has.
		copts = append(copts, testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader:            strings.NewReader(fl.initSQL),
			ContainerFilePath: "/docker-entrypoint-initdb.d/rotator-mariadbtest.sql",
			FileMode:          0o644,
		}))
	}
	var tmp string
	if useTLS {
		b, err := dbrig.NewServerCert(tlsHosts)
		if err != nil {
			return nil, err
		}
		// The CA in a file too, for Server.CAFile.
		tmp, s.CAFile, err = dbrig.WriteTemp("rotator-mariadbtest-tls-", "ca.pem", b.CAPEM)
		if err != nil {
			return nil, fmt.Errorf("mariadbtest: %w", err)
		}
		copts = append(copts, dbrig.ContainerTLS(containerDir, containerTLSScript, "mysql", "server.key",
			dbrig.File{Name: "ca.pem", Data: b.CAPEM, Mode: 0o644},
			dbrig.File{Name: "server.pem", Data: b.CertPEM, Mode: 0o644},
			dbrig.File{Name: "server.key", Data: b.KeyPEM, Mode: 0o600})...)
		args = append(args, "--ssl-ca="+containerDir+"ca.pem", "--ssl-cert="+containerDir+"server.pem", "--ssl-key="+containerDir+"server.key")
		if requireSecure {
			args = append(args, "--require-secure-transport=ON")
		}
		s.TLS, s.CAPEM = true, b.CAPEM
	} else {
		// Whatever the image's configuration says (rotator-test/mariadb
		// turns TLS on with a CA of its own).
		args = append(args, "--skip-ssl")
	}
	copts = append(copts, testcontainers.WithCmd(args...))

	ctr, err := testcontainers.Run(ctx, img, copts...)
	cleanup := func() error {
		if err := dbrig.Remove(ctr, tmp); err != nil {
			return fmt.Errorf("mariadbtest: %w", err)
		}
		return nil
	}
	fail := func(err error) (*Server, error) {
		if ctr != nil {
			if log := dbrig.ContainerLog(ctr, 3000); log != "" {
				if strings.Contains(log, "Address already in use") || strings.Contains(log, "Bind on TCP/IP port") {
					err = fmt.Errorf("%w: %d", dbrig.ErrPortTaken, port)
				} else {
					err = fmt.Errorf("%w; container log:\n%s", err, log)
				}
			}
		}
		_ = cleanup()
		return nil, err
	}
	if err != nil {
		return fail(err)
	}
	// The entrypoint first runs a server without networking to set the
	// accounts up; the port answers once the final server runs.
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		st, err := ctr.State(rctx)
		if err != nil {
			return fail(fmt.Errorf("container state: %w", err))
		}
		if !st.Running {
			return fail(fmt.Errorf("the container exited during start-up (status %d)", st.ExitCode))
		}
		cctx, ccancel := context.WithTimeout(rctx, 5*time.Second)
		db, err := s.Connect(cctx, s.SuperUser, s.SuperPassword)
		ccancel()
		if err == nil {
			err = setUp(rctx, db, s)
			db.Close()
			if err != nil {
				return fail(err)
			}
			break
		}
		if rctx.Err() != nil {
			return fail(fmt.Errorf("the server is not ready after %s: %w", readyTimeout, err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stopFn = cleanup
	s.logFn = func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return dbrig.ReadAll(ctr.CopyFileFromContainer(ctx, containerLogFile))
	}
	return s, nil
}

// setUp runs, as root over TCP, what the local rig does: the account
// clean-up (root's password as a hash, every other account dropped), then
// turns the general log on (after the entrypoint's statements, which set
// root's password in plaintext) and reads the version.
func setUp(ctx context.Context, db *sql.DB, s *Server) error {
	if err := secureAccounts(ctx, db, s); err != nil {
		return err
	}
	for _, q := range []string{
		"SET GLOBAL general_log_file = '" + containerLogFile + "'",
		"SET GLOBAL general_log = ON",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadbtest: %s: %w", q, err)
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	s.MariaDB = strings.Contains(strings.ToLower(s.Version), "mariadb")
	return nil
}
