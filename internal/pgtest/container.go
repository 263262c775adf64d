package pgtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
// binary. Without a Docker engine it fails fast.
func dockerAvailable() (bool, string) {
	docker.once.Do(func() {
		docker.ok, docker.why = checkDocker()
	})
	return docker.ok, docker.why
}

func checkDocker() (ok bool, why string) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := provider.Health(ctx); err != nil {
		return false, err.Error()
	}
	return true, ""
}

const containerSSLDir = "/tmp/testcontainers-go/postgres/"

func startContainer(cfg config) (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	image := os.Getenv(EnvImage)
	if image == "" {
		image = "postgres:16-alpine"
	}
	s := &Server{
		Mode:               ModeContainer,
		SuperUser:          "postgres",
		SuperPassword:      randomHex(16),
		Database:           "postgres",
		PasswordEncryption: cfg.pwEnc,
	}
	cmd := []string{"postgres", "-c", "fsync=off", "-c", "log_statement=all", "-c", "password_encryption=" + cfg.pwEnc}
	opts := []testcontainers.ContainerCustomizer{
		tcpg.WithDatabase(s.Database),
		tcpg.WithUsername(s.SuperUser),
		tcpg.WithPassword(s.SuperPassword),
		// The image writes "host all all all <method>" into pg_hba.conf.
		testcontainers.WithEnv(map[string]string{"POSTGRES_HOST_AUTH_METHOD": cfg.pwEnc}),
		tcpg.BasicWaitStrategies(),
	}
	var tmp string
	if cfg.tls {
		b, err := newServerCert(cfg.tlsHosts)
		if err != nil {
			return nil, err
		}
		tmp, err = os.MkdirTemp("", "rotator-pgtls-")
		if err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
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
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		opts = append(opts, tcpg.WithSSLCert(ca, crt, key))
		cmd = append(cmd, "-c", "ssl=on",
			"-c", "ssl_cert_file="+containerSSLDir+"server.cert",
			"-c", "ssl_key_file="+containerSSLDir+"server.key")
		s.TLS, s.CAPEM, s.CAFile, s.TLSHosts = true, b.caPEM, ca, cfg.tlsHosts
	}
	opts = append(opts, testcontainers.WithCmd(cmd...))

	ctr, err := tcpg.Run(ctx, image, opts...)
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
	if err != nil {
		_ = cleanup()
		return nil, fmt.Errorf("pgtest: start container %s: %w", image, err)
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		_ = cleanup()
		return nil, fmt.Errorf("pgtest: container host: %w", err)
	}
	port, err := ctr.MappedPort(ctx, "5432/tcp")
	if err != nil {
		_ = cleanup()
		return nil, fmt.Errorf("pgtest: container port: %w", err)
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
	return s, nil
}
