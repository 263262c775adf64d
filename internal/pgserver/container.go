package pgserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcpg "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/rotatorkit/rotator/internal/dbrig"
)

// runTimeout bounds a container's start, so that an image that never gets
// ready gives an error rather than a hang (dbrig bounds the engine check,
// the pull and the removal).
const runTimeout = 2 * time.Minute

// dockerAvailable is dbrig's bounded engine check, run once per process
// for every rig.
func dockerAvailable(ctx context.Context) (bool, string) { return dbrig.DockerAvailable(ctx) }

// TLS files in the container, and the entrypoint that gives them to the
// postgres user before running the image's own entrypoint: the files are
// copied in owned by root, and PostgreSQL wants to own its key. (The
// postgres module's WithSSLCert does the same with a script that needs
// `set -o pipefail`, which Debian's sh lacks.) POSIX sh: the alpine and
// Debian images both run it.
const (
	containerTLSDir    = "/tmp/rotator-pgserver/"
	containerTLSScript = "/usr/local/bin/rotator-pgserver-tls.sh"
)

// startContainer runs opts.Image with testcontainers' postgres module. It
// works with Docker Hub's postgres images and with .ci/docker's
// rotator-test/postgres (whose entrypoint takes the same variables and
// command, and is found by the same name).
//
// TLS uses a CA made here for this server, as for a local server, with the
// certificate and key copied into the container: the client verifies
// against a CA that signed this server's certificate and nothing else, and
// the certificate names exactly opts.TLSHosts. A server without TLS gets
// ssl=off, whatever the image's default (rotator-test/postgres turns TLS on
// with a CA of its own).
func startContainer(ctx context.Context, opts Options) (*Server, error) {
	if err := dbrig.EnsureImage(ctx, opts.Image); err != nil {
		return nil, containerError(ctx, opts.Image, err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	s := &Server{
		Mode:               ModeContainer,
		Image:              opts.Image,
		SuperUser:          "postgres",
		SuperPassword:      randomHex(16),
		Database:           "postgres",
		PasswordEncryption: opts.PasswordEncryption,
		HostAuth:           opts.HostAuth,
	}
	cmd := []string{"postgres", "-c", "fsync=off", "-c", "password_encryption=" + opts.PasswordEncryption}
	if opts.LogStatements {
		cmd = append(cmd, "-c", "log_statement=all")
	}
	copts := []testcontainers.ContainerCustomizer{
		tcpg.WithDatabase(s.Database),
		tcpg.WithUsername(s.SuperUser),
		tcpg.WithPassword(s.SuperPassword),
		// Both images write "host all all all <method>" into pg_hba.conf.
		testcontainers.WithEnv(map[string]string{"POSTGRES_HOST_AUTH_METHOD": opts.HostAuth}),
		// The ready line once, then the port: the official image logs the
		// line twice (a first server on the Unix socket only makes the
		// database), rotator-test/postgres once; the port is listened on
		// by the final server only.
		testcontainers.WithWaitStrategyAndDeadline(runTimeout,
			wait.ForLog("database system is ready to accept connections"),
			wait.ForListeningPort("5432/tcp")),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		// Where testcontainers' reaper is disabled, an engine or test
		// binary killed mid-run leaves containers behind: .ci/docker
		// removes the exited ones carrying this label.
		testcontainers.WithLabels(map[string]string{dbrig.ContainerLabel: "pgserver"}),
	}
	var tmp string
	if len(opts.TLSHosts) > 0 {
		b, err := dbrig.NewServerCert(opts.TLSHosts)
		if err != nil {
			return nil, err
		}
		// The CA in a file too, for Server.CAFile.
		var ca string
		tmp, ca, err = dbrig.WriteTemp("rotator-pgserver-tls-", "ca.crt", b.CAPEM)
		if err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		copts = append(copts, dbrig.ContainerTLS(containerTLSDir, containerTLSScript, "postgres", "server.key",
			dbrig.File{Name: "server.crt", Data: b.CertPEM, Mode: 0o644},
			dbrig.File{Name: "server.key", Data: b.KeyPEM, Mode: 0o600})...)
		cmd = append(cmd, "-c", "ssl=on",
			"-c", "ssl_cert_file="+containerTLSDir+"server.crt",
			"-c", "ssl_key_file="+containerTLSDir+"server.key")
		s.TLS, s.CAPEM, s.CAFile, s.TLSHosts = true, b.CAPEM, ca, slices.Clone(opts.TLSHosts)
	} else {
		cmd = append(cmd, "-c", "ssl=off")
	}
	copts = append(copts, testcontainers.WithCmd(cmd...))

	ctr, err := tcpg.Run(ctx, opts.Image, copts...)
	cleanup := func() error {
		if err := dbrig.Remove(ctr, tmp); err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		return nil
	}
	fail := func(err error) (*Server, error) {
		_ = cleanup()
		return nil, containerError(parent, opts.Image, err)
	}
	if err != nil {
		if ctr != nil {
			if log := dbrig.ContainerLog(ctr, 2000); log != "" {
				err = fmt.Errorf("%w; container log:\n%s", err, log)
			}
		}
		return fail(err)
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return fail(fmt.Errorf("container host: %w", err))
	}
	port, err := ctr.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return fail(fmt.Errorf("container port: %w", err))
	}
	if host == "localhost" {
		// The address a local server has: what tests expect of a local
		// server (a certificate for 127.0.0.1, an error naming it) holds
		// here too, and no resolver tries ::1 first.
		host = "127.0.0.1"
	}
	s.Host, s.Port = host, int(port.Num())
	s.stopFn = cleanup
	s.logFn = func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return dbrig.ReadAll(ctr.Logs(ctx))
	}
	// The port answers; a login may still race the server's last steps.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.readVersion(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail(fmt.Errorf("container started but the superuser cannot connect: %w", err))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s, nil
}

// containerError names the image, says when the start ran out of time
// (ctx is the caller's context: not expired means the bound here was hit),
// and says so when the reason is that the Docker engine stopped answering
// (it answered at the process's first start).
func containerError(ctx context.Context, image string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%w (timed out after %s)", err, runTimeout)
	}
	if why := dbrig.EngineDown(context.WithoutCancel(ctx)); why != "" && !errors.Is(err, dbrig.ErrEngineDown) {
		return fmt.Errorf("pgserver: container %s: the Docker engine stopped answering (%s): %w", image, why, err)
	}
	return fmt.Errorf("pgserver: container %s: %w", image, err)
}
