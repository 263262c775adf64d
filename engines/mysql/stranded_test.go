package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestMariaDBStrandedCloneProof: an unmarked account with the clone's
// name passes CheckTarget, and is adopted by EnsureUser, only with the
// password it was made from; EnsureUser refuses it otherwise even when
// CheckTarget was not asked first, and changes nothing.
func TestMariaDBStrandedCloneProof(t *testing.T) {
	db := mariadbtest.Shared(t)
	db.Exec(t, "CREATE ROLE IF NOT EXISTS "+mysql.CloneMarkerRole)
	ctx := context.Background()
	e := engineFor(db)
	master := db.Secret(db.SuperUser, db.SuperPassword)
	base := mariadbtest.UniqueName("proof")
	clone := base + "_clone"
	db.CreateUser(t, base, mariadbtest.UserHost, mariadbtest.RandomPassword(30), "GRANT SELECT ON "+base+"_db.* TO %s")
	clonePW := mariadbtest.RandomPassword(30)
	db.CreateUser(t, clone, mariadbtest.UserHost, clonePW) // CREATE USER ran, the marker's GRANT did not
	state := func() string {
		return strings.Join(append(db.Query(t, "SELECT CONCAT(plugin, ' ', authentication_string) FROM mysql.user WHERE User = ?", clone),
			db.Query(t, "SHOW GRANTS FOR "+mariadbtest.Account(clone, mariadbtest.UserHost))...), "\n")
	}
	before := state()
	account := func(pw string) *rotator.Secret {
		s := db.Secret(clone, pw)
		if pw == "" {
			s.Delete(rotator.FieldPassword)
		}
		return s
	}
	other := mariadbtest.RandomPassword(30)
	for _, tt := range []struct {
		name, pw string
	}{{"another password", other}, {"no password", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.CheckTarget(ctx, rotator.CheckTargetRequest{Conn: master, Username: clone, Base: base, Clone: clone, Account: account(tt.pw)})
			if !errors.Is(err, rotator.ErrNotAllowed) {
				t.Fatalf("CheckTarget = %v, want ErrNotAllowed", err)
			}
			if tt.pw == "" {
				return
			}
			_, err = e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: master, Username: clone, Template: base, Password: tt.pw, Account: account(tt.pw)})
			if !errors.Is(err, rotator.ErrNotAllowed) {
				t.Fatalf("EnsureUser = %v, want ErrNotAllowed", err)
			}
			if strings.Contains(err.Error(), tt.pw) || strings.Contains(err.Error(), clonePW) {
				t.Fatal("a password is in the error")
			}
			if after := state(); after != before {
				t.Fatalf("the account changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if err := e.CheckTarget(ctx, rotator.CheckTargetRequest{Conn: master, Username: clone, Base: base, Clone: clone, Account: account(clonePW)}); err != nil {
		t.Fatalf("CheckTarget refuses the stranded clone: %v", err)
	}
	if after := state(); after != before {
		t.Fatal("CheckTarget changed the account")
	}
	res, err := e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: master, Username: clone, Template: base, Password: clonePW, Account: account(clonePW)})
	if err != nil {
		t.Fatalf("EnsureUser does not adopt the stranded clone: %v", err)
	}
	if res.Created {
		t.Error("EnsureUser says it created the clone it adopted")
	}
	grants := strings.Join(db.Query(t, "SHOW GRANTS FOR "+mariadbtest.Account(clone, mariadbtest.UserHost)), "\n")
	if !strings.Contains(grants, "`"+mysql.CloneMarkerRole+"`") || !strings.Contains(grants, "`"+base+"_db`") {
		t.Fatalf("the adopted clone is not marked or lacks the base's privileges:\n%s", grants)
	}
	if err := db.CanLogin(ctx, clone, clonePW); err != nil {
		t.Fatalf("the adopted clone's password changed: %v", err)
	}
}
