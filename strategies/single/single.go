package single

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
)

// Engine is what the single-user strategy needs from a database engine.
type Engine interface {
	strategies.Checker
	// SetPassword gives a user a new password.
	SetPassword(ctx context.Context, req rotator.SetPasswordRequest) error
}

// Strategy rotates the password of the user the secret names.
type Strategy struct {
	engine Engine
}

var (
	_ rotator.Strategy = (*Strategy)(nil)
)

// New returns the single-user strategy for an engine.
func New(e Engine) *Strategy { return &Strategy{engine: e} }

func (s *Strategy) validate(name string, sec *rotator.Secret) error {
	return strategies.Validate(s.engine, name, sec)
}

// CreatePending copies the current value, every field included, with a new
// password.
func (s *Strategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.validate("current", cur); err != nil {
		return nil, err
	}
	pw, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	pending := cur.Clone()
	pending.SetString(rotator.FieldPassword, pw)
	return pending, nil
}

// SetPending sets the pending password over a connection made with the
// current one (else the previous one). When neither logs in, an earlier
// attempt may already have set the pending password: if it logs in, there
// is nothing to do. On the normal path that is one login here and one in
// TestPending; AWS's template makes three, trying pending first, which
// fails on every first attempt.
func (s *Strategy) SetPending(ctx context.Context, r *rotator.Rotation) error {
	cur, pending, err := s.pair(ctx, r)
	if err != nil {
		return err
	}
	err = s.setWith(ctx, r, cur, pending)
	if err == nil || !errors.Is(err, rotator.ErrLoginFailed) {
		return err
	}
	currentErr := err
	if prev, perr := r.Previous(ctx); perr == nil && sameUser(prev, cur) {
		err = s.setWith(ctx, r, prev, pending)
		if err == nil {
			r.Logger.Info("current password rejected; set the pending one with the previous password")
			return nil
		}
		if !errors.Is(err, rotator.ErrLoginFailed) {
			return err
		}
	}
	if s.engine.Login(ctx, pending) == nil {
		r.Logger.Info("pending password already set by an earlier attempt")
		return nil
	}
	return fmt.Errorf("log in with current, previous or pending password: %w", currentErr)
}

// setWith sets the pending password connecting as conn; in a dry run it
// only logs in.
func (s *Strategy) setWith(ctx context.Context, r *rotator.Rotation, conn, pending *rotator.Secret) error {
	if r.DryRun {
		if err := s.engine.Login(ctx, conn); err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		r.Logger.Info("dry run: password not changed")
		return nil
	}
	if err := s.engine.SetPassword(ctx, rotator.SetPasswordRequest{
		Conn:     conn,
		Username: pending.Username(),
		Password: pending.Password(),
	}); err != nil {
		return fmt.Errorf("set pending password: %w", err)
	}
	r.Logger.Info("pending password set")
	return nil
}

// TestPending logs in with the pending password.
func (s *Strategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	return strategies.TestPending(ctx, s.engine, r)
}

// pair fetches and checks current and pending: the pending value may change
// only the password (AWS's templates refuse another user or host too).
func (s *Strategy) pair(ctx context.Context, r *rotator.Rotation) (cur, pending *rotator.Secret, err error) {
	if pending, err = r.Pending(ctx); err != nil {
		return nil, nil, err
	}
	if cur, err = r.Current(ctx); err != nil {
		return nil, nil, err
	}
	if err := s.validate("current", cur); err != nil {
		return nil, nil, err
	}
	if err := s.validate("pending", pending); err != nil {
		return nil, nil, err
	}
	if pending.Username() != cur.Username() {
		return nil, nil, fmt.Errorf("%w: field %q differs", rotator.ErrPendingMismatch, rotator.FieldUsername)
	}
	if pending.Host() != cur.Host() {
		return nil, nil, fmt.Errorf("%w: field %q differs", rotator.ErrPendingMismatch, rotator.FieldHost)
	}
	return cur, pending, nil
}

func sameUser(a, b *rotator.Secret) bool {
	return a.Username() == b.Username() && a.Host() == b.Host()
}
