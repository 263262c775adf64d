package pgtest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgserver"
)

// startDSN uses the server named by $ROTATOR_TEST_POSTGRES_DSN. It cannot
// configure that server, so options that need to return a skip reason.
// The Server has no stop function and no log: Stop leaves the server
// running, and ReadLog skips.
func startDSN(cfg config, dsn string) (*Server, string, error) {
	if cfg.tls {
		return nil, "a TLS test server needs container or local mode; $" + EnvDSN + " names a server pgtest cannot configure", nil
	}
	if cfg.hostAuth != cfg.pwEnc {
		return nil, "a server with " + cfg.hostAuth + " host authentication needs container or local mode; $" + EnvDSN + " names a server pgtest cannot configure", nil
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors try to redact passwords; do not risk it.
		return nil, "", fmt.Errorf("pgtest: $%s is not a valid connection string", EnvDSN)
	}
	if cc.TLSConfig != nil {
		return nil, "", fmt.Errorf("pgtest: $%s must use sslmode=disable (TLS tests need container or local mode)", EnvDSN)
	}
	s := &Server{Server: &pgserver.Server{
		Mode:            ModeDSN,
		Host:            cc.Host,
		Port:            int(cc.Port),
		SuperUser:       cc.User,
		SuperPassword:   cc.Password,
		Database:        cc.Database,
		ApplicationName: "pgtest",
	}}
	if s.Database == "" {
		s.Database = "postgres"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, s.SuperUser, s.SuperPassword, "")
	if err != nil {
		return nil, "", fmt.Errorf("pgtest: connect to $%s: %w", EnvDSN, err)
	}
	defer conn.Close(ctx)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return nil, "", fmt.Errorf("pgtest: $%s: %w", EnvDSN, err)
	}
	if !super {
		return nil, "", fmt.Errorf("pgtest: $%s must name a superuser", EnvDSN)
	}
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_setting('password_encryption')").
		Scan(&s.Version, &s.VersionNum, &s.PasswordEncryption); err != nil {
		return nil, "", fmt.Errorf("pgtest: $%s: %w", EnvDSN, err)
	}
	if s.PasswordEncryption != cfg.pwEnc {
		return nil, fmt.Sprintf("the test needs password_encryption=%s and the $%s server has %s", cfg.pwEnc, EnvDSN, s.PasswordEncryption), nil
	}
	return s, "", nil
}
