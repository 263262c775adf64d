package pgserver

import (
	"context"
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
)

var docker struct {
	once sync.Once
	ok   bool
	why  string
}

// dockerAvailable runs testcontainers' provider health check once per
// process. Without a Docker engine it fails fast.
func dockerAvailable(ctx context.Context) (bool, string) {
	docker.once.Do(func() {
		docker.ok, docker.why = checkDocker(ctx)
	})
	return docker.ok, docker.why
}

func checkDocker(ctx context.Context) (ok bool, why string) {
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
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := provider.Health(ctx); err != nil {
		return false, err.Error()
	}
	return true, ""
}

const containerSSLDir = "/tmp/testcontainers-go/postgres/"

func startContainer(ctx context.Context, opts Options) (*Server, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s := &Server{
		Mode:               ModeContainer,
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
		// The image writes "host all all all <method>" into pg_hba.conf.
		testcontainers.WithEnv(map[string]string{"POSTGRES_HOST_AUTH_METHOD": opts.HostAuth}),
		tcpg.BasicWaitStrategies(),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
	}
	var tmp string
	if len(opts.TLSHosts) > 0 {
		b, err := newServerCert(opts.TLSHosts)
		if err != nil {
			return nil, err
		}
		tmp, err = os.MkdirTemp("", "rotator-pgserver-tls-")
		if err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		write := func(name string, data []byte) string {
			p := filepath.Join(tmp, name)
			if werr := os.WriteFile(p, data, 0o600); werr != nil && err == nil {
				err = werr
			}
			return p
		}
		ca, crt, key := write("ca.crt", b.caPEM), write("server.crt", b.certPEM), write("server.key", b.keyPEM)
		if err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		copts = append(copts, tcpg.WithSSLCert(ca, crt, key))
		cmd = append(cmd, "-c", "ssl=on",
			"-c", "ssl_cert_file="+containerSSLDir+"server.cert",
			"-c", "ssl_key_file="+containerSSLDir+"server.key")
		s.TLS, s.CAPEM, s.CAFile, s.TLSHosts = true, b.caPEM, ca, slices.Clone(opts.TLSHosts)
	}
	copts = append(copts, testcontainers.WithCmd(cmd...))

	ctr, err := tcpg.Run(ctx, opts.Image, copts...)
	cleanup := func() error {
		var err error
		if ctr != nil {
			err = testcontainers.TerminateContainer(ctr)
		}
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
		return err
	}
	fail := func(err error) (*Server, error) {
		_ = cleanup()
		return nil, err
	}
	if err != nil {
		return fail(fmt.Errorf("pgserver: start container %s: %w", opts.Image, err))
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return fail(fmt.Errorf("pgserver: container host: %w", err))
	}
	port, err := ctr.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return fail(fmt.Errorf("pgserver: container port: %w", err))
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
	if err := s.readVersion(ctx); err != nil {
		return fail(fmt.Errorf("pgserver: container started but the superuser cannot connect: %w", err))
	}
	return s, nil
}
