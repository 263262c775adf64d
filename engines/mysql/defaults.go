package mysql

import "github.com/rotatorkit/rotator/rotator"

// DefaultExcludeCharacters are the characters AWS's MySQL rotation
// templates leave out of generated passwords by default: each breaks the
// connection URLs (mysql://user:password@host/db), option files or shell
// command lines that applications build from the secret.
// EXCLUDE_CHARACTERS overrides it, as in AWS's templates.
const DefaultExcludeCharacters = `/@"'\`

var _ rotator.PolicyDefaulter = (*Engine)(nil)

// PasswordPolicyDefaults sets AWS's MySQL default exclusions.
func (e *Engine) PasswordPolicyDefaults(p *rotator.PasswordPolicy) {
	p.ExcludeCharacters = DefaultExcludeCharacters
}
