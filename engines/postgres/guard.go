package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// CheckTarget is the guard of an alternating-users rotation (see the
// alternating strategy's Engine interface): connecting with req.Conn (the
// master secret), it reads the catalog and refuses, before anything
// changes, to let the rotation change
//
//   - the master's own user (session_user of the master connection);
//   - a role that is SUPERUSER, REPLICATION, BYPASSRLS or CREATEROLE, or
//     that is a member, directly or through other roles, of such a role or
//     of the master's role: resetting its password would hand whoever
//     controls the application's secret more than an application user's
//     power (a member may SET ROLE to what it is a member of);
//   - with req.Base and req.Clone set, a Clone that exists but is not a
//     direct member of Base: not a clone this rotator made (EnsureUser makes
//     it a member in the transaction that creates it), so someone else's
//     role, which is not taken over. A clone made by another tool is
//     adopted by granting it its base: GRANT base TO clone.
//
// req.Username is checked, and req.Base and req.Clone when set; a role
// that does not exist passes (EnsureUser creates the clone, or reports a
// missing pre-created user). Refusals wrap rotator.ErrNotAllowed and name
// the role and the reason.
//
// The check and the change that follows run on separate connections: a
// role changed in between by someone with the power to change roles is not
// caught, and needs no catching (whoever can do that needs no rotation to
// take a role over).
func (e *Engine) CheckTarget(ctx context.Context, req rotator.CheckTargetRequest) error {
	const op = "check target"
	t, err := e.parse(req.Conn)
	if err != nil {
		return err
	}
	users, err := req.Users(checkRoleName)
	if err != nil {
		return err
	}
	conn, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer closeConn(conn)

	var master string
	if err := conn.QueryRow(ctx, "SELECT session_user").Scan(&master); err != nil {
		return e.statementError(op, t, "reading session_user", err, t.password)
	}
	refuse := func(reason string) error {
		return e.newError(op, t, reason, nil, rotator.ErrNotAllowed)
	}
	for _, u := range users {
		if u == master {
			return refuse(fmt.Sprintf("%s is the master user itself: an application's rotation never changes the master", quote(u)))
		}
		reason, err := rolePower(ctx, conn, u, master)
		if err != nil {
			return e.statementError(op, t, "reading the roles of "+quote(u), err, t.password)
		}
		if reason != "" {
			return refuse(reason)
		}
	}
	if req.Clone != "" {
		_, exists, err := lookupRole(ctx, conn, req.Clone)
		if err != nil {
			return e.statementError(op, t, "looking up "+quote(req.Clone), err, t.password)
		}
		if exists {
			member, _, _, err := membership(ctx, conn, req.Base, req.Clone, 0)
			if err != nil {
				return e.statementError(op, t, "reading the members of "+quote(req.Base), err, t.password)
			}
			if !member {
				return refuse(fmt.Sprintf("%s exists but is not a member of %s: it is not a clone this rotator made, and is not taken over (if it is one made by another tool, adopt it as an administrator: GRANT %s TO %s; else choose another second user)",
					quote(req.Clone), quote(req.Base), quote(req.Base), quote(req.Clone)))
			}
		}
	}
	return nil
}

// rolePower says why a rotation may not change role ("" when it may): it
// or a role it is a member of, directly or indirectly, has an attribute an
// application user must not get through a rotation, or is the master.
// A role that does not exist has no power.
func rolePower(ctx context.Context, q querier, role, master string) (string, error) {
	rows, err := q.Query(ctx, `
		WITH RECURSIVE up(oid, depth) AS (
			SELECT oid, 0 FROM pg_catalog.pg_roles WHERE rolname = $1
			UNION
			SELECT m.roleid, up.depth + 1 FROM pg_catalog.pg_auth_members m JOIN up ON m.member = up.oid
		)
		SELECT r.rolname, r.rolsuper, r.rolreplication, r.rolbypassrls, r.rolcreaterole, r.rolname = $2
		FROM up JOIN pg_catalog.pg_roles r ON r.oid = up.oid
		ORDER BY up.depth, r.rolname`, role, master)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var super, replication, bypassRLS, createRole, isMaster bool
		if err := rows.Scan(&name, &super, &replication, &bypassRLS, &createRole, &isMaster); err != nil {
			return "", err
		}
		var what []string
		for _, a := range []struct {
			on   bool
			name string
		}{{super, "SUPERUSER"}, {replication, "REPLICATION"}, {bypassRLS, "BYPASSRLS"}, {createRole, "CREATEROLE"}} {
			if a.on {
				what = append(what, a.name)
			}
		}
		switch {
		case name == role && len(what) > 0:
			return fmt.Sprintf("%s has %s: a rotation never changes a role with more power than an application user", quote(role), strings.Join(what, ", ")), nil
		case isMaster:
			return fmt.Sprintf("%s is a member of the master's role %s: changing it would hand out the master's power", quote(role), quote(name)), nil
		case len(what) > 0:
			return fmt.Sprintf("%s is a member of %s, which has %s: a rotation never changes a role with more power than an application user", quote(role), quote(name), strings.Join(what, ", ")), nil
		}
	}
	return "", rows.Err()
}
