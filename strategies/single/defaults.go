package single

import "github.com/rotatorkit/rotator/rotator"

var _ rotator.PolicyDefaulter = (*Strategy)(nil)

// PasswordPolicyDefaults passes on the engine's password defaults, when it
// has any (PostgreSQL excludes the characters that break connection URLs).
func (s *Strategy) PasswordPolicyDefaults(p *rotator.PasswordPolicy) {
	if d, ok := s.engine.(rotator.PolicyDefaulter); ok {
		d.PasswordPolicyDefaults(p)
	}
}
