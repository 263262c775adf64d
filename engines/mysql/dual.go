package mysql

import (
	"context"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
)

// Dual passwords (MySQL 8.0.14 and later).
//
// RETAIN CURRENT PASSWORD and REPLACE take the password itself, not a hash
// (MySQL's grammar has no AS form for them), so these statements carry the
// pending and the current password in plaintext, bound by the driver
// (escaped for the session's sql_mode) over the engine's connection: TLS by
// default. MySQL rewrites both in its general, slow and binary logs
// (IDENTIFIED BY <secret>) unless the server runs with --log-raw. MariaDB
// has no dual passwords: ErrDualPasswordUnsupported, before anything is sent.

var (
	_ interface {
		SetPasswordRetainingCurrent(context.Context, rotator.SetPasswordRequest) error
	} = (*Engine)(nil)
	_ interface {
		DiscardOldPassword(context.Context, *rotator.Secret) error
	} = (*Engine)(nil)
)

// dualUnsupported is the error for a server without dual passwords.
func (e *Engine) dualUnsupported(op string, t *target, server serverInfo) error {
	return e.newError(op, t, fmt.Sprintf("%s has no dual passwords (RETAIN CURRENT PASSWORD needs MySQL 8.0.14 or later; MariaDB has none): use the single-user or the alternating-users rotation for this server; nothing was changed", server),
		nil, ErrDualPasswordUnsupported, rotator.ErrInvalidField)
}

// SetPasswordRetainingCurrent makes req.Password the primary password of the
// account req.Conn logs in as, keeping req.Conn's password as the secondary
// one: ALTER USER USER() IDENTIFIED BY pending REPLACE current RETAIN
// CURRENT PASSWORD. REPLACE makes it a compare-and-set: when the primary
// password is not req.Conn's (an earlier attempt already set the pending
// one, which a second RETAIN would otherwise make the secondary, dropping
// the current password) the server changes nothing and the error wraps
// ErrCurrentPasswordMismatch. The account needs APPLICATION_PASSWORD_ADMIN
// (MySQL's privilege for one's own secondary password).
func (e *Engine) SetPasswordRetainingCurrent(ctx context.Context, req rotator.SetPasswordRequest) error {
	const op = "set password retaining the current one"
	t, err := e.parse(req.Conn)
	if err != nil {
		return err
	}
	if req.Username != t.username {
		return e.newError(op, t, "dual passwords change the connecting user's own account only", nil, rotator.ErrInvalidField)
	}
	if err := checkNewPassword(req.Password); err != nil {
		return err
	}
	sess, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer sess.close()
	if !sess.server.dualPassword() {
		return e.dualUnsupported(op, t, sess.server)
	}
	host, err := e.selfAccount(ctx, sess, op, t)
	if err != nil {
		return err
	}
	if err := e.lockAccount(ctx, sess, op, t, t.username, host); err != nil {
		return err
	}
	if _, err := sess.conn.ExecContext(ctx, dualSetSQL, req.Password, t.password); err != nil {
		return e.statementError(op, t, "ALTER USER ... RETAIN CURRENT PASSWORD", err, req.Password)
	}
	return nil
}

// The dual-password statements; their placeholders are bound by the
// driver's interpolation.
const (
	dualSetSQL     = "ALTER USER USER() IDENTIFIED BY ? REPLACE ? RETAIN CURRENT PASSWORD"
	dualDiscardSQL = "ALTER USER USER() DISCARD OLD PASSWORD"
)

// DiscardOldPassword drops the secondary password of the account s logs in
// as: ALTER USER USER() DISCARD OLD PASSWORD.
func (e *Engine) DiscardOldPassword(ctx context.Context, s *rotator.Secret) error {
	const op = "discard old password"
	t, err := e.parse(s)
	if err != nil {
		return err
	}
	sess, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer sess.close()
	if !sess.server.dualPassword() {
		return e.dualUnsupported(op, t, sess.server)
	}
	if _, err := e.selfAccount(ctx, sess, op, t); err != nil {
		return err
	}
	if _, err := sess.conn.ExecContext(ctx, dualDiscardSQL); err != nil {
		return e.statementError(op, t, "ALTER USER ... DISCARD OLD PASSWORD", err)
	}
	return nil
}
