package alternating

import (
	"context"
	"errors"
	"fmt"

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
	// CheckTarget is the engine's half of the rule "an application's
	// rotation changes only its own pair of users, never the master's user
	// nor a more powerful role". The strategy calls it with the master
	// secret (req.Conn) after its own checks and before EnsureUser and
	// SetPassword; it must read only and change nothing.
	//
	// Every engine must refuse, with an error that wraps
	// rotator.ErrNotAllowed and names the user and the reason (never a
	// password):
	//
	//   - req.Username, req.Base or req.Clone being the master's own user
	//     (the user the master connection's session belongs to);
	//   - any of them that exists holding more power than an application
	//     user may get from a rotation: the engine's superuser, replication,
	//     row-security bypass or user-creation privileges (PostgreSQL:
	//     SUPERUSER, REPLICATION, BYPASSRLS, CREATEROLE), or reaching them,
	//     or the master's role, through membership in other roles (directly
	//     or indirectly);
	//   - with req.Base and req.Clone set, a Clone that exists but is not
	//     already a member of Base: someone else's role that happens to
	//     have the clone's name, which must not be taken over. An engine
	//     that cannot create and mark a clone atomically (MySQL) may let
	//     pass the clone an earlier attempt of the same rotation created,
	//     proven by its stored hash of req.Account's password (the
	//     pending password), and nothing else.
	//
	// Users that do not exist yet pass (EnsureUser creates the clone, or
	// reports a missing pre-created user).
	CheckTarget(ctx context.Context, req rotator.CheckTargetRequest) error
	// SetPassword gives a user a new password.
	SetPassword(ctx context.Context, req rotator.SetPasswordRequest) error
	// EnsureUser creates a user when missing (as a clone of a template),
	// or checks a pre-created one exists. With a template it is called on
	// every rotation, for the clone, and must bring an existing clone back
	// in line with the template (privileges granted or revoked since).
	EnsureUser(ctx context.Context, req rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error)
}

// Strategy alternates between two users.
type Strategy struct {
	engine Engine
	suffix string
	maxLen int
	pairs  [][2]string // pre-created pairs the function's configuration allows
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

// CreatePending copies the current value with the other user's name and a
// new password. It refuses what it can decide without the master secret:
// a "masterarn" naming this secret itself. Whether a pre-created second
// user that neither is the clone nor is listed by the function's
// configuration is allowed depends on the master secret's
// "alternatingpairs", which SetPending reads.
func (s *Strategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.validate("current", cur); err != nil {
		return nil, err
	}
	masterARN, err := requireMasterARN(cur)
	if err != nil {
		return nil, err
	}
	p, err := s.plan(cur)
	if err != nil {
		return nil, err
	}
	arn, err := r.ARN(ctx)
	if err != nil {
		return nil, err
	}
	for _, self := range []string{r.SecretID, arn} {
		if err := CheckMasterARN(self, masterARN); err != nil {
			return nil, err
		}
	}
	if !s.allowedEarly(p) {
		r.Logger.Info("the second user is not the clone and not in $" + EnvAllowedPairs + ": setSecret checks the master secret's " + FieldAlternatingPairs)
	}
	pw, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	pending := cur.Clone()
	pending.SetString(rotator.FieldUsername, p.Next)
	pending.SetString(rotator.FieldPassword, pw)
	if p.Named {
		pending.SetString(FieldAlternateUsername, cur.Username())
	}
	return pending, nil
}

// SetPending checks the current credential first (so that a caller cannot
// use the function's master access for a secret it does not control: the
// confused-deputy guard of AWS's templates), then reads the master secret
// and refuses, before anything changes: a master secret that is the
// rotated secret, an application's secret or for another server; a second
// user the current user is not entitled to (see Target); and what the
// engine's CheckTarget refuses. Then, with the master, it ensures the other
// user exists and sets its password. With a clone, EnsureUser runs for the
// clone on every rotation, also when the base is next (the clone is then
// the current user), so that engines re-read the base's privileges each
// time (MySQL copies them; PostgreSQL re-asserts the membership).
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
	p, err := s.plan(cur)
	if err != nil {
		return err
	}
	if pending.Username() != p.Next {
		return fmt.Errorf("%w: pending user is not the alternate of the current user", rotator.ErrPendingMismatch)
	}
	if err := s.engine.Login(ctx, cur); err != nil {
		return fmt.Errorf("log in with current credentials before using the master: %w", err)
	}
	masterARN, err := requireMasterARN(cur)
	if err != nil {
		return err
	}
	master, err := r.Secret(ctx, "master", masterARN)
	if err != nil {
		return selfReference(err)
	}
	if master, err = checkMaster(master, cur, p); err != nil {
		return err
	}
	if err := s.validate("master", master); err != nil {
		return err
	}
	target, err := s.Target(p, master)
	if err != nil {
		return err
	}
	target.Conn, target.Account = master, pending
	if err := s.engine.CheckTarget(ctx, target); err != nil {
		return GuardError(p, err)
	}
	if r.DryRun {
		if err := s.engine.Login(ctx, master); err != nil {
			return fmt.Errorf("master secret: %w", err)
		}
		r.Logger.Info("dry run: user and password not changed")
		return nil
	}
	req := rotator.EnsureUserRequest{Conn: master, Username: p.Next, Password: pending.Password(), Account: pending}
	if p.Clone && p.Next != p.Base {
		req.Template = p.Base
	}
	res, err := s.engine.EnsureUser(ctx, req)
	if err != nil {
		return fmt.Errorf("ensure user with master secret: %w", err)
	}
	if res.Created {
		r.Logger.Info("second user created")
	}
	if p.Clone && p.Next == p.Base {
		// The clone is the current user: it stays its base's twin on this
		// rotation too (engines re-read the base's privileges each time).
		if _, err := s.engine.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: master, Username: p.CloneName, Password: pending.Password(), Template: p.Base, Account: pending}); err != nil {
			return fmt.Errorf("keep the clone in line with its base, with master secret: %w", err)
		}
	}
	if err := s.engine.SetPassword(ctx, rotator.SetPasswordRequest{Conn: master, Username: p.Next, Password: pending.Password(), Account: pending}); err != nil {
		return fmt.Errorf("set password with master secret: %w", err)
	}
	r.Logger.Info("pending user's password set")
	return nil
}

// GuardError turns the engine's CheckTarget refusal into an error naming
// "alternateusername" (the field that chooses the second user; when it is
// not set, the second user is the clone). Other errors (the master cannot
// connect, ...) are wrapped as they are.
func GuardError(p Plan, err error) error {
	if !errors.Is(err, rotator.ErrNotAllowed) {
		return fmt.Errorf("check the users with master secret: %w", err)
	}
	what := fmt.Sprintf("names %s", rotator.Quote(p.Next))
	if !p.Named {
		what = fmt.Sprintf("is not set, so the second user is %s (the clone pair of %s)", rotator.Quote(p.Next), rotator.Quote(p.Current))
	}
	return notAllowed(what+", and the server refuses the pair: "+err.Error(), err)
}

// TestPending logs in as the pending user.
func (s *Strategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	return strategies.TestPending(ctx, s.engine, r)
}
