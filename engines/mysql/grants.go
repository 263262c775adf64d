package mysql

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// A grant, as SHOW GRANTS prints it, broken into what the engine compares
// between an account and its clone.

// privAtom is one privilege on one object: SELECT on `db`.*, INSERT (`c`)
// on `db`.`t`, EXECUTE on PROCEDURE `db`.`p`.
type privAtom struct {
	object string // as printed: *.*, `db`.*, `db`.`t`, PROCEDURE `db`.`p`
	priv   string // upper-case, single spaces: SELECT, CREATE TEMPORARY TABLES
	column string // "" for table and wider privileges
}

// roleGrant is a role granted to the account.
type roleGrant struct {
	role, host string // host "" for MariaDB roles
	admin      bool
}

// grantSet is an account's privileges as SHOW GRANTS lists them.
type grantSet struct {
	atoms map[privAtom]bool
	// grantOption: objects the account holds GRANT OPTION on.
	grantOption map[string]bool
	roles       map[string]roleGrant // key: role@host
	proxies     []string             // GRANT PROXY lines, as printed
	// defaultRoles: MariaDB's SET DEFAULT ROLE line.
	defaultRoles []string
	// partialRevokes: MySQL's REVOKE lines (partial_revokes=ON).
	partialRevokes []string
}

func newGrantSet() *grantSet {
	return &grantSet{atoms: map[privAtom]bool{}, grantOption: map[string]bool{}, roles: map[string]roleGrant{}}
}

// roleKey is how roles are compared.
func roleKey(role, host string) string { return role + "@" + host }

// parseGrants reads the lines of SHOW GRANTS FOR an account.
func parseGrants(lines []string) (*grantSet, error) {
	g := newGrantSet()
	for _, line := range lines {
		if err := g.add(line); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (g *grantSet) add(line string) error {
	toks, ok := tokenize(line)
	if !ok || len(toks) < 2 {
		return fmt.Errorf("cannot read the grant %q", line)
	}
	switch {
	case isWords(toks, 0, "SET", "DEFAULT", "ROLE"):
		// SET DEFAULT ROLE `r` FOR `u`@`h`
		for i := 3; i < len(toks) && !isWords(toks, i, "FOR"); i++ {
			if toks[i].kind != tokPunct && !isWords(toks, i, "NONE") {
				g.defaultRoles = append(g.defaultRoles, toks[i].val)
			}
		}
		return nil
	case isWords(toks, 0, "REVOKE"):
		g.partialRevokes = append(g.partialRevokes, line)
		return nil
	case !isWords(toks, 0, "GRANT"):
		return fmt.Errorf("cannot read the grant %q", line)
	}
	on, to := -1, -1
	depth := 0
	for i := 1; i < len(toks); i++ {
		switch {
		case toks[i].text == "(":
			depth++
		case toks[i].text == ")":
			depth--
		case depth == 0 && on < 0 && to < 0 && isWords(toks, i, "ON"):
			on = i
		case depth == 0 && to < 0 && isWords(toks, i, "TO"):
			to = i
		}
	}
	if to < 0 {
		return fmt.Errorf("cannot read the grant %q", line)
	}
	withGrant := false
	withAdmin := false
	for i := to + 1; i < len(toks); i++ {
		if isWords(toks, i, "WITH", "GRANT", "OPTION") {
			withGrant = true
		}
		if isWords(toks, i, "WITH", "ADMIN", "OPTION") {
			withAdmin = true
		}
	}
	if on < 0 {
		// GRANT role [, role] TO account [WITH ADMIN OPTION]
		for i := 1; i < to; {
			role, host, next, ok := readAccount(toks, i)
			if !ok {
				return fmt.Errorf("cannot read the role grant %q", line)
			}
			g.roles[roleKey(role, host)] = roleGrant{role: role, host: host, admin: withAdmin}
			i = next
			if i < to && toks[i].text == "," {
				i++
			}
		}
		return nil
	}
	object := join(toks[on+1 : to])
	if isWords(toks, 1, "PROXY") && on == 2 {
		g.proxies = append(g.proxies, line)
		return nil
	}
	items, err := splitPrivileges(toks[1:on])
	if err != nil {
		return fmt.Errorf("cannot read the privileges of %q: %w", line, err)
	}
	for _, it := range items {
		if it.priv == "USAGE" {
			continue
		}
		if it.priv == "ALL" {
			it.priv = "ALL PRIVILEGES"
		}
		if len(it.columns) == 0 {
			g.atoms[privAtom{object: object, priv: it.priv}] = true
		}
		for _, c := range it.columns {
			g.atoms[privAtom{object: object, priv: it.priv, column: c}] = true
		}
	}
	if withGrant {
		g.grantOption[object] = true
	}
	return nil
}

type privItem struct {
	priv    string
	columns []string
}

// splitPrivileges reads "SELECT, INSERT (`a`, `b`), CREATE TEMPORARY TABLES"
// (MySQL prints dynamic privileges with commas and no space).
func splitPrivileges(toks []token) ([]privItem, error) {
	var out []privItem
	var words []string
	var cols []string
	flush := func() error {
		if len(words) == 0 {
			return fmt.Errorf("an empty privilege")
		}
		out = append(out, privItem{priv: strings.Join(words, " "), columns: cols})
		words, cols = nil, nil
		return nil
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.text == ",":
			if err := flush(); err != nil {
				return nil, err
			}
		case t.text == "(":
			j := i + 1
			for ; j < len(toks) && toks[j].text != ")"; j++ {
				if toks[j].kind == tokIdent || toks[j].kind == tokWord {
					cols = append(cols, toks[j].val)
				}
			}
			if j >= len(toks) {
				return nil, fmt.Errorf("unclosed column list")
			}
			i = j
		case t.kind == tokWord:
			words = append(words, t.val)
		default:
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
	}
	if len(words) > 0 || len(cols) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// privClause prints privilege atoms on one object as a privilege list.
func privClause(atoms []privAtom) string {
	byPriv := map[string][]string{}
	var privs []string
	for _, a := range atoms {
		if _, ok := byPriv[a.priv]; !ok {
			privs = append(privs, a.priv)
		}
		if a.column != "" {
			byPriv[a.priv] = append(byPriv[a.priv], a.column)
		} else if byPriv[a.priv] == nil {
			byPriv[a.priv] = []string{}
		}
	}
	sort.Strings(privs)
	parts := make([]string, 0, len(privs))
	for _, p := range privs {
		cols := byPriv[p]
		if len(cols) == 0 {
			parts = append(parts, p)
			continue
		}
		sort.Strings(cols)
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = quoteIdent(c)
		}
		parts = append(parts, p+" ("+strings.Join(q, ", ")+")")
	}
	return strings.Join(parts, ", ")
}

// syncStatements returns the statements that make the clone's privileges
// the base's: grants of what it lacks (WITH GRANT OPTION where the base has
// it), revokes of what the base does not have, role grants and revokes
// (the marker role stays). acct is the clone's quoted account. Each entry
// is a description and a statement.
func syncStatements(base, clone *grantSet, acct string, keepRoles map[string]bool) [][2]string {
	var out [][2]string
	group := func(atoms map[privAtom]bool, other map[privAtom]bool) map[string][]privAtom {
		m := map[string][]privAtom{}
		for a := range atoms {
			if !other[a] {
				m[a.object] = append(m[a.object], a)
			}
		}
		return m
	}
	objects := func(m map[string][]privAtom) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	// Revokes first: a grant of ALL PRIVILEGES after a revoke of a part
	// of it is then what stays.
	rev := group(clone.atoms, base.atoms)
	for _, obj := range objects(rev) {
		out = append(out, [2]string{"revoke " + privClause(rev[obj]) + " on " + obj, "REVOKE " + privClause(rev[obj]) + " ON " + obj + " FROM " + acct})
	}
	for obj := range clone.grantOption {
		if !base.grantOption[obj] {
			out = append(out, [2]string{"revoke GRANT OPTION on " + obj, "REVOKE GRANT OPTION ON " + obj + " FROM " + acct})
		}
	}
	add := group(base.atoms, clone.atoms)
	for obj := range base.grantOption {
		if !clone.grantOption[obj] {
			if _, ok := add[obj]; !ok {
				// Only the option is missing: grant it with what the base
				// holds there (the clone has it already).
				for a := range base.atoms {
					if a.object == obj {
						add[obj] = append(add[obj], a)
					}
				}
				if len(add[obj]) == 0 {
					add[obj] = []privAtom{{object: obj, priv: "USAGE"}}
				}
			}
		}
	}
	for _, obj := range objects(add) {
		stmt := "GRANT " + privClause(add[obj]) + " ON " + obj + " TO " + acct
		desc := "grant " + privClause(add[obj]) + " on " + obj
		if base.grantOption[obj] {
			stmt += " WITH GRANT OPTION"
			desc += " with grant option"
		}
		out = append(out, [2]string{desc, stmt})
	}
	var roleKeys []string
	for k := range clone.roles {
		roleKeys = append(roleKeys, k)
	}
	sort.Strings(roleKeys)
	for _, k := range roleKeys {
		r := clone.roles[k]
		if keepRoles[k] {
			continue
		}
		b, ok := base.roles[k]
		switch {
		case !ok:
			out = append(out, [2]string{"revoke role " + k, "REVOKE " + roleName(r) + " FROM " + acct})
		case r.admin && !b.admin:
			out = append(out, [2]string{"revoke admin option on role " + k, "REVOKE ADMIN OPTION FOR " + roleName(r) + " FROM " + acct})
		}
	}
	roleKeys = roleKeys[:0]
	for k := range base.roles {
		roleKeys = append(roleKeys, k)
	}
	sort.Strings(roleKeys)
	for _, k := range roleKeys {
		b := base.roles[k]
		c, ok := clone.roles[k]
		if ok && (c.admin || !b.admin) {
			continue
		}
		stmt := "GRANT " + roleName(b) + " TO " + acct
		if b.admin {
			stmt += " WITH ADMIN OPTION"
		}
		out = append(out, [2]string{"grant role " + k, stmt})
	}
	return out
}

// roleName prints a role: `r` (MariaDB) or `r`@`h` (MySQL).
func roleName(r roleGrant) string {
	if r.host == "" {
		return quoteIdent(r.role)
	}
	return account(r.role, r.host)
}

// sameRoles reports whether two role lists name the same roles.
func sameRoles(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
