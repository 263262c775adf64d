package integration

import (
	"context"
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestMySQLSingleUserRotation rotates a MariaDB account five times in a
// row with passwords holding every printable ASCII character. The
// accounts live at host 127.0.0.1, not '%' (AWS's template assumes '%').
func TestMySQLSingleUserRotation(t *testing.T) {
	db := myShared(t)
	tests := []struct {
		name string
		user string
	}{
		{"plain user", mariadbtest.UniqueName("app")},
		{"user needing quotes", "a`b'c\" d\\" + mariadbtest.UniqueName("q")[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			initial, _ := everyChar{}.NewPassword(context.Background())
			db.CreateUser(t, tt.user, mariadbtest.UserHost, initial)
			r := newMyRig(t, db, singleUser, db.Secret(tt.user, initial), myRigConfig{opts: []rotator.Option{rotator.WithPasswordGenerator(everyChar{})}})
			old := r.stage("AWSCURRENT")
			for i := 1; i <= 5; i++ {
				out := r.rotate()
				if !out.Succeeded {
					t.Fatalf("rotation %d: %v", i, out.Err)
				}
				cur := r.stage("AWSCURRENT")
				if err := r.login(cur); err != nil {
					t.Fatalf("rotation %d: AWSCURRENT does not log in: %v", i, err)
				}
				if err := r.login(old); err == nil {
					t.Fatalf("rotation %d: the old password still logs in", i)
				}
				if cur.Password() == old.Password() || len(cur.Password()) != len(printable) {
					t.Fatalf("rotation %d: password not replaced by an every-character one", i)
				}
				old = cur
			}
		})
	}
}
