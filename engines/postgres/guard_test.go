package postgres

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestPostgresCheckTarget: the guard refuses the master's own user, roles
// with more power than an application user (their own or through
// membership), members of the master, and a role with the clone's name
// that is not a member of its base; it lets plain users, real clones and
// users that do not exist yet through, and changes nothing.
func TestPostgresCheckTarget(t *testing.T) {
	s := pgtest.Shared(t)
	e, _ := newEngine(t)
	ctx := ctxT(t)
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	master, masterPW := pgtest.UniqueName("guard_master"), pgtest.RandomPassword(24)
	s.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
	conn := s.Secret(master, masterPW)

	role := func(prefix string, attrs ...string) string {
		name := pgtest.UniqueName(prefix)
		s.CreateRole(t, name, pgtest.RandomPassword(20), append([]string{"LOGIN"}, attrs...)...)
		return name
	}
	plain := role("plain")
	base := role("base")
	clone := base + "_clone"
	s.CreateRole(t, clone, pgtest.RandomPassword(20), "LOGIN")
	s.Exec(t, "GRANT "+q(base)+" TO "+q(clone))
	foreignBase := role("fbase")
	foreignClone := foreignBase + "_clone"
	s.CreateRole(t, foreignClone, pgtest.RandomPassword(20), "LOGIN")
	reverse := role("rbase") // its clone is a member the other way round
	s.CreateRole(t, reverse+"_clone", pgtest.RandomPassword(20), "LOGIN")
	s.Exec(t, "GRANT "+q(reverse+"_clone")+" TO "+q(reverse))
	memberOfMaster := role("mmember")
	s.Exec(t, "GRANT "+q(master)+" TO "+q(memberOfMaster))
	group, middle, deep := pgtest.UniqueName("admins"), pgtest.UniqueName("middle"), role("deep")
	s.CreateRole(t, group, "", "NOLOGIN", "CREATEROLE")
	s.CreateRole(t, middle, "", "NOLOGIN")
	s.Exec(t, "GRANT "+q(group)+" TO "+q(middle)+"; GRANT "+q(middle)+" TO "+q(deep))
	powerBase := role("pbase", "CREATEROLE")

	tests := []struct {
		name string
		req  rotator.CheckTargetRequest
		want string // "" : allowed; else in the refusal
		is   error
	}{
		{name: "a plain user", req: rotator.CheckTargetRequest{Username: plain}},
		{name: "a user that does not exist", req: rotator.CheckTargetRequest{Username: pgtest.UniqueName("nobody")}},
		{name: "a real clone", req: rotator.CheckTargetRequest{Username: clone, Base: base, Clone: clone}},
		{name: "back to the base of a real clone", req: rotator.CheckTargetRequest{Username: base, Base: base, Clone: clone}},
		{name: "a clone not made yet", req: rotator.CheckTargetRequest{Username: plain + "_clone", Base: plain, Clone: plain + "_clone"}},
		{name: "the master", req: rotator.CheckTargetRequest{Username: master}, want: "is the master user itself", is: rotator.ErrNotAllowed},
		{name: "the master as the base", req: rotator.CheckTargetRequest{Username: master + "_clone", Base: master, Clone: master + "_clone"}, want: "is the master user itself", is: rotator.ErrNotAllowed},
		{name: "a superuser", req: rotator.CheckTargetRequest{Username: s.SuperUser}, want: "has SUPERUSER", is: rotator.ErrNotAllowed},
		{name: "REPLICATION", req: rotator.CheckTargetRequest{Username: role("repl", "REPLICATION")}, want: "has REPLICATION", is: rotator.ErrNotAllowed},
		{name: "BYPASSRLS", req: rotator.CheckTargetRequest{Username: role("bypass", "BYPASSRLS")}, want: "has BYPASSRLS", is: rotator.ErrNotAllowed},
		{name: "CREATEROLE", req: rotator.CheckTargetRequest{Username: role("cr", "CREATEROLE")}, want: "has CREATEROLE", is: rotator.ErrNotAllowed},
		{name: "a CREATEROLE base", req: rotator.CheckTargetRequest{Username: powerBase + "_clone", Base: powerBase, Clone: powerBase + "_clone"}, want: "has CREATEROLE", is: rotator.ErrNotAllowed},
		{name: "a member of the master", req: rotator.CheckTargetRequest{Username: memberOfMaster}, want: "member of the master's role", is: rotator.ErrNotAllowed},
		{name: "an indirect member of a CREATEROLE role", req: rotator.CheckTargetRequest{Username: deep}, want: "is a member of " + q(group) + ", which has CREATEROLE", is: rotator.ErrNotAllowed},
		{name: "a foreign role with the clone's name", req: rotator.CheckTargetRequest{Username: foreignClone, Base: foreignBase, Clone: foreignClone}, want: "is not a member of", is: rotator.ErrNotAllowed},
		{name: "the base, from a foreign role with the clone's name", req: rotator.CheckTargetRequest{Username: foreignBase, Base: foreignBase, Clone: foreignClone}, want: "is not a member of", is: rotator.ErrNotAllowed},
		{name: "membership the wrong way round", req: rotator.CheckTargetRequest{Username: reverse + "_clone", Base: reverse, Clone: reverse + "_clone"}, want: "is not a member of", is: rotator.ErrNotAllowed},
		{name: "a user outside its pair", req: rotator.CheckTargetRequest{Username: plain, Base: base, Clone: clone}, want: "neither the base", is: rotator.ErrInvalidField},
	}
	before := snapshot(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Conn = conn
			err := e.CheckTarget(ctx, tt.req)
			noSecrets(t, err, masterPW)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want one saying %q and wrapping %v", err, tt.want, tt.is)
			}
			if !strings.Contains(err.Error(), tt.req.Username) && !strings.Contains(err.Error(), tt.req.Base) {
				t.Fatalf("the refusal does not name the user: %v", err)
			}
		})
	}
	if after := snapshot(t, s); !reflect.DeepEqual(before, after) {
		t.Fatal("CheckTarget changed the server")
	}
}

// TestPostgresEnsureUserCopiesNoCreateRole: a twin never gets CREATEROLE,
// and loses it when it has it.
func TestPostgresEnsureUserCopiesNoCreateRole(t *testing.T) {
	s := pgtest.Shared(t)
	ts := newTwinSetup(t, s)
	s.Exec(t, "ALTER ROLE "+pgx.Identifier{ts.base}.Sanitize()+" CREATEROLE")
	ts.ensure(t)
	createRole := func() bool {
		var b bool
		if err := s.Admin(t).QueryRow(ts.ctx, "SELECT rolcreaterole FROM pg_roles WHERE rolname = $1", ts.twin).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if createRole() {
		t.Fatal("the twin was created with CREATEROLE")
	}
	s.Exec(t, "ALTER ROLE "+pgx.Identifier{ts.twin}.Sanitize()+" CREATEROLE")
	ts.ensure(t)
	if createRole() {
		t.Fatal("the twin kept CREATEROLE")
	}
}
