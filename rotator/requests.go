package rotator

import "fmt"

// Requests that strategies send to engines. The strategies declare the small
// interfaces they need (log in, set a password, ensure a user); engines
// implement methods taking these structs. Engines never see version stages:
// a strategy hands them plain secrets.

// SetPasswordRequest asks an engine to give a user a new password.
type SetPasswordRequest struct {
	// Conn is the secret whose credentials open the connection: the user's
	// own working secret (single user) or the master secret (alternating).
	Conn *Secret
	// Username is the user whose password changes. Engines quote it with
	// the driver's identifier functions; it may hold any character.
	Username string
	// Password is the new password. Engines must not send it to the server
	// as plaintext where the server accepts a hashed form.
	Password string
	// Account, when set, is the secret of the user the request is about
	// (the pending value of an alternating-users rotation), when it is not
	// Conn: engines read account-level fields from it, such as MySQL's
	// "userhost" (the host part of the account). Its connection fields
	// are not used. Its password serves one purpose only: MySQL's guard
	// lets an unmarked clone pass when its stored hash was made from this
	// password (the clone an earlier attempt of the same rotation created
	// but could not mark; whoever can make the hash match knows the
	// account's password already). Callers that hold no pending password
	// (the preflight) pass the secret without one.
	Account *Secret
}

// EnsureUserRequest asks an engine to make sure a user exists.
type EnsureUserRequest struct {
	// Conn is the master secret: a user allowed to create users.
	Conn *Secret
	// Username is the user that must exist.
	Username string
	// Password is the password to give it if it has to be created.
	Password string
	// Template is an existing user whose privileges Username must share. When
	// set, the engine makes the two users interchangeable (objects either
	// creates are usable by the other, and later grants to Template reach
	// Username). Empty means the user is pre-created: only check it exists.
	Template string
	// Account, when set, is the secret of the user the request is about
	// (the pending value of an alternating-users rotation), when it is not
	// Conn: engines read account-level fields from it, such as MySQL's
	// "userhost" (the host part of the account). Its password and
	// connection fields are not used.
	Account *Secret
}

// EnsureUserResponse says what EnsureUser did.
type EnsureUserResponse struct {
	// Created is true when the user did not exist and was created.
	Created bool
}

// CheckTargetRequest asks an engine, before anything changes, whether a
// rotation may change a user with another user's connection (the master
// secret of an alternating-users rotation). See the alternating strategy's
// Engine interface for what an engine must refuse.
type CheckTargetRequest struct {
	// Conn is the master secret, as the change would connect.
	Conn *Secret
	// Username is the user whose password the rotation sets.
	Username string
	// Base and Clone, when set, say the two users of the pair are a base
	// user and its clone (Username is one of them): the engine checks both,
	// and refuses a Clone that exists but is not already a member of Base
	// (someone else's role, not a clone this rotator made). Both empty for
	// a pre-created pair that an allowlist admitted.
	Base, Clone string
	// Account, when set, is the secret of the user the request is about
	// (the pending value of an alternating-users rotation), when it is not
	// Conn: engines read account-level fields from it, such as MySQL's
	// "userhost" (the host part of the account). Its password and
	// connection fields are not used.
	Account *Secret
}

// Users returns the users a CheckTarget must check: Username, or Base and
// Clone when the pair is a base and its clone. checkName validates each
// name with the engine's own rules (field is "username", "base" or
// "clone"). Username outside its pair is an ErrInvalidField.
func (r CheckTargetRequest) Users(checkName func(field, name string) error) ([]string, error) {
	if err := checkName(FieldUsername, r.Username); err != nil {
		return nil, err
	}
	if r.Base == "" && r.Clone == "" {
		return []string{r.Username}, nil
	}
	if err := checkName("base", r.Base); err != nil {
		return nil, err
	}
	if err := checkName("clone", r.Clone); err != nil {
		return nil, err
	}
	if r.Username != r.Base && r.Username != r.Clone {
		return nil, &FieldError{Field: FieldUsername, Reason: fmt.Sprintf("is %q, neither the base %q nor its clone %q", r.Username, r.Base, r.Clone), Err: ErrInvalidField}
	}
	return []string{r.Base, r.Clone}, nil
}
