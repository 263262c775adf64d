package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/rotator"
)

// CloneMarkerRole is the role every clone this engine makes is granted: it
// holds no privilege, and tells a clone from someone else's account that
// happens to have the clone's name (CheckTarget refuses those). A clone made
// by another tool is adopted by granting it: GRANT rotator_clone TO
// 'app_clone'@'host'.
const CloneMarkerRole = "rotator_clone"

// EnsureUser makes sure req.Username exists, connecting with req.Conn (the
// master secret).
//
// With req.Template empty the user is pre-created: EnsureUser only checks
// that the account exists (ErrNoSuchUser when not) and changes nothing.
//
// With req.Template set, the user becomes the template's clone, on the
// template's account host ("userhost" of req.Account, else the host of the
// template's only account):
//
//   - created when missing, with the template's authentication plugin and
//     req.Password's hash (an existing clone keeps its password); an
//     existing account without the marker is refused (ErrNotAllowed),
//     unless it is the clone an earlier attempt created with req.Password
//     and could not mark, which is adopted (see strandedClone);
//   - granted CloneMarkerRole (the mark of a clone made here);
//   - given exactly the template's privileges, re-read on every call:
//     global, database, table, column and routine privileges and WITH
//     GRANT OPTION are granted where the clone lacks them and revoked where
//     the template no longer has them; granted roles (WITH ADMIN OPTION
//     too) and the default role likewise;
//   - given the template's REQUIRE (TLS) settings and resource limits.
//
// Running it again changes nothing when nothing drifted, and two
// concurrent runs take turns on the clone's named lock. The master needs
// CREATE USER, the privileges it grants WITH GRANT OPTION, and on MySQL
// 8 ROLE_ADMIN (or ADMIN OPTION on the roles it grants); refusals wrap
// rotator.ErrPermission.
func (e *Engine) EnsureUser(ctx context.Context, req rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error) {
	const op = "ensure user"
	var resp rotator.EnsureUserResponse
	t, err := e.parse(req.Conn)
	if err != nil {
		return resp, err
	}
	if err := checkUserName(rotator.FieldUsername, req.Username); err != nil {
		return resp, err
	}
	uh, err := e.userHostOf(req.Account, req.Username)
	if err != nil {
		return resp, err
	}
	if err := names.CheckTemplate(req, t.username, func(reason string) error {
		return e.newError(op, t, reason, nil, rotator.ErrInvalidField)
	}); err != nil {
		return resp, err
	}
	sess, err := e.connect(ctx, op, t)
	if err != nil {
		return resp, err
	}
	defer sess.close()

	if req.Template == "" {
		host, exists, err := e.resolveHost(ctx, sess, op, t, req.Username, uh)
		if err != nil {
			return resp, err
		}
		if !exists {
			return resp, e.newError(op, t, fmt.Sprintf("no account %s; with no template user configured it must be created beforehand", accountOrName(req.Username, host)), nil, ErrNoSuchUser)
		}
		return resp, nil
	}

	if !sess.server.roles() {
		return resp, e.newError(op, t, sess.server.String()+" has no roles, which mark the clones this engine makes; use MySQL 8.0 or MariaDB, or a pre-created pair of users", nil, ErrUnsupportedPlugin)
	}
	if n, limit := utf8.RuneCountInString(req.Username), sess.server.maxUserNameLength(); n > limit {
		return resp, &rotator.FieldError{Field: rotator.FieldUsername,
			Reason: fmt.Sprintf("gives the clone the name %s of %d characters; %s user names have at most %d: use a shorter user name", rotator.Quote(req.Username), n, sess.server, limit),
			Err:    rotator.ErrInvalidField}
	}
	host, exists, err := e.resolveHost(ctx, sess, op, t, req.Template, uh)
	if err != nil {
		return resp, err
	}
	if !exists {
		return resp, e.newError(op, t, fmt.Sprintf("the template user's account %s does not exist", accountOrName(req.Template, host)), nil, ErrNoSuchUser)
	}
	baseAcct, cloneAcct := account(req.Template, host), account(req.Username, host)
	if err := e.lockAccount(ctx, sess, op, t, req.Username, host); err != nil {
		return resp, err
	}
	cloneHosts, err := accountHosts(ctx, sess, req.Username)
	if err != nil {
		return resp, e.statementError(op, t, "looking up "+cloneAcct, err)
	}
	var changes []string
	if contains(cloneHosts, host) {
		adopted, err := e.adoptStranded(ctx, sess, op, t, req.Template, cloneAcct, req.Password)
		if err != nil {
			return resp, err
		}
		if adopted {
			changes = append(changes, "adopted")
		}
	} else {
		create, err := showCreateUser(ctx, sess.conn, baseAcct)
		if err != nil {
			return resp, e.statementError(op, t, "reading "+baseAcct, err)
		}
		plugin, err := pluginOf(sess.server, create)
		if err != nil {
			return resp, e.newError(op, t, baseAcct+": "+err.Error(), nil, errKinds(err)...)
		}
		hash, err := authString(sess.server, plugin, req.Password)
		if err != nil {
			return resp, e.newError(op, t, baseAcct+": "+err.Error(), nil, errKinds(err)...)
		}
		stmt, err := createUserSQL(sess.server, cloneAcct, plugin, hash)
		if err != nil {
			return resp, e.newError(op, t, err.Error(), nil)
		}
		if _, err := sess.conn.ExecContext(ctx, stmt); err != nil {
			return resp, e.statementError(op, t, "creating "+cloneAcct, err, req.Password, hash)
		}
		// The mark comes at once: a clone without it is refused by
		// CheckTarget as someone else's account. When it cannot be
		// given, the account just made goes again.
		if err := e.markClone(ctx, sess, op, t, cloneAcct); err != nil {
			if _, derr := sess.conn.ExecContext(ctx, "DROP USER "+cloneAcct); derr != nil {
				e.cfg.Logger(ctx).Warn("mysql: could not drop the clone it could not mark; drop it as an administrator, or grant it the marker role", "user", cloneAcct, "role", CloneMarkerRole)
			}
			return resp, err
		}
		resp.Created = true
		changes = append(changes, "created")
	}
	more, err := e.syncClone(ctx, sess, op, t, baseAcct, cloneAcct)
	changes = append(changes, more...)
	if len(changes) > 0 {
		e.cfg.Logger(ctx).Info("mysql: clone aligned with its template", "user", cloneAcct, "template", baseAcct, "changes", changes)
	}
	return resp, err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A stranded clone.
//
// EnsureUser makes a clone in two statements, CREATE USER then the
// marker's GRANT (MySQL's DDL is not transactional), so a connection lost
// or a deadline reached between them leaves an unmarked clone, which
// CheckTarget would refuse on every retry as someone else's account. The
// clone was created with the pending password of its rotation, which the
// retry carries again: an unmarked account with the clone's name is
// taken for that stranded clone, and adopted, only when
//
//   - its authentication string was made from the pending password
//     (authMatches: recomputed, compared in constant time);
//   - it is exactly what CREATE USER made: on one of the base's hosts, one
//     authentication method, no privilege, role, PROXY or default role,
//     REQUIRE NONE, no resource limit, not locked.
//
// Why this is safe: whoever can make an account's stored hash match the
// pending password knows that account's password already, and with it
// can log in as the account (nothing but the password guards a
// fresh-looking account: no certificate, no lock) and change its password
// itself. Adopting it gives it the base's privileges, which that person
// holds already through the application's own secret. Someone else's
// account with another password, or with anything a password alone does
// not give (privileges, roles, REQUIRE X509, ACCOUNT LOCK), stays
// refused and untouched; the power checks and the master check run
// first, unchanged.

// strandedClone says whether acct, an account with the clone's name that
// lacks the marker role (g: its grants), is the stranded clone of the
// rotation whose pending password is password (see above). It changes
// nothing; the caller holds the clone's lock.
func (e *Engine) strandedClone(ctx context.Context, sess *session, op string, t *target, base, acct string, g *grantSet, password string) (bool, error) {
	if password == "" || len(g.atoms) > 0 || len(g.grantOption) > 0 || len(g.roles) > 0 || len(g.proxies) > 0 ||
		len(g.defaultRoles) > 0 || len(g.partialRevokes) > 0 {
		return false, nil
	}
	user, host := unquoteAccount(acct)
	baseHosts, err := accountHosts(ctx, sess, base)
	if err != nil {
		return false, e.statementError(op, t, "looking up the accounts named "+quoteIdent(base), err)
	}
	if !contains(baseHosts, host) {
		return false, nil
	}
	opts, err := readAccountOptions(ctx, sess, acct)
	if err != nil {
		return false, e.statementError(op, t, "reading the REQUIRE settings and limits of "+acct, err)
	}
	if opts.sslType != "" {
		return false, nil
	}
	for _, v := range opts.limits {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f != 0 {
			return false, nil
		}
	}
	create, err := showCreateUser(ctx, sess.conn, acct)
	if err != nil {
		return false, e.statementError(op, t, "reading "+acct, err)
	}
	plugin, err := pluginOf(sess.server, create)
	if err != nil {
		return false, nil // several methods, or none the engine knows
	}
	toks, ok := tokenize(create)
	if !ok {
		return false, nil
	}
	for i := range toks {
		if isWords(toks, i, "ACCOUNT", "LOCK") {
			return false, nil
		}
	}
	var stored, storedPlugin string
	if err := sess.conn.QueryRowContext(ctx, "SELECT plugin, authentication_string FROM mysql.user WHERE User = ? AND Host = ?", user, host).Scan(&storedPlugin, &stored); err != nil {
		return false, e.statementError(op, t, "reading the authentication of "+acct, err)
	}
	if storedPlugin != plugin {
		return false, nil
	}
	return authMatches(plugin, stored, password), nil
}

// adoptStranded marks cloneAcct when it lacks the marker and is the
// stranded clone of this rotation (see strandedClone), and refuses it
// (rotator.ErrNotAllowed) when it lacks the marker and is not: EnsureUser
// takes over no one else's account, even if CheckTarget was not asked
// first. A marked clone is left to syncClone.
func (e *Engine) adoptStranded(ctx context.Context, sess *session, op string, t *target, base, cloneAcct, password string) (bool, error) {
	lines, err := showGrants(ctx, sess.conn, cloneAcct)
	if err != nil {
		return false, e.statementError(op, t, "reading the grants of "+cloneAcct, err)
	}
	g, err := parseGrants(lines)
	if err != nil {
		return false, e.newError(op, t, cloneAcct+": "+err.Error(), nil)
	}
	if _, ok := g.roles[markerKey(sess.server)]; ok {
		return false, nil
	}
	stranded, err := e.strandedClone(ctx, sess, op, t, base, cloneAcct, g, password)
	if err != nil {
		return false, err
	}
	if !stranded {
		return false, e.newError(op, t, notACloneReason(cloneAcct, base), nil, rotator.ErrNotAllowed)
	}
	if err := e.markClone(ctx, sess, op, t, cloneAcct); err != nil {
		return false, err
	}
	e.cfg.Logger(ctx).Info("mysql: adopted the clone a previous attempt of this rotation created but could not mark (its password is this rotation's pending password)", "user", cloneAcct, "role", CloneMarkerRole)
	return true, nil
}

// notACloneReason is the refusal of an unmarked account with the clone's
// name.
func notACloneReason(acct, base string) string {
	return fmt.Sprintf("%s exists but was not granted the role %s that marks the clones this rotator makes: it is not a clone of %s, and is not taken over (if it is one made by another tool, adopt it as an administrator: GRANT %s TO %s; else choose another second user)",
		acct, CloneMarkerRole, quoteIdent(base), quoteIdent(CloneMarkerRole), acct)
}

// markerKey is the marker role's key in a grantSet.
func markerKey(server serverInfo) string {
	if server.mariaDB {
		return roleKey(CloneMarkerRole, "")
	}
	return roleKey(CloneMarkerRole, "%")
}

// syncClone makes cloneAcct's privileges, roles, default role, REQUIRE
// settings and resource limits those of baseAcct, and grants the marker.
func (e *Engine) syncClone(ctx context.Context, sess *session, op string, t *target, baseAcct, cloneAcct string) ([]string, error) {
	readGrants := func(acct string) (*grantSet, error) {
		lines, err := showGrants(ctx, sess.conn, acct)
		if err != nil {
			return nil, e.statementError(op, t, "reading the grants of "+acct, err)
		}
		g, err := parseGrants(lines)
		if err != nil {
			return nil, e.newError(op, t, acct+": "+err.Error(), nil)
		}
		return g, nil
	}
	base, err := readGrants(baseAcct)
	if err != nil {
		return nil, err
	}
	if len(base.partialRevokes) > 0 || len(base.proxies) > 0 {
		return nil, e.newError(op, t, baseAcct+" has partial revokes or PROXY grants, which the engine does not copy to a clone", nil, rotator.ErrNotAllowed)
	}
	clone, err := readGrants(cloneAcct)
	if err != nil {
		return nil, err
	}
	var changes []string
	exec := func(desc, stmt string) error {
		if _, err := sess.conn.ExecContext(ctx, stmt); err != nil {
			return e.statementError(op, t, desc+" for "+cloneAcct, err)
		}
		changes = append(changes, desc)
		return nil
	}
	mk := markerKey(sess.server)
	if _, ok := clone.roles[mk]; !ok {
		if err := e.markClone(ctx, sess, op, t, cloneAcct); err != nil {
			return changes, err
		}
		changes = append(changes, "marked with the role "+CloneMarkerRole)
	}
	for _, st := range syncStatements(base, clone, cloneAcct, map[string]bool{mk: true}) {
		if err := exec(st[0], st[1]); err != nil {
			return changes, err
		}
	}
	if err := e.syncDefaultRoles(ctx, sess, op, t, base, clone, baseAcct, cloneAcct, exec); err != nil {
		return changes, err
	}
	if err := e.syncAccountOptions(ctx, sess, op, t, baseAcct, cloneAcct, exec); err != nil {
		return changes, err
	}
	return changes, nil
}

// markClone grants CloneMarkerRole to a clone, making the role first when
// the server has none.
func (e *Engine) markClone(ctx context.Context, sess *session, op string, t *target, cloneAcct string) error {
	if _, err := sess.conn.ExecContext(ctx, "CREATE ROLE IF NOT EXISTS "+quoteIdent(CloneMarkerRole)); err != nil {
		return e.statementError(op, t, "creating the role "+CloneMarkerRole, err)
	}
	if _, err := sess.conn.ExecContext(ctx, "GRANT "+quoteIdent(CloneMarkerRole)+" TO "+cloneAcct); err != nil {
		var cu string
		_ = sess.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu)
		mu, mh := splitAccount(cu)
		return fmt.Errorf("%w (the master may not grant the role %s that marks clones; as an administrator: GRANT %s TO %s WITH ADMIN OPTION)",
			e.statementError(op, t, "marking "+cloneAcct+" as a clone", err), CloneMarkerRole, quoteIdent(CloneMarkerRole), account(mu, mh))
	}
	return nil
}

// syncDefaultRoles copies the base's default roles.
func (e *Engine) syncDefaultRoles(ctx context.Context, sess *session, op string, t *target, base, clone *grantSet, baseAcct, cloneAcct string, exec func(desc, stmt string) error) error {
	if sess.server.mariaDB {
		if sameRoles(base.defaultRoles, clone.defaultRoles) {
			return nil
		}
		if len(base.defaultRoles) == 0 {
			return exec("default role NONE", "SET DEFAULT ROLE NONE FOR "+cloneAcct)
		}
		return exec("default role "+base.defaultRoles[0], "SET DEFAULT ROLE "+quoteIdent(base.defaultRoles[0])+" FOR "+cloneAcct)
	}
	read := func(acct string) ([]string, error) {
		u, h := unquoteAccount(acct)
		rows, err := sess.conn.QueryContext(ctx, "SELECT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles WHERE USER = ? AND HOST = ? ORDER BY 1, 2", u, h)
		if err != nil {
			return nil, e.statementError(op, t, "reading the default roles of "+acct, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var ru, rh string
			if err := rows.Scan(&ru, &rh); err != nil {
				return nil, err
			}
			out = append(out, account(ru, rh))
		}
		return out, rows.Err()
	}
	want, err := read(baseAcct)
	if err != nil {
		return err
	}
	have, err := read(cloneAcct)
	if err != nil {
		return err
	}
	if sameRoles(want, have) {
		return nil
	}
	if len(want) == 0 {
		return exec("default role NONE", "ALTER USER "+cloneAcct+" DEFAULT ROLE NONE")
	}
	return exec("default roles "+strings.Join(want, ", "), "ALTER USER "+cloneAcct+" DEFAULT ROLE "+strings.Join(want, ", "))
}

// unquoteAccount reverses account().
func unquoteAccount(acct string) (user, host string) {
	toks, ok := tokenize(acct)
	if !ok {
		return "", ""
	}
	u, h, _, _ := readAccount(toks, 0)
	return u, h
}

// accountOptions are the REQUIRE settings and resource limits of an
// account.
type accountOptions struct {
	sslType, cipher, issuer, subject string
	limits                           []string // MAX_... values, in limitNames order
}

var limitNames = []string{"MAX_QUERIES_PER_HOUR", "MAX_UPDATES_PER_HOUR", "MAX_CONNECTIONS_PER_HOUR", "MAX_USER_CONNECTIONS", "MAX_STATEMENT_TIME"}

func readAccountOptions(ctx context.Context, sess *session, acct string) (accountOptions, error) {
	var o accountOptions
	u, h := unquoteAccount(acct)
	cols := "ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, max_updates, max_connections, max_user_connections"
	n := 4
	if sess.server.mariaDB {
		cols += ", max_statement_time"
		n = 5
	}
	vals := make([]sql.NullString, 4+n)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := sess.conn.QueryRowContext(ctx, "SELECT "+cols+" FROM mysql.user WHERE User = ? AND Host = ?", u, h).Scan(ptrs...); err != nil {
		return o, err
	}
	o.sslType, o.cipher, o.issuer, o.subject = vals[0].String, vals[1].String, vals[2].String, vals[3].String
	for _, v := range vals[4:] {
		o.limits = append(o.limits, v.String)
	}
	return o, nil
}

// requireClause prints an account's REQUIRE settings.
func (o accountOptions) requireClause() (string, bool) {
	switch strings.ToUpper(o.sslType) {
	case "":
		return "NONE", true
	case "ANY":
		return "SSL", true
	case "X509":
		return "X509", true
	}
	var parts []string
	for _, p := range []struct{ kw, v string }{{"CIPHER", o.cipher}, {"ISSUER", o.issuer}, {"SUBJECT", o.subject}} {
		if p.v == "" {
			continue
		}
		lit, ok := sqlString(p.v)
		if !ok {
			return "", false
		}
		parts = append(parts, p.kw+" "+lit)
	}
	if len(parts) == 0 {
		return "SSL", true
	}
	return strings.Join(parts, " AND "), true
}

// syncAccountOptions copies REQUIRE and the resource limits.
func (e *Engine) syncAccountOptions(ctx context.Context, sess *session, op string, t *target, baseAcct, cloneAcct string, exec func(desc, stmt string) error) error {
	want, err := readAccountOptions(ctx, sess, baseAcct)
	if err != nil {
		return e.statementError(op, t, "reading the REQUIRE settings and limits of "+baseAcct, err)
	}
	have, err := readAccountOptions(ctx, sess, cloneAcct)
	if err != nil {
		return e.statementError(op, t, "reading the REQUIRE settings and limits of "+cloneAcct, err)
	}
	req, ok := want.requireClause()
	if !ok {
		return e.newError(op, t, baseAcct+"'s REQUIRE clause holds a backslash, which the engine does not copy", nil)
	}
	haveReq, _ := have.requireClause()
	var clauses []string
	if req != haveReq {
		clauses = append(clauses, "REQUIRE "+req)
	}
	var limits []string
	for i, v := range want.limits {
		if i < len(have.limits) && have.limits[i] == v {
			continue
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return e.newError(op, t, fmt.Sprintf("%s's %s is %q", baseAcct, limitNames[i], v), nil)
		}
		limits = append(limits, limitNames[i]+" "+v)
	}
	if len(limits) > 0 {
		clauses = append(clauses, "WITH "+strings.Join(limits, " "))
	}
	if len(clauses) == 0 {
		return nil
	}
	return exec(strings.ToLower(strings.Join(clauses, " ")), "ALTER USER "+cloneAcct+" "+strings.Join(clauses, " "))
}

// names checks the user names and passwords EnsureUser is given.
var names = dbengine.Names{Check: checkUserName, NewPassword: checkNewPassword, Quote: quoteIdent, Noun: "user"}
