package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/rotator"
)

// Compile-time check of the capability shapes the strategies ask for.
var _ dbengine.Capabilities = (*Engine)(nil)

// lockTimeout is how long a call waits for another call on the same
// account (GET_LOCK), in seconds.
const lockTimeout = 30

// Login connects with the secret's credentials and checks that the session
// belongs to its user (and, with "userhost", to that account). A rejected
// credential wraps rotator.ErrLoginFailed.
func (e *Engine) Login(ctx context.Context, s *rotator.Secret) error {
	t, err := e.parse(s)
	if err != nil {
		return err
	}
	sess, err := e.connect(ctx, "login", t)
	if err != nil {
		return err
	}
	defer sess.close()
	_, err = e.selfAccount(ctx, sess, "login", t)
	return err
}

// selfAccount reads CURRENT_USER() and checks it is the secret's user (and
// "userhost" when set). It returns the account's host part.
func (e *Engine) selfAccount(ctx context.Context, sess *session, op string, t *target) (string, error) {
	var cu string
	if err := sess.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return "", e.statementError(op, t, "reading CURRENT_USER()", err)
	}
	user, host := splitAccount(cu)
	switch {
	case user != t.username:
		who := rotator.Quote(cu)
		if user == "" {
			who = "the anonymous account ''@" + rotator.Quote(host) + " (an anonymous account matched before the user's own)"
		}
		return "", e.newError(op, t, "logged in, but the session belongs to "+who, nil, rotator.ErrLoginFailed)
	case t.userHost != "" && host != t.userHost:
		return "", e.newError(op, t, fmt.Sprintf("logged in as %s, not as the account the secret names with \"userhost\" (%s)", account(user, host), account(user, t.userHost)),
			nil, rotator.ErrLoginFailed, &rotator.FieldError{Field: FieldUserHost, Reason: "names another account than the one the user logs in as", Err: rotator.ErrInvalidField}, ErrAccountHost)
	}
	return host, nil
}

// lockAccount takes the account's named lock (GET_LOCK) for the rest of
// the session: SetPassword and EnsureUser calls on one account take turns.
func (e *Engine) lockAccount(ctx context.Context, sess *session, op string, t *target, user, host string) error {
	sum := sha256.Sum256([]byte(user + "\x00" + host))
	name := "rotator:" + hex.EncodeToString(sum[:16])
	var got sql.NullInt64
	if err := sess.conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, lockTimeout).Scan(&got); err != nil {
		return e.statementError(op, t, "waiting for the lock on "+account(user, host), err)
	}
	if !got.Valid || got.Int64 != 1 {
		return e.newError(op, t, fmt.Sprintf("another change of %s held its lock for %d s", account(user, host), lockTimeout), nil, rotator.ErrUnreachable)
	}
	return nil
}

// showCreateUser returns SHOW CREATE USER's text for an account.
func showCreateUser(ctx context.Context, c *sql.Conn, acct string) (string, error) {
	rows, err := c.QueryContext(ctx, "SHOW CREATE USER "+acct)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "", sql.ErrNoRows
	}
	var s string
	if err := rows.Scan(&s); err != nil {
		return "", err
	}
	return s, rows.Err()
}

// showGrants returns SHOW GRANTS' lines for an account or a role.
func showGrants(ctx context.Context, c *sql.Conn, who string) ([]string, error) {
	rows, err := c.QueryContext(ctx, "SHOW GRANTS FOR "+who)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// accountHosts lists the host parts of the accounts named user (roles
// excluded).
func accountHosts(ctx context.Context, sess *session, user string) ([]string, error) {
	q := "SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host"
	if sess.server.mariaDB {
		q = "SELECT Host FROM mysql.user WHERE User = ? AND is_role = 'N' ORDER BY Host"
	}
	rows, err := sess.conn.QueryContext(ctx, q, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// userHostOf returns the "userhost" an account-level secret names ("" when
// it has none or names another user).
func (e *Engine) userHostOf(sec *rotator.Secret, user string) (string, error) {
	if sec == nil {
		return "", nil
	}
	v, set, err := sec.Optional(FieldUserHost)
	if err != nil || !set {
		return "", err
	}
	if err := checkHostPart(FieldUserHost, v); err != nil {
		return "", err
	}
	return v, nil
}

// resolveHost returns the host part of user's account, seen from a master
// session: "userhost" when the request names it, else the host of the
// only account of that name. exists says whether user@host exists. Several
// accounts of that name without "userhost" are an error (ErrAccountHost):
// the engine never guesses, and never assumes '%'.
func (e *Engine) resolveHost(ctx context.Context, sess *session, op string, t *target, user, userHost string) (host string, exists bool, err error) {
	hosts, err := accountHosts(ctx, sess, user)
	if err != nil {
		return "", false, e.statementError(op, t, "looking up the accounts named "+quoteIdent(user), err)
	}
	if userHost != "" {
		for _, h := range hosts {
			if h == userHost {
				return userHost, true, nil
			}
		}
		return userHost, false, nil
	}
	switch len(hosts) {
	case 0:
		return "", false, nil
	case 1:
		return hosts[0], true, nil
	}
	list := make([]string, len(hosts))
	for i, h := range hosts {
		list[i] = account(user, h)
	}
	return "", false, e.newError(op, t, fmt.Sprintf("there are %d accounts named %s (%s) and the secret has no \"userhost\" to say which one rotates; set \"userhost\" to its host part",
		len(hosts), quoteIdent(user), strings.Join(list, ", ")), nil, ErrAccountHost,
		&rotator.FieldError{Field: FieldUserHost, Reason: "is missing and the user name has several accounts", Err: rotator.ErrMissingField})
}

// SetPassword gives an account a new password, sent as the hash its plugin
// stores (see password.go).
//
// When req.Username is the connection's own user (single user), the
// account is the one the session belongs to (CURRENT_USER()), checked
// against "userhost" when the secret has it. Otherwise (a master changing
// another user) the account is req.Username at the host "userhost" of
// req.Account (the secret being set, which carries the field for the pair)
// or of the connection's secret, else at the host of the only account with
// that name; several accounts without "userhost" are an error. Concurrent
// calls on one account take turns (GET_LOCK).
func (e *Engine) SetPassword(ctx context.Context, req rotator.SetPasswordRequest) error {
	const op = "set password"
	t, err := e.parse(req.Conn)
	if err != nil {
		return err
	}
	if err := checkUserName(rotator.FieldUsername, req.Username); err != nil {
		return err
	}
	if err := checkNewPassword(req.Password); err != nil {
		return err
	}
	sess, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer sess.close()

	var host string
	if req.Username == t.username {
		if host, err = e.selfAccount(ctx, sess, op, t); err != nil {
			return err
		}
	} else {
		uh, err := e.userHostOf(req.Account, req.Username)
		if err != nil {
			return err
		}
		var exists bool
		if host, exists, err = e.resolveHost(ctx, sess, op, t, req.Username, uh); err != nil {
			return err
		}
		if !exists {
			return e.newError(op, t, fmt.Sprintf("no account %s", accountOrName(req.Username, host)), nil, ErrNoSuchUser)
		}
	}
	acct := account(req.Username, host)
	if err := e.lockAccount(ctx, sess, op, t, req.Username, host); err != nil {
		return err
	}
	err = e.setAccountPassword(ctx, sess, op, t, acct, req.Password)
	if err != nil && req.Username == t.username && !sess.server.mariaDB && errors.Is(err, rotator.ErrPermission) {
		// MySQL may refuse an account without CREATE USER its own
		// password as a hash (IDENTIFIED WITH ... AS). Its own password
		// by value it always allows, and MySQL rewrites that value as
		// <secret> in its general, slow and binary logs (unless
		// --log-raw). REPLACE makes it a compare-and-set on the current
		// password, and satisfies password_require_current.
		e.cfg.Logger(ctx).Warn("mysql: the server refused the account its own password as a hash; setting it by value (MySQL rewrites it in its logs unless --log-raw)",
			"user", acct, "error", err.Error())
		if _, err2 := sess.conn.ExecContext(ctx, selfSetSQL, req.Password, t.password); err2 != nil {
			return e.statementError(op, t, "ALTER USER USER() IDENTIFIED BY ... REPLACE", err2, req.Password)
		}
		return nil
	}
	return err
}

// selfSetSQL sets the connecting account's own password by value (MySQL
// only, when it refuses the hash); the driver binds both values.
const selfSetSQL = "ALTER USER USER() IDENTIFIED BY ? REPLACE ?"

// accountOrName prints an account, or the user name when the host is
// unknown.
func accountOrName(user, host string) string {
	if host == "" {
		return "named " + quoteIdent(user)
	}
	return account(user, host)
}

// setAccountPassword sends the hash of password for acct's plugin.
func (e *Engine) setAccountPassword(ctx context.Context, sess *session, op string, t *target, acct, password string) error {
	create, err := showCreateUser(ctx, sess.conn, acct)
	if err != nil {
		return e.statementError(op, t, "reading the authentication plugin of "+acct, err)
	}
	plugin, err := pluginOf(sess.server, create)
	if err != nil {
		return e.newError(op, t, acct+": "+err.Error(), nil, errKinds(err)...)
	}
	hash, err := authString(sess.server, plugin, password)
	if err != nil {
		return e.newError(op, t, acct+": "+err.Error(), nil, errKinds(err)...)
	}
	stmt, err := setPasswordSQL(sess.server, acct, plugin, hash)
	if err != nil {
		return e.newError(op, t, err.Error(), nil)
	}
	if _, err := sess.conn.ExecContext(ctx, stmt); err != nil {
		return e.statementError(op, t, "setting the password of "+acct, err, password, hash)
	}
	return nil
}

// errKinds keeps the package sentinels an error wraps.
func errKinds(err error) []error {
	var out []error
	for _, k := range []error{ErrUnsupportedPlugin, ErrNoSuchUser, ErrAccountHost} {
		if errors.Is(err, k) {
			out = append(out, k)
		}
	}
	return out
}

// checkNewPassword: the password must be something every client sends the
// same way.
func checkNewPassword(pw string) error {
	switch {
	case pw == "":
		return fmt.Errorf("%w: the new password is empty", rotator.ErrInvalidField)
	case !utf8.ValidString(pw) || strings.IndexByte(pw, 0) >= 0:
		return fmt.Errorf("%w: the new password holds a NUL character or is not UTF-8", rotator.ErrInvalidField)
	}
	return nil
}
