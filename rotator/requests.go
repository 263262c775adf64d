package rotator

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
}

// EnsureUserResponse says what EnsureUser did.
type EnsureUserResponse struct {
	// Created is true when the user did not exist and was created.
	Created bool
}
