package postgres

import "github.com/rotatorkit/rotator/rotator"

// DefaultExcludeCharacters are the characters AWS's PostgreSQL rotation
// templates leave out of generated passwords by default: each breaks the
// connection URLs (postgres://user:password@host/db) or .pgpass files
// (host:port:db:user:password) that applications build from the secret.
// EXCLUDE_CHARACTERS overrides it, as in AWS's templates.
const DefaultExcludeCharacters = `:/@"'\`

var _ rotator.PolicyDefaulter = (*Engine)(nil)

// PasswordPolicyDefaults sets AWS's PostgreSQL default exclusions.
func (e *Engine) PasswordPolicyDefaults(p *rotator.PasswordPolicy) {
	p.ExcludeCharacters = DefaultExcludeCharacters
}
