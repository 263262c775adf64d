package dbengine

import "github.com/rotatorkit/rotator/rotator"

// Names is how an engine checks the user names and passwords it is given.
type Names struct {
	// Check rejects a user name the server would not take as given
	// (field names it in the error).
	Check func(field, name string) error
	// NewPassword rejects a password the engine will not set.
	NewPassword func(password string) error
	// Quote quotes a user name for an error's text.
	Quote func(name string) string
	// Noun is what the server calls a user: "user", "role".
	Noun string
}

// CheckTemplate checks, before anything connects, an EnsureUser request
// that clones a template (none: nil): the template's name, that the user
// is neither its template nor master (the master secret's user), and the
// new password. invalid makes the engine's error (an ErrInvalidField) of a
// reason.
func (n Names) CheckTemplate(req rotator.EnsureUserRequest, master string, invalid func(reason string) error) error {
	if req.Template == "" {
		return nil
	}
	if err := n.Check("template", req.Template); err != nil {
		return err
	}
	switch req.Username {
	case req.Template:
		return invalid("the user and its template are the same " + n.Noun + " " + n.Quote(req.Username))
	case master:
		return invalid("the user to clone into is the master user itself")
	}
	return n.NewPassword(req.Password)
}
