package alternating

import (
	"fmt"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// Plan says what the next rotation of a secret does, read from its current
// value alone (preflight checks use it; it changes nothing).
type Plan struct {
	// Current is the user the secret names now.
	Current string
	// Next is the user that gets a new password and becomes current.
	Next string
	// Clone is true when the secret names no "alternateusername": the
	// rotation creates Base's clone on its first run and keeps it Base's
	// twin.
	Clone bool
	// Base and CloneName are the two users when they are a base user and
	// its clone by name: always when Clone, and when "alternateusername"
	// names the current user's clone (or, from a clone, its base). Both ""
	// for another pre-created pair.
	Base, CloneName string
	// Named is true when Next comes from "alternateusername".
	Named bool
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
	masterARN, err := requireMasterARN(cur)
	if err != nil {
		return Plan{}, err
	}
	p, err := s.plan(cur)
	if err != nil {
		return Plan{}, err
	}
	p.MasterARN = masterARN
	return p, nil
}

// clonePair returns a user's base and clone names: (user, user+suffix),
// or (base, user) when user ends in the suffix.
func (s *Strategy) clonePair(user string) (base, clone string) {
	if strings.HasSuffix(user, s.suffix) && len(user) > len(s.suffix) {
		return strings.TrimSuffix(user, s.suffix), user
	}
	return user, user + s.suffix
}

// plan works out the two users from the current value.
func (s *Strategy) plan(cur *rotator.Secret) (Plan, error) {
	user := cur.Username()
	p := Plan{Current: user}
	base, clone := s.clonePair(user)
	if alt, ok := cur.String(FieldAlternateUsername); ok && alt != "" {
		if alt == user {
			return Plan{}, &rotator.FieldError{Secret: "current", Field: FieldAlternateUsername, Reason: "names the same user as \"username\"", Err: rotator.ErrInvalidField}
		}
		p.Next, p.Named = alt, true
		if s.suffix != "" && (alt == base || alt == clone) {
			p.Base, p.CloneName = base, clone
		}
		return p, nil
	}
	if s.suffix == "" {
		return Plan{}, &rotator.FieldError{Secret: "current", Field: FieldAlternateUsername, Reason: "is missing, and the strategy has no clone suffix to name a clone", Err: rotator.ErrMissingField}
	}
	if s.maxLen > 0 && len(base)+len(s.suffix) > s.maxLen {
		return Plan{}, &rotator.FieldError{Secret: "current", Field: rotator.FieldUsername,
			Reason: fmt.Sprintf("is %d bytes: with the suffix %q the clone's name would exceed the engine's limit of %d bytes", len(base), s.suffix, s.maxLen),
			Err:    rotator.ErrInvalidField}
	}
	p.Clone, p.Base, p.CloneName = true, base, clone
	p.Next = clone
	if user == clone {
		p.Next = base
	}
	return p, nil
}

// MasterConnection returns the master secret as SetPending connects with
// it, after the checks SetPending makes (see checkMaster): its missing
// connection fields (engine, host, port, dbname, TLS) filled from the
// current secret, since a master secret that RDS manages holds only a
// username and a password, and its TLS settings made at least as strict
// as the current secret's. An error names "masterarn" and wraps
// rotator.ErrNotAllowed when the master secret is for another server or
// is an application's secret.
func MasterConnection(master, cur *rotator.Secret, p Plan) (*rotator.Secret, error) {
	return checkMaster(master, cur, p)
}
