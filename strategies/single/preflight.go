package single

import (
	"context"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
)

// OwnPasswordPreflighter is implemented by engines that can say, once the
// user logged in, whether it may change its own password (PostgreSQL: any
// role may; MySQL: it depends on the account).
type OwnPasswordPreflighter interface {
	PreflightOwnPassword(ctx context.Context, s *rotator.Secret) rotator.Check
}

var _ rotator.Preflighter = (*Strategy)(nil)

// Preflight checks the secret's connection and login with the engine's
// checks, then the user's right to change its own password. It changes
// nothing.
func (s *Strategy) Preflight(ctx context.Context, in rotator.PreflightInput) []rotator.Check {
	checks := strategies.PreflightConnection(ctx, s.engine, in.Current, "")
	const name = "privilege to change password"
	if !strategies.Passed(checks, strategies.LoginCheck("")) {
		return append(checks, rotator.Check{Name: name, Status: rotator.CheckSkip, Detail: "the user could not log in"})
	}
	if p, ok := s.engine.(OwnPasswordPreflighter); ok {
		c := p.PreflightOwnPassword(ctx, in.Current)
		c.Name = name
		return append(checks, c)
	}
	return append(checks, rotator.Check{Name: name, Status: rotator.CheckSkip, Detail: "the engine has no check for it; the rotation's setSecret will tell"})
}
