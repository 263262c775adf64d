package alternating

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
)

// FieldAlternateUsername names a pre-created second user in the secret.
// After each rotation it holds the user that is not current.
const FieldAlternateUsername = "alternateusername"

// DefaultCloneSuffix is appended to the base username to name the clone,
// as AWS's templates do.
const DefaultCloneSuffix = "_clone"

// Engine is what the alternating-users strategy needs from an engine.
type Engine interface {
	strategies.Checker
	// SetPassword gives a user a new password.
	SetPassword(ctx context.Context, req rotator.SetPasswordRequest) error
	// EnsureUser creates a user when missing (as a clone of a template),
	// or checks a pre-created one exists.
	EnsureUser(ctx context.Context, req rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error)
}

// Strategy alternates between two users.
type Strategy struct {
	engine    Engine
	suffix    string
	maxLen    int
	userLimit string
}

var _ rotator.Strategy = (*Strategy)(nil)

// Option configures the strategy.
type Option func(*Strategy)

// WithCloneSuffix sets the suffix that names the clone (default "_clone").
func WithCloneSuffix(s string) Option { return func(st *Strategy) { st.suffix = s } }

// WithMaxUsernameLength sets the engine's limit on user names in bytes
// (PostgreSQL: 63; MySQL: 32; MariaDB: 80). Zero means no limit.
func WithMaxUsernameLength(n int) Option { return func(st *Strategy) { st.maxLen = n } }

// New returns the alternating-users strategy for an engine.
func New(e Engine, opts ...Option) *Strategy {
	s := &Strategy{engine: e, suffix: DefaultCloneSuffix}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Strategy) validate(name string, sec *rotator.Secret) error {
	return strategies.Validate(s.engine, name, sec)
}

// users returns the base user, the user to rotate to, and whether the
// second user is a clone (rather than pre-created).
func (s *Strategy) users(cur *rotator.Secret) (base, next string, clone bool, err error) {
	user := cur.Username()
	if alt, ok := cur.String(FieldAlternateUsername); ok && alt != "" {
		if alt == user {
			return "", "", false, &rotator.FieldError{Secret: "current", Field: FieldAlternateUsername, Reason: "names the same user as \"username\"", Err: rotator.ErrInvalidField}
		}
		return "", alt, false, nil
	}
	base = user
	if s.suffix != "" && strings.HasSuffix(user, s.suffix) && len(user) > len(s.suffix) {
		base = strings.TrimSuffix(user, s.suffix)
		next = base
	} else {
		next = user + s.suffix
	}
	if s.maxLen > 0 && len(base)+len(s.suffix) > s.maxLen {
		return "", "", false, &rotator.FieldError{Secret: "current", Field: rotator.FieldUsername,
			Reason: fmt.Sprintf("is %d bytes: with the suffix %q the clone's name would exceed the engine's limit of %d bytes", len(base), s.suffix, s.maxLen),
			Err:    rotator.ErrInvalidField}
	}
	return base, next, true, nil
}

// CreatePending copies the current value with the other user's name and a
// new password.
func (s *Strategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.validate("current", cur); err != nil {
		return nil, err
	}
	if _, err := cur.Require(rotator.FieldMasterARN); err != nil {
		return nil, fmt.Errorf("current secret: %w", err)
	}
	_, next, clone, err := s.users(cur)
	if err != nil {
		return nil, err
	}
	pw, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	pending := cur.Clone()
	pending.SetString(rotator.FieldUsername, next)
	pending.SetString(rotator.FieldPassword, pw)
	if !clone {
		pending.SetString(FieldAlternateUsername, cur.Username())
	}
	return pending, nil
}

// SetPending checks the current credential first (so that a caller cannot
// use the function's master access for a secret it does not control: the
// confused-deputy guard of AWS's templates), then with the master secret
// ensures the other user exists and sets its password.
func (s *Strategy) SetPending(ctx context.Context, r *rotator.Rotation) error {
	pending, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	if err := s.validate("current", cur); err != nil {
		return err
	}
	if err := s.validate("pending", pending); err != nil {
		return err
	}
	if pending.Host() != cur.Host() {
		return fmt.Errorf("%w: field %q differs", rotator.ErrPendingMismatch, rotator.FieldHost)
	}
	base, next, clone, err := s.users(cur)
	if err != nil {
		return err
	}
	if pending.Username() != next {
		return fmt.Errorf("%w: pending user is not the alternate of the current user", rotator.ErrPendingMismatch)
	}
	if err := s.engine.Login(ctx, cur); err != nil {
		return fmt.Errorf("log in with current credentials before using the master: %w", err)
	}
	masterARN, err := cur.Require(rotator.FieldMasterARN)
	if err != nil {
		return fmt.Errorf("current secret: %w", err)
	}
	master, err := r.Secret(ctx, "master", masterARN)
	if err != nil {
		return err
	}
	master = withConnection(master, cur)
	if err := s.validate("master", master); err != nil {
		return err
	}
	if r.DryRun {
		if err := s.engine.Login(ctx, master); err != nil {
			return fmt.Errorf("master secret: %w", err)
		}
		r.Logger.Info("dry run: user and password not changed")
		return nil
	}
	req := rotator.EnsureUserRequest{Conn: master, Username: next, Password: pending.Password()}
	if clone && next != base {
		req.Template = base
	}
	res, err := s.engine.EnsureUser(ctx, req)
	if err != nil {
		return fmt.Errorf("ensure user with master secret: %w", err)
	}
	if res.Created {
		r.Logger.Info("second user created")
	}
	if err := s.engine.SetPassword(ctx, rotator.SetPasswordRequest{Conn: master, Username: next, Password: pending.Password()}); err != nil {
		return fmt.Errorf("set password with master secret: %w", err)
	}
	r.Logger.Info("pending user's password set")
	return nil
}

// TestPending logs in as the pending user.
func (s *Strategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	return strategies.TestPending(ctx, s.engine, r)
}

// withConnection fills the master's missing connection fields from the
// current secret: a master secret that RDS manages holds only a username
// and a password.
func withConnection(master, cur *rotator.Secret) *rotator.Secret {
	m := master.Clone()
	// The TLS settings travel with the host: a master without them would
	// otherwise connect with the engine's default mode, not the secret's.
	for _, f := range []string{rotator.FieldEngine, rotator.FieldHost, rotator.FieldPort, rotator.FieldDBName, "ssl", "sslmode", "sslrootcert"} {
		if m.Has(f) {
			continue
		}
		if raw, ok := cur.Raw(f); ok {
			m.SetRaw(f, raw)
		}
	}
	return m
}
