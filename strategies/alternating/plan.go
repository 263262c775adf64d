package alternating

import (
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
)

// Plan says what the next rotation of a secret does, read from its current
// value alone (preflight checks use it; it changes nothing).
type Plan struct {
	// Current is the user the secret names now.
	Current string
	// Next is the user that gets a new password and becomes current.
	Next string
	// Clone is true when the second user is a clone of Base, created by
	// the first rotation; false when both users are pre-created.
	Clone bool
	// Base is the user a clone is a twin of ("" when pre-created).
	Base string
	// MasterARN is the secret's "masterarn": the master secret that
	// creates the clone and sets passwords.
	MasterARN string
}

// Users returns the two users of the pair.
func (p Plan) Users() []string { return []string{p.Current, p.Next} }

// Plan returns what the next rotation of cur does. Its errors are those
// CreatePending would return for the same value.
func (s *Strategy) Plan(cur *rotator.Secret) (Plan, error) {
	if err := s.validate("current", cur); err != nil {
		return Plan{}, err
	}
	masterARN, err := cur.Require(rotator.FieldMasterARN)
	if err != nil {
		return Plan{}, fmt.Errorf("current secret: %w", err)
	}
	base, next, clone, err := s.users(cur)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Current: cur.Username(), Next: next, Clone: clone, Base: base, MasterARN: masterARN}, nil
}

// MasterConnection returns the master secret as SetPending uses it: its
// missing connection fields (engine, host, port, dbname) filled from the
// current secret, since a master secret that RDS manages holds only a
// username and a password.
func MasterConnection(master, cur *rotator.Secret) *rotator.Secret {
	return withConnection(master, cur)
}
