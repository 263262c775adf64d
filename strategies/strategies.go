package strategies

import (
	"context"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
)

// Checker is the part of an engine that every strategy needs: check a
// secret's fields, and log in with it.
type Checker interface {
	// Validate checks a secret's fields for the engine, changing nothing.
	Validate(s *rotator.Secret) error
	// Login connects with the secret's credentials and checks the session
	// belongs to its user. A rejected credential wraps rotator.ErrLoginFailed.
	Login(ctx context.Context, s *rotator.Secret) error
}

// Validate checks a secret and says which one ("current", "pending",
// "master") an error is about.
func Validate(e Checker, name string, s *rotator.Secret) error {
	if err := e.Validate(s); err != nil {
		return fmt.Errorf("%s secret: %w", name, err)
	}
	return nil
}

// TestPending is the testSecret step every database strategy shares: log in
// with the pending credentials, changing nothing.
func TestPending(ctx context.Context, e Checker, r *rotator.Rotation) error {
	pending, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if err := Validate(e, "pending", pending); err != nil {
		return err
	}
	if err := e.Login(ctx, pending); err != nil {
		return fmt.Errorf("log in with pending credentials: %w", err)
	}
	return nil
}
