package mysql

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// CheckTarget is the guard of an alternating-users rotation (see the
// alternating strategy's Engine interface): connecting with req.Conn (the
// master secret), it reads the server's grants and refuses, before anything
// changes, to let the rotation change
//
//   - the master's own user (any account with the user name of the master
//     session's CURRENT_USER());
//   - an account with more power than an application user may get from a
//     rotation, itself or through the roles granted to it (recursively):
//     any privilege on the mysql schema; on *.* ALL PRIVILEGES, SUPER, CREATE
//     USER, GRANT OPTION, FILE, PROCESS, RELOAD, SHUTDOWN, the write and
//     DDL privileges (which reach the mysql schema: INSERT, UPDATE, DELETE,
//     CREATE, DROP, ALTER), replication, SET USER and the administrative
//     privileges (MariaDB's "... ADMIN", MySQL's "..._ADMIN", SYSTEM_USER,
//     SET_USER_ID, SET_ANY_DEFINER); a PROXY grant; the master's account
//     granted as a role (MySQL 8);
//   - with req.Base and req.Clone set, an account with the clone's name
//     that is not a clone of the base: a clone of the base is an account
//     on the base's host that was granted CloneMarkerRole, as EnsureUser
//     does when it creates it. Someone else's account that happens to have
//     the clone's name is not taken over. One unmarked account passes: the
//     clone an earlier attempt of this rotation created and could not mark
//     (a connection lost between the two statements), proven by its
//     authentication string, made from req.Account's password (the
//     pending password), and by holding nothing but that password (see
//     strandedClone); EnsureUser then adopts it.
//
// The accounts checked are, for each user name, the one at "userhost" of
// req.Account when it names one, else every account with that name.
// Accounts that do not exist pass. Refusals wrap rotator.ErrNotAllowed.
func (e *Engine) CheckTarget(ctx context.Context, req rotator.CheckTargetRequest) error {
	const op = "check target"
	t, err := e.parse(req.Conn)
	if err != nil {
		return err
	}
	users, err := req.Users(checkUserName)
	if err != nil {
		return err
	}
	uh, err := e.userHostOf(req.Account, req.Username)
	if err != nil {
		return err
	}
	sess, err := e.connect(ctx, op, t)
	if err != nil {
		return err
	}
	defer sess.close()
	var cu string
	if err := sess.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return e.statementError(op, t, "reading CURRENT_USER()", err)
	}
	mu, mh := splitAccount(cu)
	// The password of req.Account serves one purpose only: proving that
	// an unmarked clone is the one this rotation created (strandedClone).
	var pendingPassword string
	if req.Account != nil {
		pendingPassword = req.Account.Password()
	}
	refuse := func(reason string) error { return e.newError(op, t, reason, nil, rotator.ErrNotAllowed) }

	hostsOf := func(u string) ([]string, error) {
		hosts, err := accountHosts(ctx, sess, u)
		if err != nil {
			return nil, e.statementError(op, t, "looking up the accounts named "+quoteIdent(u), err)
		}
		if uh == "" {
			return hosts, nil
		}
		if contains(hosts, uh) {
			return []string{uh}, nil
		}
		return nil, nil
	}
	for _, u := range users {
		if u == mu {
			return refuse(fmt.Sprintf("%s is the master's own user: an application's rotation never changes the master", quoteIdent(u)))
		}
		hosts, err := hostsOf(u)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			reason, err := e.accountPower(ctx, sess, op, t, account(u, h), mu, mh)
			if err != nil {
				return err
			}
			if reason != "" {
				return refuse(reason)
			}
		}
	}
	if req.Clone != "" {
		hosts, err := hostsOf(req.Clone)
		if err != nil {
			return err
		}
		mk := markerKey(sess.server)
		for _, h := range hosts {
			acct := account(req.Clone, h)
			// EnsureUser creates a clone and marks it under this lock: a
			// concurrent rotation that is creating it finishes first.
			if err := e.lockAccount(ctx, sess, op, t, req.Clone, h); err != nil {
				return err
			}
			lines, err := showGrants(ctx, sess.conn, acct)
			if err != nil {
				return e.statementError(op, t, "reading the grants of "+acct, err)
			}
			g, err := parseGrants(lines)
			if err != nil {
				return e.newError(op, t, acct+": "+err.Error(), nil)
			}
			if _, ok := g.roles[mk]; ok {
				continue
			}
			// The clone an earlier attempt created but could not mark
			// passes: EnsureUser adopts it (see strandedClone).
			stranded, err := e.strandedClone(ctx, sess, op, t, req.Base, acct, g, pendingPassword)
			if err != nil {
				return err
			}
			if !stranded {
				return refuse(notACloneReason(acct, req.Base))
			}
		}
	}
	return nil
}

// accountPower says why a rotation may not change acct ("" when it may).
func (e *Engine) accountPower(ctx context.Context, sess *session, op string, t *target, acct, masterUser, masterHost string) (string, error) {
	seen := map[string]bool{}
	var walk func(who, via string) (string, error)
	walk = func(who, via string) (string, error) {
		if seen[who] {
			return "", nil
		}
		seen[who] = true
		lines, err := showGrants(ctx, sess.conn, who)
		if err != nil {
			return "", e.statementError(op, t, "reading the grants of "+who, err)
		}
		g, err := parseGrants(lines)
		if err != nil {
			return "", e.newError(op, t, who+": "+err.Error(), nil)
		}
		subject := acct + " has"
		if via != "" {
			subject = acct + " is granted the role " + via + ", which has"
		}
		if what := powerful(g); what != "" {
			return fmt.Sprintf("%s %s: a rotation never changes an account with more power than an application user", subject, what), nil
		}
		for _, r := range g.roles {
			if r.role == masterUser && (r.host == masterHost || r.host == "") {
				return fmt.Sprintf("%s is granted the master's account %s as a role: changing it would hand out the master's power", acct, account(masterUser, masterHost)), nil
			}
			name := roleName(r)
			reason, err := walk(name, name)
			if err != nil || reason != "" {
				return reason, err
			}
		}
		return "", nil
	}
	return walk(acct, "")
}

// globalPowers are the privileges on *.* an application user must not get
// through a rotation.
var globalPowers = map[string]bool{
	"ALL PRIVILEGES": true, "SUPER": true, "CREATE USER": true, "FILE": true, "PROCESS": true,
	"RELOAD": true, "SHUTDOWN": true, "INSERT": true, "UPDATE": true, "DELETE": true,
	"CREATE": true, "DROP": true, "ALTER": true, "REPLICATION SLAVE": true, "REPLICATION REPLICA": true,
	"SET USER": true, "SYSTEM_USER": true, "SET_USER_ID": true, "SET_ANY_DEFINER": true,
	"ALLOW_NONEXISTENT_DEFINER": true, "CREATE ROLE": true, "DROP ROLE": true,
}

// powerful names what in g makes an account too powerful ("" when nothing).
func powerful(g *grantSet) string {
	var what []string
	for a := range g.atoms {
		switch {
		case a.object == "*.*" && (globalPowers[a.priv] || strings.HasSuffix(a.priv, " ADMIN") || strings.HasSuffix(a.priv, "_ADMIN")):
			what = append(what, a.priv+" on *.*")
		case strings.HasPrefix(a.object, "`mysql`.") || strings.HasPrefix(a.object, "mysql."):
			what = append(what, a.priv+" on "+a.object)
		}
	}
	if g.grantOption["*.*"] {
		what = append(what, "GRANT OPTION on *.*")
	}
	if len(g.proxies) > 0 {
		what = append(what, "a PROXY grant")
	}
	if len(what) == 0 {
		return ""
	}
	sort.Strings(what)
	return strings.Join(what, ", ")
}
