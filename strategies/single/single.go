package single

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
// current one, else the previous one. When neither logs in, an earlier
// attempt may already have set the pending password: if it logs in, there
// is nothing to do. On the normal path that is one login here and one in
// TestPending; AWS's template makes three, trying pending first, which
// fails on every first attempt.
//
// The previous password is tried with the current secret's connection
// settings (host, port, dbname, TLS fields: every field but the password),
// never with AWSPREVIOUS's own, which may be older and weaker: a TLS mode
// tightened in AWSCURRENT holds for the fallback too. It is tried only when
// AWSPREVIOUS names the same user on the same host, so it never goes to a
// host other than the one it was made for. When nothing logs in, the error
// is a *LoginError naming every cause.
func (s *Strategy) SetPending(ctx context.Context, r *rotator.Rotation) error {
	cur, pending, err := s.pair(ctx, r)
	if err != nil {
		return err
	}
	err = s.setWith(ctx, r, cur, pending)
	if err == nil || !errors.Is(err, rotator.ErrLoginFailed) {
		return err
	}
	failed := &LoginError{Current: err}
	if conn, skip, perr := previousConn(ctx, r, cur); perr != nil {
		failed.Previous = perr
	} else if skip != "" {
		failed.PreviousSkipped = skip
	} else {
		err = s.setWith(ctx, r, conn, pending)
		if err == nil {
			r.Logger.Info("current password rejected; set the pending one with the previous password over the current connection settings",
				"current_error", failed.Current.Error())
			return nil
		}
		if !errors.Is(err, rotator.ErrLoginFailed) {
			return fmt.Errorf("current password rejected (%v); with the previous password: %w", failed.Current, err)
		}
		failed.Previous = err
	}
	if err := s.engine.Login(ctx, pending); err != nil {
		failed.Pending = err
		return failed
	}
	r.Logger.Info("pending password already set by an earlier attempt")
	return nil
}

// previousConn returns the secret to try the previous password with: the
// current secret with the previous password. skip says why there is none to
// try; err is a failure to read AWSPREVIOUS.
func previousConn(ctx context.Context, r *rotator.Rotation, cur *rotator.Secret) (conn *rotator.Secret, skip string, err error) {
	prev, err := r.Previous(ctx)
	switch {
	case errors.Is(err, rotator.ErrNoPrevious):
		return nil, "there is no AWSPREVIOUS version", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading AWSPREVIOUS: %w", err)
	case !sameUser(prev, cur):
		return nil, "AWSPREVIOUS names another user or host", nil
	case prev.Password() == "":
		return nil, "AWSPREVIOUS holds no password", nil
	case prev.Password() == cur.Password():
		return nil, "AWSPREVIOUS holds the current password", nil
	}
	conn = cur.Clone()
	conn.SetString(rotator.FieldPassword, prev.Password())
	return conn, "", nil
}

// LoginError is SetPending's error when neither the current nor the
// previous password logs in and the pending one is not set yet. Its text
// names each cause (never a password); it wraps them all, so errors.Is(err,
// rotator.ErrLoginFailed) holds.
type LoginError struct {
	// Current is the failure with the current password.
	Current error
	// Previous is the failure with the previous password (or of reading
	// AWSPREVIOUS); nil when it was not tried, and PreviousSkipped says
	// why.
	Previous        error
	PreviousSkipped string
	// Pending is the failure of the check whether an earlier attempt
	// already set the pending password.
	Pending error
}

func (e *LoginError) Error() string {
	var b strings.Builder
	b.WriteString("neither the current nor the previous password logs in, and the pending one is not set: current: ")
	b.WriteString(errText(e.Current))
	b.WriteString("; previous: ")
	switch {
	case e.Previous != nil:
		b.WriteString(e.Previous.Error())
	case e.PreviousSkipped != "":
		b.WriteString("not tried (" + e.PreviousSkipped + ")")
	default:
		b.WriteString("not tried")
	}
	b.WriteString("; pending: ")
	b.WriteString(errText(e.Pending))
	return b.String()
}

// Unwrap returns the causes.
func (e *LoginError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Current, e.Previous, e.Pending} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return "no error recorded"
	}
	return err.Error()
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

// sameUser: a and b name the same user on the same host.
func sameUser(a, b *rotator.Secret) bool {
	return a.Username() == b.Username() && a.Host() == b.Host()
}
