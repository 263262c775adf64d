package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/rotator"
)

// Login connects with the secret's credentials and checks that the session
// belongs to the secret's user (session_user: a user made by EnsureUser runs
// as its template, so current_user would name the template). Errors wrap
// rotator.ErrLoginFailed (wrong password, unknown role, NOLOGIN),
// rotator.ErrUnreachable (DNS, TCP, TLS, timeout; with ErrServerNoTLS or
// ErrCertificate for TLS problems), rotator.ErrPermission (no CONNECT on
// the database), or a *rotator.FieldError.
func (e *Engine) Login(ctx context.Context, s *rotator.Secret) error {
	t, err := e.parse(s)
	if err != nil {
		return err
	}
	conn, err := e.connect(ctx, "login", t)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	var who string
	if err := conn.QueryRow(ctx, "SELECT session_user").Scan(&who); err != nil {
		return e.statementError("login", t, "reading session_user", err, t.password)
	}
	if who != t.username {
		return e.newError("login", t, "logged in, but the session belongs to "+quote(who), nil, rotator.ErrLoginFailed)
	}
	return nil
}

// SetPassword gives req.Username the password req.Password, connecting
// with req.Conn (the user's own secret, or the master's). The password
// never reaches the server: its SCRAM-SHA-256 verifier (or md5 form, when
// the server's password_encryption is md5 and WithAllowMD5 allows it;
// otherwise ErrMD5Verifier) is computed here. req.Password must be ASCII.
// Errors wrap rotator.ErrPermission when the connecting user may not change
// the role, ErrNoSuchRole when it does not exist, or the
// Login errors for the connection.
func (e *Engine) SetPassword(ctx context.Context, req rotator.SetPasswordRequest) error {
	const op = "set password"
	t, err := e.parse(req.Conn)
	if err != nil {
		return err
	}
	if err := checkRoleName(rotator.FieldUsername, req.Username); err != nil {
		return err
	}
	if err := checkNewPassword(req.Password); err != nil {
		return err
	}
	conn, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer closeConn(conn)

	enc, err := passwordEncryption(ctx, conn)
	if err != nil {
		return e.statementError(op, t, "reading password_encryption", err, t.password)
	}
	verifier, err := e.verifierFor(enc, req.Username, req.Password)
	if err != nil {
		return e.newError(op, t, err.Error(), err)
	}
	lit, err := passwordLiteral(verifier)
	if err != nil {
		return e.newError(op, t, err.Error(), nil)
	}
	stmt := "ALTER ROLE " + pgx.Identifier{req.Username}.Sanitize() + " WITH PASSWORD " + lit
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return e.statementError(op, t, "changing the password of "+quote(req.Username), err,
			t.password, req.Password, verifier)
	}
	e.log.Info("postgres: password changed", "user", req.Username, "as", t.username, "hash", hashName(enc))
	return nil
}

func passwordEncryption(ctx context.Context, conn *pgx.Conn) (string, error) {
	var enc string
	err := conn.QueryRow(ctx, "SHOW password_encryption").Scan(&enc)
	return enc, err
}

func hashName(enc string) string {
	if enc == "md5" || enc == "on" {
		return "md5"
	}
	return "scram-sha-256"
}

// quote writes a role name in double quotes for messages.
func quote(s string) string { return pgx.Identifier{s}.Sanitize() }
