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
			r.assertSingleUserRotations(5)
		})
	}
}
