package dualpassword

import (
	"context"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
)

// Engine is what the dual-password strategy needs from an engine.
type Engine interface {
	strategies.Checker
	// SetPasswordRetainingCurrent makes req.Password the primary password
	// of the account req.Conn logs in as (req.Username is that user) and
	// keeps the password req.Conn holds as the secondary one. It replaces
	// only that password: when the account's primary password is another
	// one (an earlier attempt already set the pending one) it changes
	// nothing and fails. A server without dual passwords is an error that
	// says so, before anything changes.
	SetPasswordRetainingCurrent(ctx context.Context, req rotator.SetPasswordRequest) error
	// DiscardOldPassword drops the secondary password of the account s
	// logs in as.
	DiscardOldPassword(ctx context.Context, s *rotator.Secret) error
}

// Strategy rotates with dual passwords.
type Strategy struct {
	engine Engine
}

var (
	_ rotator.Strategy        = (*Strategy)(nil)
	_ rotator.Finisher        = (*Strategy)(nil)
	_ rotator.Preflighter     = (*Strategy)(nil)
	_ rotator.PolicyDefaulter = (*Strategy)(nil)
)

// New returns the dual-password strategy for an engine.
func New(e Engine) *Strategy { return &Strategy{engine: e} }

// CreatePending copies the current value, every field included, with a new
// password.
func (s *Strategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := strategies.Validate(s.engine, "current", cur); err != nil {
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

// SetPending logs in with the current password and makes the pending one
// primary, keeping the current one as secondary. When that fails because
// an earlier attempt already did it (the pending password logs in), there
// is nothing to do. The current password keeps working throughout.
func (s *Strategy) SetPending(ctx context.Context, r *rotator.Rotation) error {
	pending, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	for name, sec := range map[string]*rotator.Secret{"current": cur, "pending": pending} {
		if err := strategies.Validate(s.engine, name, sec); err != nil {
			return err
		}
	}
	if pending.Username() != cur.Username() {
		return fmt.Errorf("%w: field %q differs", rotator.ErrPendingMismatch, rotator.FieldUsername)
	}
	if pending.Host() != cur.Host() {
		return fmt.Errorf("%w: field %q differs", rotator.ErrPendingMismatch, rotator.FieldHost)
	}
	if r.DryRun {
		if err := s.engine.Login(ctx, cur); err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		r.Logger.Info("dry run: password not changed")
		return nil
	}
	err = s.engine.SetPasswordRetainingCurrent(ctx, rotator.SetPasswordRequest{Conn: cur, Username: cur.Username(), Password: pending.Password()})
	if err == nil {
		r.Logger.Info("pending password set; the current one is kept as the secondary password")
		return nil
	}
	if lerr := s.engine.Login(ctx, pending); lerr == nil {
		r.Logger.Info("pending password already set by an earlier attempt")
		return nil
	}
	return fmt.Errorf("set the pending password, retaining the current one: %w", err)
}

// TestPending logs in with the pending password.
func (s *Strategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	return strategies.TestPending(ctx, s.engine, r)
}

// AfterPromotion discards the old (secondary) password, logging in with
// the promoted one. It runs only after finishSecret moved AWSCURRENT.
func (s *Strategy) AfterPromotion(ctx context.Context, r *rotator.Rotation) error {
	if r.DryRun {
		return nil
	}
	promoted, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if err := strategies.Validate(s.engine, "pending", promoted); err != nil {
		return err
	}
	if err := s.engine.DiscardOldPassword(ctx, promoted); err != nil {
		return fmt.Errorf("discard the old password: %w", err)
	}
	r.Logger.Info("old password discarded")
	return nil
}

// PasswordPolicyDefaults passes on the engine's password defaults, when it
// has any (MySQL excludes the characters AWS's MySQL templates exclude).
func (s *Strategy) PasswordPolicyDefaults(p *rotator.PasswordPolicy) {
	if d, ok := s.engine.(rotator.PolicyDefaulter); ok {
		d.PasswordPolicyDefaults(p)
	}
}

// DualPasswordPreflighter is implemented by engines that can check, before
// a rotation, that the server keeps dual passwords and that the account may
// set and discard its own (engines/mysql has it).
type DualPasswordPreflighter interface {
	PreflightDualPassword(ctx context.Context, s *rotator.Secret) []rotator.Check
}

// Preflight checks, changing nothing, what a rotation needs: the secret's
// connection and login (the engine's checks, see
// strategies.PreflightConnection), then the server's dual passwords and the
// account's privilege to use them.
func (s *Strategy) Preflight(ctx context.Context, in rotator.PreflightInput) []rotator.Check {
	checks := strategies.PreflightConnection(ctx, s.engine, in.Current, "")
	const name = "dual password"
	if !strategies.Passed(checks, strategies.LoginCheck("")) {
		return append(checks, rotator.Check{Name: name, Status: rotator.CheckSkip, Detail: "the user could not log in"})
	}
	p, ok := s.engine.(DualPasswordPreflighter)
	if !ok {
		return append(checks, rotator.Check{Name: name, Status: rotator.CheckSkip, Detail: "the engine has no check for it; the rotation's setSecret will tell"})
	}
	return append(checks, p.PreflightDualPassword(ctx, in.Current)...)
}
