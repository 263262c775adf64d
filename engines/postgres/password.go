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
//
// Two SetPasswords (or a SetPassword and an EnsureUser) for the same role
// at once both succeed: each changes the role in a transaction holding the
// role's advisory lock (see lockRole), so they take turns instead of one
// failing with "tuple concurrently updated"; a conflict the lock cannot
// prevent (a change made outside Rotator, or through another database) is
// retried.
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
	for attempt := 1; ; attempt++ {
		err := e.alterLocked(ctx, conn, t, req.Username, stmt, req.Password, verifier)
		if err != nil && attempt < maxAttempts && retryable(err) {
			e.cfg.Logger(ctx).Info("postgres: concurrent change, retrying", "user", req.Username, "attempt", attempt)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	e.cfg.Logger(ctx).Info("postgres: password changed", "user", req.Username, "as", t.username, "hash", hashName(enc))
	return nil
}

// maxAttempts bounds the retries of a change that conflicted with a
// concurrent one.
const maxAttempts = 3

// alterLocked runs stmt, an ALTER ROLE of role, in a transaction holding
// the role's advisory lock. secrets are scrubbed from errors.
func (e *Engine) alterLocked(ctx context.Context, conn *pgx.Conn, t *target, role, stmt string, secrets ...string) error {
	const op = "set password"
	secrets = append(secrets, t.password)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return e.statementError(op, t, "beginning a transaction", err, secrets...)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := lockRole(ctx, tx, role); err != nil {
		return e.statementError(op, t, "waiting for the lock on "+quote(role), err, secrets...)
	}
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return e.statementError(op, t, "changing the password of "+quote(role), err, secrets...)
	}
	if err := tx.Commit(ctx); err != nil {
		return e.statementError(op, t, "committing the password of "+quote(role), err, secrets...)
	}
	return nil
}

// roleLockPrefix namespaces the advisory lock keys that lockRole derives
// from role names, away from keys the application may use.
const roleLockPrefix = "github.com/rotatorkit/rotator role "

// lockRole takes a transaction-scoped advisory lock on a role name (any
// role may take advisory locks), so that Rotator's changes to one role
// take turns: two ALTER ROLEs of one role at once make the second fail
// with "tuple concurrently updated" (SQLSTATE XX000) instead of waiting.
// The key is a 32-bit hash: two roles may share one, which only makes
// them take turns too. Advisory locks are per database, so the lock
// serialises changes made through the same database (those of one secret).
func lockRole(ctx context.Context, tx pgx.Tx, role string) error {
	_, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))", roleLockPrefix+role)
	return err
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
