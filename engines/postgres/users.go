package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/rotator"
)

// EnsureUser makes sure req.Username exists, connecting with req.Conn (the
// master secret: a user allowed to create roles).
//
// With req.Template empty the user is pre-created: EnsureUser only checks
// that it exists and can log in, changes nothing, and returns an error
// wrapping ErrNoSuchRole naming it when it does not exist.
//
// With req.Template set, the user becomes the template's twin, in one
// transaction:
//
//   - created when missing: CREATE ROLE ... LOGIN INHERIT NOCREATEROLE with
//     the template's CREATEDB and CONNECTION LIMIT, and req.Password's
//     verifier (an existing user keeps its password);
//   - a member of the template (GRANT template TO user; with INHERIT and SET
//     on PostgreSQL 16+): privileges granted to the template, now or later,
//     reach the user, and so do objects the template owns;
//   - the per-role setting role = template (ALTER ROLE user SET role): its
//     sessions run as the template, so objects it creates are owned by the
//     template and usable by both users. session_user stays the user. When
//     the template itself has a role setting, the user gets the same one;
//   - the template's per-role settings (search_path, statement_timeout, ...,
//     per database too) mirrored, since settings follow the session user and
//     would otherwise differ between the twins; settings the user has beyond
//     them are reset. A setting the master may not set (superuser-only
//     parameters) is skipped with a warning in the log;
//   - LOGIN, INHERIT, CREATEDB and CONNECTION LIMIT brought back in line
//     with the template when they drifted, and CREATEROLE taken away.
//
// SUPERUSER, REPLICATION, BYPASSRLS and CREATEROLE are not copied: a
// rotation never hands them out (CheckTarget refuses a template that has
// them before the alternating strategy calls EnsureUser), and only a
// superuser may grant the first three. Neither is VALID UNTIL (the
// rotation owns the user's password). Running EnsureUser again changes
// nothing when nothing drifted, and two concurrent runs both succeed: they
// take turns on the user's advisory lock (as SetPassword does), and a
// conflict the lock cannot prevent is retried.
// Objects that an existing user owned before it became a twin (e.g. made
// by another rotation function) stay its own: REASSIGN OWNED BY user TO
// template fixes that, and is left to the operator.
//
// The master needs CREATEROLE (and, on PostgreSQL 16+, ADMIN OPTION on the
// template); refusals wrap rotator.ErrPermission.
func (e *Engine) EnsureUser(ctx context.Context, req rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error) {
	const op = "ensure user"
	var resp rotator.EnsureUserResponse
	t, err := e.parse(req.Conn)
	if err != nil {
		return resp, err
	}
	if err := checkRoleName(rotator.FieldUsername, req.Username); err != nil {
		return resp, err
	}
	if err := names.CheckTemplate(req, t.username, func(reason string) error {
		return e.newError(op, t, reason, nil, rotator.ErrInvalidField)
	}); err != nil {
		return resp, err
	}
	conn, err := e.connect(ctx, op, t)
	if err != nil {
		return resp, err
	}
	defer closeConn(conn)

	if req.Template == "" {
		return resp, e.checkPrecreated(ctx, conn, t, req.Username)
	}

	var version int
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		return resp, e.statementError(op, t, "reading server_version_num", err, t.password)
	}
	if version, err = strconv.Atoi(v); err != nil {
		return resp, e.newError(op, t, "unexpected server_version_num "+strconv.Quote(v), nil)
	}

	for attempt := 1; ; attempt++ {
		created, err := e.ensureTwin(ctx, conn, t, req, version)
		if err != nil && attempt < maxAttempts && retryable(err) {
			// Another EnsureUser made the same change at the same time.
			e.cfg.Logger(ctx).Info("postgres: concurrent change, retrying", "user", req.Username, "attempt", attempt)
			continue
		}
		resp.Created = created && err == nil
		return resp, err
	}
}

// retryable: conflicts with a concurrent run of the same statements.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42710", // duplicate_object: role already exists
		"23505", // unique_violation: created or granted concurrently
		"40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	case "XX000":
		return strings.Contains(pe.Message, "concurrently")
	}
	return false
}

type roleInfo struct {
	super, inherit, createRole, createDB, canLogin, replication, bypassRLS bool
	connLimit                                                              int32
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func lookupRole(ctx context.Context, q querier, name string) (roleInfo, bool, error) {
	var r roleInfo
	err := q.QueryRow(ctx, `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit
		FROM pg_catalog.pg_roles WHERE rolname = $1`, name).
		Scan(&r.super, &r.inherit, &r.createRole, &r.createDB, &r.canLogin, &r.replication, &r.bypassRLS, &r.connLimit)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

func (e *Engine) checkPrecreated(ctx context.Context, conn *pgx.Conn, t *target, name string) error {
	const op = "ensure user"
	r, ok, err := lookupRole(ctx, conn, name)
	if err != nil {
		return e.statementError(op, t, "looking up "+quote(name), err, t.password)
	}
	if !ok {
		return e.newError(op, t, fmt.Sprintf("user %s does not exist; with no template user configured it must be created beforehand", quote(name)), nil, ErrNoSuchRole)
	}
	if !r.canLogin {
		return e.newError(op, t, fmt.Sprintf("user %s exists but cannot log in (NOLOGIN)", quote(name)), nil, rotator.ErrLoginFailed)
	}
	return nil
}

// ensureTwin does the work of EnsureUser with a template in one
// transaction.
func (e *Engine) ensureTwin(ctx context.Context, conn *pgx.Conn, t *target, req rotator.EnsureUserRequest, version int) (created bool, err error) {
	const op = "ensure user"
	user, tmplName := req.Username, req.Template
	ident := pgx.Identifier{user}.Sanitize()
	fail := func(what string, err error, secrets ...string) error {
		return e.statementError(op, t, what, err, append(secrets, t.password)...)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fail("beginning a transaction", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Take turns with other EnsureUsers and SetPasswords of this user.
	if err := lockRole(ctx, tx, user); err != nil {
		return false, fail("waiting for the lock on "+quote(user), err)
	}

	tmpl, ok, err := lookupRole(ctx, tx, tmplName)
	if err != nil {
		return false, fail("looking up the template user", err)
	}
	if !ok {
		return false, e.newError(op, t, fmt.Sprintf("template user %s does not exist", quote(tmplName)), nil, ErrNoSuchRole)
	}
	have, exists, err := lookupRole(ctx, tx, user)
	if err != nil {
		return false, fail("looking up "+quote(user), err)
	}

	var changes []string
	if !exists {
		enc, err := passwordEncryption(ctx, tx.Conn())
		if err != nil {
			return false, fail("reading password_encryption", err)
		}
		verifier, err := e.verifierFor(enc, user, req.Password)
		if err != nil {
			return false, e.newError(op, t, err.Error(), err)
		}
		lit, err := passwordLiteral(verifier)
		if err != nil {
			return false, e.newError(op, t, err.Error(), nil)
		}
		stmt := "CREATE ROLE " + ident + " WITH LOGIN INHERIT " + strings.Join(copiedAttributes(tmpl), " ") + " PASSWORD " + lit
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return false, fail("creating "+quote(user), err, req.Password, verifier)
		}
		created = true
		changes = append(changes, "created")
	} else {
		if attrs := attributeDrift(tmpl, have); len(attrs) > 0 {
			if _, err := tx.Exec(ctx, "ALTER ROLE "+ident+" WITH "+strings.Join(attrs, " ")); err != nil {
				return false, fail("aligning the attributes of "+quote(user)+" with "+quote(tmplName), err)
			}
			changes = append(changes, "attributes "+strings.Join(attrs, " "))
		}
		for _, a := range []struct {
			name       string
			user, tmpl bool
		}{{"SUPERUSER", have.super, tmpl.super}, {"REPLICATION", have.replication, tmpl.replication}, {"BYPASSRLS", have.bypassRLS, tmpl.bypassRLS}} {
			if a.user != a.tmpl {
				e.cfg.Logger(ctx).Warn("postgres: the user and its template differ in an attribute this engine does not copy",
					"user", user, "template", tmplName, "attribute", a.name, "user_has", a.user, "template_has", a.tmpl)
			}
		}
	}

	// Membership: later grants to the template reach the user.
	member, inherit, set, err := membership(ctx, tx, tmplName, user, version)
	if err != nil {
		return false, fail("reading the members of "+quote(tmplName), err)
	}
	if !member || !inherit || !set {
		grant := "GRANT " + pgx.Identifier{tmplName}.Sanitize() + " TO " + ident
		if version >= 160000 {
			grant += " WITH INHERIT TRUE, SET TRUE"
		}
		if _, err := tx.Exec(ctx, grant); err != nil {
			err = fail("granting "+quote(tmplName)+" to "+quote(user), err)
			if errors.Is(err, rotator.ErrPermission) && version >= 160000 {
				err = fmt.Errorf("%w (on PostgreSQL 16 and later the master needs ADMIN OPTION on %s)", err, quote(tmplName))
			}
			return false, err
		}
		changes = append(changes, "membership in "+quote(tmplName))
	}

	settingChanges, err := e.syncSettings(ctx, tx, t, user, tmplName)
	if err != nil {
		return false, err
	}
	changes = append(changes, settingChanges...)

	if err := tx.Commit(ctx); err != nil {
		return false, fail("committing", err)
	}
	if len(changes) == 0 {
		e.cfg.Logger(ctx).Debug("postgres: user already matches its template", "user", user, "template", tmplName)
	} else {
		e.cfg.Logger(ctx).Info("postgres: user aligned with its template", "user", user, "template", tmplName, "changes", changes)
	}
	return created, nil
}

// copiedAttributes are the attributes a twin gets: the template's CREATEDB
// and connection limit, never CREATEROLE (a rotation hands out no power to
// make or change roles).
func copiedAttributes(tmpl roleInfo) []string {
	a := []string{"NOCREATEDB", "NOCREATEROLE", "CONNECTION LIMIT " + strconv.Itoa(int(tmpl.connLimit))}
	if tmpl.createDB {
		a[0] = "CREATEDB"
	}
	return a
}

// attributeDrift lists the ALTER ROLE options that bring an existing twin
// back in line; nil when it is.
func attributeDrift(tmpl, have roleInfo) []string {
	var a []string
	if !have.canLogin {
		a = append(a, "LOGIN")
	}
	if !have.inherit {
		a = append(a, "INHERIT")
	}
	if have.createDB != tmpl.createDB {
		a = append(a, map[bool]string{true: "CREATEDB", false: "NOCREATEDB"}[tmpl.createDB])
	}
	if have.createRole {
		a = append(a, "NOCREATEROLE")
	}
	if have.connLimit != tmpl.connLimit {
		a = append(a, "CONNECTION LIMIT "+strconv.Itoa(int(tmpl.connLimit)))
	}
	return a
}

// membership reports whether user is a member of role, and (PostgreSQL 16+)
// whether some grant carries INHERIT and SET; before 16 both follow from
// membership and the user's INHERIT attribute.
func membership(ctx context.Context, q querier, role, user string, version int) (member, inherit, set bool, err error) {
	if version >= 160000 {
		err = q.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(m.inherit_option), false), coalesce(bool_or(m.set_option), false)
			FROM pg_catalog.pg_auth_members m
			WHERE m.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
			  AND m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)`, role, user).Scan(&member, &inherit, &set)
		return member, inherit, set, err
	}
	err = q.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_auth_members m
		WHERE m.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
		  AND m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)`, role, user).Scan(&member)
	return member, member, member, err
}

// setting is one per-role configuration entry.
type setting struct {
	name, value string
}

// roleSettings reads a role's settings: database name ("" for all
// databases) -> lower-cased parameter name -> setting.
func roleSettings(ctx context.Context, q querier, role string) (map[string]map[string]setting, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(d.datname, ''), s.setconfig
		FROM pg_catalog.pg_db_role_setting s
		LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
		WHERE s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
		  AND (s.setdatabase = 0 OR d.oid IS NOT NULL)`, role)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]setting{}
	for rows.Next() {
		var db string
		var config []string
		if err := rows.Scan(&db, &config); err != nil {
			rows.Close()
			return nil, err
		}
		m := out[db]
		if m == nil {
			m = map[string]setting{}
			out[db] = m
		}
		for _, kv := range config {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			m[strings.ToLower(name)] = setting{name: name, value: value}
		}
	}
	return out, rows.Err()
}

// syncSettings makes user's per-role settings those of tmpl, plus
// role = tmpl for all databases unless tmpl has its own role setting.
func (e *Engine) syncSettings(ctx context.Context, tx pgx.Tx, t *target, user, tmpl string) ([]string, error) {
	const op = "ensure user"
	want, err := roleSettings(ctx, tx, tmpl)
	if err != nil {
		return nil, e.statementError(op, t, "reading the settings of "+quote(tmpl), err, t.password)
	}
	have, err := roleSettings(ctx, tx, user)
	if err != nil {
		return nil, e.statementError(op, t, "reading the settings of "+quote(user), err, t.password)
	}
	if want[""] == nil {
		want[""] = map[string]setting{}
	}
	if _, ok := want[""]["role"]; !ok {
		want[""]["role"] = setting{name: "role", value: tmpl}
	}

	type change struct {
		db, name, value string
		reset           bool
	}
	var todo []change
	for db, ws := range want {
		for k, w := range ws {
			if h, ok := have[db][k]; !ok || h.value != w.value || h.name != w.name {
				todo = append(todo, change{db: db, name: w.name, value: w.value})
			}
		}
	}
	for db, hs := range have {
		for k, h := range hs {
			if _, ok := want[db][k]; !ok {
				todo = append(todo, change{db: db, name: h.name, reset: true})
			}
		}
	}
	sort.Slice(todo, func(i, j int) bool {
		if todo[i].db != todo[j].db {
			return todo[i].db < todo[j].db
		}
		return todo[i].name < todo[j].name
	})

	var done []string
	for _, c := range todo {
		stmt := "ALTER ROLE " + pgx.Identifier{user}.Sanitize()
		if c.db != "" {
			stmt += " IN DATABASE " + pgx.Identifier{c.db}.Sanitize()
		}
		name, desc := c.name, "set "+c.name
		if c.reset {
			stmt += " RESET " + gucName(name)
			desc = "reset " + name
		} else {
			stmt += " SET " + gucName(name) + " TO " + gucValue(name, c.value)
		}
		if c.db != "" {
			desc += " in database " + quote(c.db)
		}
		// Each in a savepoint, so that a parameter the master may not set
		// can be skipped without losing the rest.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, e.statementError(op, t, "savepoint", err, t.password)
		}
		_, err = sp.Exec(ctx, stmt)
		if err == nil {
			err = sp.Commit(ctx)
		} else {
			_ = sp.Rollback(ctx)
		}
		if err != nil {
			serr := e.statementError(op, t, desc+" for "+quote(user), err, t.password)
			if errors.Is(serr, rotator.ErrPermission) && !strings.EqualFold(name, "role") {
				e.cfg.Logger(ctx).Warn("postgres: cannot copy a setting of the template user; the twins differ in it",
					"user", user, "template", tmpl, "setting", name, "database", c.db, "error", serr.Error())
				continue
			}
			return nil, serr
		}
		done = append(done, desc)
	}
	return done, nil
}

// gucName quotes a parameter name, part by part ("a.b" for extensions'
// parameters).
func gucName(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// listGUCs are the role-settable parameters whose value is a list: the
// catalog stores them flattened ("a, \"B\""), and they must be given back
// as one literal per element.
var listGUCs = map[string]bool{
	"search_path":               true,
	"temp_tablespaces":          true,
	"session_preload_libraries": true,
	"local_preload_libraries":   true,
	"datestyle":                 true,
}

// gucValue turns a value as stored in pg_db_role_setting back into SQL
// that stores the same text.
func gucValue(name, value string) string {
	if !listGUCs[strings.ToLower(name)] {
		return quoteLiteral(value)
	}
	elems := splitGUCList(value)
	quoted := make([]string, len(elems))
	for i, el := range elems {
		quoted[i] = quoteLiteral(el)
	}
	return strings.Join(quoted, ", ")
}

// splitGUCList splits a flattened list value: elements separated by commas,
// each either bare or in double quotes with "" for a quote (the server
// quotes each element as an identifier when needed, and quotes them again
// from the literals given back).
func splitGUCList(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var el strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						el.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				el.WriteByte(s[i])
				i++
			}
			for i < len(s) && s[i] != ',' {
				i++
			}
		} else {
			start := i
			for i < len(s) && s[i] != ',' {
				i++
			}
			el.WriteString(strings.TrimRight(s[start:i], " "))
		}
		out = append(out, el.String())
		if i >= len(s) {
			return out
		}
		i++ // the comma
	}
}

// names checks the role names and passwords EnsureUser is given.
var names = dbengine.Names{Check: checkRoleName, NewPassword: checkNewPassword, Quote: quote, Noun: "role"}
