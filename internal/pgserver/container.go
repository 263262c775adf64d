package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcpg "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ContainerLabel labels the containers pgserver starts.
const ContainerLabel = "org.rotatorkit.rotator"

// Bounds on the container steps, so that an engine that stops answering, a
// registry that cannot be reached or an image that never gets ready gives
// an error rather than a hang. A pull is given longer: a first pull of
// postgres:16-alpine on a slow line takes a while.
const (
	dockerCheckTimeout = 10 * time.Second
	pullTimeout        = 4 * time.Minute
	runTimeout         = 2 * time.Minute
	stopTimeout        = time.Minute
)

var docker struct {
	once sync.Once
	ok   bool
	why  string
}

// dockerAvailable runs testcontainers' provider health check once per
// process. Without a Docker engine it fails fast.
func dockerAvailable(ctx context.Context) (bool, string) { return DockerAvailable(ctx) }

// DockerAvailable reports, once per process and within a bounded time,
// whether a Docker engine answers, and why not. The other test rigs
// (internal/mariadbtest) share it.
func DockerAvailable(ctx context.Context) (bool, string) {
	docker.once.Do(func() {
		docker.ok, docker.why = checkDocker(ctx)
	})
	return docker.ok, docker.why
}

// checkDocker asks whether a Docker engine answers, within
// dockerCheckTimeout whatever happens: testcontainers' client creation
// talks to the engine without a deadline, and an engine that accepts and
// never answers would otherwise hang every test (the goroutine is left
// behind then, once per process).
func checkDocker(ctx context.Context) (ok bool, why string) {
	ctx, cancel := context.WithTimeout(ctx, dockerCheckTimeout)
	defer cancel()
	type result struct {
		ok  bool
		why string
	}
	done := make(chan result, 1)
	go func() {
		ok, why := checkDockerUnbounded(ctx)
		done <- result{ok, why}
	}()
	select {
	case r := <-done:
		return r.ok, r.why
	case <-ctx.Done():
		return false, fmt.Sprintf("%v within %v", errEngineDown, dockerCheckTimeout)
	}
}

func checkDockerUnbounded(ctx context.Context) (ok bool, why string) {
	defer func() {
		if r := recover(); r != nil {
			ok, why = false, fmt.Sprint(r)
		}
	}()
	provider, err := testcontainers.ProviderDefault.GetProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return false, err.Error()
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return false, err.Error()
	}
	return true, ""
}

var errEngineDown = errors.New("the Docker engine does not answer")

// inspectImage reports whether the engine has image. Its error says the
// engine did not answer (a missing image is not an error).
func inspectImage(ctx context.Context, provider *testcontainers.DockerProvider, image string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerCheckTimeout)
	defer cancel()
	// Listing fails only when the engine does not answer; an inspection
	// also fails for a missing image, and telling the two apart would need
	// the engine client's error types.
	if _, err := provider.ListImages(ctx); err != nil {
		return false, err
	}
	_, err := provider.Client().ImageInspect(ctx, image)
	return err == nil, nil
}

// ensureImage makes sure the engine has image, pulling it (within
// pullTimeout) when it has not, so that a missing image is reported as
// such, quickly, instead of as a failure deep in a container start.
func ensureImage(ctx context.Context, image string) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some engine failures
			err = fmt.Errorf("%v", r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	defer provider.Close()
	if ok, err := inspectImage(ctx, provider, image); err != nil {
		// Not a pull: testcontainers retries a pull that cannot connect
		// until its deadline.
		return fmt.Errorf("%w: %w", errEngineDown, err)
	} else if ok {
		return nil
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	if err := provider.PullImage(pctx, image); err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("the image is not on this Docker engine, and pulling it did not finish in %s: %w", pullTimeout, err)
		}
		return fmt.Errorf("the image is not on this Docker engine, and pulling it failed after %s: %w", time.Since(start).Round(time.Millisecond), err)
	}
	// A pull whose error came in the progress stream returns no error.
	if ok, err := inspectImage(ctx, provider, image); !ok {
		return fmt.Errorf("the image is not on this Docker engine, and pulling it did not make it appear (%v)", err)
	}
	return nil
}

// engineDown returns why the Docker engine does not answer now, or "".
// (testcontainers' own health check answers from a cache after its first
// success.)
func engineDown(ctx context.Context) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = fmt.Sprint(r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return err.Error()
	}
	defer provider.Close()
	if _, err := inspectImage(ctx, provider, "rotator-pgserver/engine-check:none"); err != nil {
		return err.Error()
	}
	return ""
}

// TLS files in the container, and the entrypoint that gives them to the
// postgres user before running the image's own entrypoint: the files are
// copied in owned by root, and PostgreSQL wants to own its key. (The
// postgres module's WithSSLCert does the same with a script that needs
// `set -o pipefail`, which Debian's sh lacks.) POSIX sh: the alpine and
// Debian images both run it.
const (
	containerTLSDir    = "/tmp/rotator-pgserver/"
	containerTLSScript = "/usr/local/bin/rotator-pgserver-tls.sh"
	tlsEntrypoint      = `#!/bin/sh
set -e
chown postgres:postgres ` + containerTLSDir + `server.crt ` + containerTLSDir + `server.key
chmod 600 ` + containerTLSDir + `server.key
exec docker-entrypoint.sh "$@"
`
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
	if err := ensureImage(ctx, opts.Image); err != nil {
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
		testcontainers.WithLabels(map[string]string{ContainerLabel: "pgserver"}),
	}
	var tmp string
	if len(opts.TLSHosts) > 0 {
		b, err := NewServerCert(opts.TLSHosts)
		if err != nil {
			return nil, err
		}
		// The CA in a file too, for Server.CAFile.
		tmp, err = os.MkdirTemp("", "rotator-pgserver-tls-")
		if err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		ca := filepath.Join(tmp, "ca.crt")
		if err := os.WriteFile(ca, b.CAPEM, 0o644); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		file := func(data []byte, path string, mode int64) testcontainers.ContainerFile {
			return testcontainers.ContainerFile{Reader: bytes.NewReader(data), ContainerFilePath: path, FileMode: mode}
		}
		copts = append(copts,
			testcontainers.WithFiles(
				file(b.CertPEM, containerTLSDir+"server.crt", 0o644),
				file(b.KeyPEM, containerTLSDir+"server.key", 0o600),
				file([]byte(tlsEntrypoint), containerTLSScript, 0o755)),
			testcontainers.WithEntrypoint("sh", containerTLSScript))
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
		var err error
		if ctr != nil {
			// Bounded: Terminate's own removal would wait on an engine
			// that stopped answering.
			sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			if terr := ctr.Terminate(sctx, testcontainers.StopTimeout(10*time.Second)); terr != nil {
				err = fmt.Errorf("pgserver: removing container %s: %w", ctr.GetContainerID(), terr)
			}
		}
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
		return err
	}
	fail := func(err error) (*Server, error) {
		_ = cleanup()
		return nil, containerError(parent, opts.Image, err)
	}
	if err != nil {
		if ctr != nil {
			if log := containerLog(ctr); log != "" {
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
		rc, err := ctr.Logs(ctx)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
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
	if why := engineDown(context.WithoutCancel(ctx)); why != "" && !errors.Is(err, errEngineDown) {
		return fmt.Errorf("pgserver: container %s: the Docker engine stopped answering (%s): %w", image, why, err)
	}
	return fmt.Errorf("pgserver: container %s: %w", image, err)
}

// containerLog returns the end of a container's log, for an error message.
func containerLog(ctr testcontainers.Container) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
