package dualkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/rotator"
)

// Fields of the secret the strategy reads besides the engine's.
const (
	// FieldAdminARN names the secret holding the credential that manages
	// keys, when the key cannot manage itself. It is never rotated and
	// never copied into the application's secret.
	FieldAdminARN = "adminarn"
	// DefaultValueField and DefaultIDField are the secret's fields for the
	// key and its vendor id, unless the engine's capabilities say others.
	DefaultValueField = "api_key"
	DefaultIDField    = "key_id"
	// DefaultNamePrefix starts the name of every key the strategy makes.
	DefaultNamePrefix = "rotator-"
	// InFlightWindow is how long a createSecret may still be running: a
	// Lambda function runs at most 15 minutes. A key carrying this
	// rotation's token that is younger may belong to a concurrent
	// delivery about to store it, so createSecret never revokes it to
	// free a slot (setSecret does, once the stored value says who won).
	InFlightWindow = 15 * time.Minute
	// dryRunValue stands for the key in a dry run's pending value, which
	// is never stored.
	dryRunValue = "dry-run-no-key-was-created"
)

// Errors the strategy returns besides the engine's.
var (
	// ErrKeyLimit: the vendor's key limit is reached and no key may be
	// freed (they are AWSCURRENT's, hand-made, or this rotation's own).
	ErrKeyLimit = errors.New("vendor key limit reached")
)

// Strategy rotates vendor-issued keys. See the package comment.
type Strategy struct {
	engine Engine
	caps   rotator.KeyCapabilities
	prefix string
	now    func() time.Time
}

var (
	_ rotator.Strategy      = (*Strategy)(nil)
	_ rotator.Finisher      = (*Strategy)(nil)
	_ rotator.CreateAborter = (*Strategy)(nil)
	_ rotator.Preflighter   = (*Strategy)(nil)
)

// Option configures the strategy.
type Option func(*Strategy)

// WithNamePrefix sets the prefix of the keys' names (default "rotator-").
// Keys whose names do not start with it are never touched.
func WithNamePrefix(p string) Option { return func(s *Strategy) { s.prefix = p } }

// WithClock sets the clock that dates keys against InFlightWindow.
func WithClock(now func() time.Time) Option { return func(s *Strategy) { s.now = now } }

// New returns the strategy for a vendor engine. It fails on capabilities
// it cannot honour.
func New(e Engine, opts ...Option) (*Strategy, error) {
	if e == nil {
		return nil, errors.New("dualkey.New: nil engine")
	}
	s := &Strategy{engine: e, caps: e.Capabilities(), prefix: DefaultNamePrefix, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.caps.ValueField == "" {
		s.caps.ValueField = DefaultValueField
	}
	if s.caps.IDField == "" {
		s.caps.IDField = DefaultIDField
	}
	if s.caps.Vendor == "" {
		return nil, errors.New("dualkey.New: the engine's capabilities name no vendor")
	}
	if s.caps.Finding == rotator.FindByRecordedID && s.caps.MaxKeys == 0 && !s.caps.RollsInPlace {
		// Without names, a key two rotations old is known by no version
		// any more: only a limit (freeing AWSPREVIOUS's key first) keeps
		// the count bounded.
		return nil, fmt.Errorf("dualkey.New: %s: keys without names need a key limit (MaxKeys)", s.caps.Vendor)
	}
	if s.caps.NeedsActivation {
		if _, ok := e.(Activator); !ok {
			return nil, fmt.Errorf("dualkey.New: %s needs activation but its engine has no ActivateKey", s.caps.Vendor)
		}
	}
	if n := s.caps.MaxNameLength; n > 0 && len(s.prefix)+12+1+40 > n {
		return nil, fmt.Errorf("dualkey.New: %s: names of %d bytes at most leave no room for prefix %q", s.caps.Vendor, n, s.prefix)
	}
	return s, nil
}

// Capabilities returns the vendor's record as the strategy uses it
// (defaults filled in).
func (s *Strategy) Capabilities() rotator.KeyCapabilities { return s.caps }

// SecretPrefix is the name prefix of every key the strategy makes for the
// secret whose ARN is arn: the prefix and a digest of the ARN (a name
// need not reveal the account or the secret's name).
func (s *Strategy) SecretPrefix(arn string) string {
	d := sha256.Sum256([]byte(arn))
	return s.prefix + hex.EncodeToString(d[:6]) + "-"
}

// KeyName is the name of the key made for a rotation of the secret arn
// with token. Tokens longer than 40 bytes are replaced by a digest.
func (s *Strategy) KeyName(arn, token string) string {
	if len(token) > 40 {
		d := sha256.Sum256([]byte(token))
		token = hex.EncodeToString(d[:20])
	}
	return s.SecretPrefix(arn) + token
}

// keyOf returns a secret's key value and id ("" when absent).
func (s *Strategy) keyOf(sec *rotator.Secret) (value, id string) {
	value, _ = sec.String(s.caps.ValueField)
	id, _ = sec.String(s.caps.IDField)
	return value, id
}

// validate checks a secret for the engine and says which one.
func (s *Strategy) validate(name string, sec *rotator.Secret) error {
	if _, err := sec.Require(s.caps.ValueField); err != nil {
		return fmt.Errorf("%s secret: %w", name, err)
	}
	if err := s.engine.Validate(sec); err != nil {
		return fmt.Errorf("%s secret: %w", name, err)
	}
	return nil
}

// admin returns the secret whose credential manages keys: the admin
// secret named by "adminarn", checked, or cur itself.
func (s *Strategy) admin(ctx context.Context, r *rotator.Rotation, cur *rotator.Secret) (*rotator.Secret, error) {
	if !cur.Has(FieldAdminARN) {
		return cur, nil
	}
	arn, err := cur.Require(FieldAdminARN)
	if err != nil {
		return nil, fmt.Errorf("current secret: %w", err)
	}
	a, err := r.Secret(ctx, "admin", arn)
	if err != nil {
		return nil, adminRefusal(err)
	}
	if err := s.checkAdmin(a, cur); err != nil {
		return nil, err
	}
	return a, nil
}

// checkAdmin applies the admin secret's guards that need its value.
func (s *Strategy) checkAdmin(a, cur *rotator.Secret) error {
	if a.Has(FieldAdminARN) {
		return adminError(`names a secret that has an "adminarn" of its own: an application's secret, not an admin secret`, rotator.ErrNotAllowed)
	}
	av, aid := s.keyOf(a)
	cv, cid := s.keyOf(cur)
	if (av != "" && av == cv) || (aid != "" && aid == cid) {
		return adminError("names a secret holding this secret's own key: an application's secret, not an admin secret", rotator.ErrNotAllowed)
	}
	if err := s.engine.ValidateAdmin(a, cur); err != nil {
		return adminError("is not an admin secret for this secret's account: "+err.Error(), err)
	}
	return nil
}

func adminError(reason string, err error) error {
	return &rotator.FieldError{Secret: "current", Field: FieldAdminARN, Reason: reason, Err: err}
}

// adminRefusal turns rotator.Rotation.Secret's refusals into errors
// naming "adminarn"; other errors pass unchanged.
func adminRefusal(err error) error {
	switch {
	case errors.Is(err, rotator.ErrSelfReference):
		return adminError("names the secret being rotated: it must name the secret of the credential that manages keys", err)
	case errors.Is(err, rotator.ErrNotAllowed):
		return adminError("cannot be told from the secret being rotated: "+err.Error(), err)
	}
	return err
}

// CreatePending frees a slot if the vendor's limit asks, makes the new
// key and returns the pending value holding it.
func (s *Strategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.validate("current", cur); err != nil {
		return nil, err
	}
	admin, err := s.admin(ctx, r, cur)
	if err != nil {
		return nil, err
	}
	arn, err := r.ARN(ctx)
	if err != nil {
		return nil, err
	}
	_, curID := s.keyOf(cur)
	name := s.KeyName(arn, r.Token)
	if admin != cur {
		if err := s.confusedDeputy(ctx, admin, cur); err != nil {
			return nil, err
		}
	}
	if !s.caps.RollsInPlace && s.caps.MaxKeys > 0 {
		if err := s.freeSlot(ctx, r, admin, cur, arn); err != nil {
			return nil, err
		}
	}
	pending := cur.Clone()
	if r.DryRun {
		r.Logger.Info("dry run: no key created", slog.String("vendor", s.caps.Vendor))
		pending.SetString(s.caps.ValueField, dryRunValue)
		pending.Delete(s.caps.IDField)
		return pending, nil
	}
	req := rotator.CreateKeyRequest{Admin: admin, Account: cur, Name: name}
	if s.caps.RollsInPlace {
		if curID == "" {
			return nil, fmt.Errorf("current secret: %w", &rotator.FieldError{Field: s.caps.IDField, Reason: "is missing: a key that rolls in place is rolled by its id", Err: rotator.ErrMissingField})
		}
		req.RollID = curID
	}
	key, err := s.engine.CreateKey(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	r.Sensitive(key.Value)
	if key.Value == "" || key.ID == "" {
		// A key we cannot store or name must not stay behind.
		if key.ID != "" {
			_ = s.revoke(ctx, admin, cur, key.ID)
		}
		return nil, fmt.Errorf("create key: %s returned a key without a value or an id", s.caps.Vendor)
	}
	for f, v := range key.Fields {
		if rotator.IsSensitiveField(f) {
			r.Sensitive(v)
		}
		pending.SetString(f, v)
	}
	pending.SetString(s.caps.ValueField, key.Value)
	pending.SetString(s.caps.IDField, key.ID)
	r.Logger.Info("key created", slog.String("vendor", s.caps.Vendor), slog.String("key_name", name))
	return pending, nil
}

// confusedDeputy is the guard against an application's secret that
// names someone else's admin secret to get a key of another account:
// before the admin credential makes anything, the current key must work
// (it logs in first, as a database's current user does before the
// master), and its id must be among the keys the admin credential
// manages (the same account, not merely the same vendor).
func (s *Strategy) confusedDeputy(ctx context.Context, admin, cur *rotator.Secret) error {
	if err := s.engine.TestKey(ctx, rotator.TestKeyRequest{Key: cur}); err != nil {
		return fmt.Errorf("test the current key before the admin credential is used: %w", err)
	}
	_, id := s.keyOf(cur)
	if id == "" {
		return fmt.Errorf("current secret: %w", &rotator.FieldError{Field: s.caps.IDField,
			Reason: `is missing: with "adminarn", the current key's id proves that the admin secret manages this key's account`, Err: rotator.ErrMissingField})
	}
	keys, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if !slices.ContainsFunc(keys, func(k rotator.VendorKey) bool { return k.ID == id }) {
		return adminError(fmt.Sprintf("names an admin secret whose %s account does not hold this secret's key (%s %q): an admin secret manages keys of its own account only", s.caps.Vendor, s.caps.IDField, id), rotator.ErrNotAllowed)
	}
	return nil
}

// freeSlot revokes one key when the vendor's limit is reached: the
// oldest key this rotator made for this secret that is neither
// AWSCURRENT's nor AWSPREVIOUS's, else AWSPREVIOUS's. It never takes
// AWSCURRENT's key, the admin's, a hand-made key, or a key of this
// rotation that a concurrent delivery may be storing.
func (s *Strategy) freeSlot(ctx context.Context, r *rotator.Rotation, admin, cur *rotator.Secret, arn string) error {
	// Every key counts against the limit, not only this secret's.
	keys, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if len(keys) < s.caps.MaxKeys {
		return nil
	}
	_, curID := s.keyOf(cur)
	_, adminID := s.keyOf(admin)
	prevID := ""
	if prev, err := r.Previous(ctx); err == nil {
		_, prevID = s.keyOf(prev)
	} else if !errors.Is(err, rotator.ErrNoPrevious) {
		return err
	}
	mine := s.mine(keys, arn, curID, prevID)
	thisRotation := s.KeyName(arn, r.Token)
	var older, previous []rotator.VendorKey
	for _, k := range mine {
		switch {
		case k.ID == curID || (adminID != "" && k.ID == adminID):
			continue
		case k.Name == thisRotation && (k.Created.IsZero() || s.now().Sub(k.Created) < InFlightWindow):
			continue // maybe a concurrent delivery's, about to be stored
		case k.ID == prevID:
			previous = append(previous, k)
		default:
			older = append(older, k)
		}
	}
	sort.SliceStable(older, func(i, j int) bool { return older[i].Created.Before(older[j].Created) })
	candidates := append(older, previous...)
	if len(candidates) == 0 {
		return fmt.Errorf("%w: %s allows %d keys and has %d; none is one this rotator may revoke (AWSCURRENT's, hand-made, or this rotation's own still being stored): revoke a key by hand, or retry later",
			ErrKeyLimit, s.caps.Vendor, s.caps.MaxKeys, len(keys))
	}
	victim := candidates[0]
	if r.DryRun {
		r.Logger.Info("dry run: a key would be revoked to stay within the vendor's limit", slog.String("vendor", s.caps.Vendor), slog.Int("max_keys", s.caps.MaxKeys))
		return nil
	}
	if err := s.revoke(ctx, admin, cur, victim.ID); err != nil {
		return fmt.Errorf("free a slot under the vendor's limit of %d keys: %w", s.caps.MaxKeys, err)
	}
	r.Logger.Info("key revoked to stay within the vendor's limit", slog.String("vendor", s.caps.Vendor), slog.Int("max_keys", s.caps.MaxKeys), slog.Bool("was_previous", victim.ID == prevID))
	return nil
}

// mine returns the keys this rotator made for the secret arn: by name, or
// (vendors without names) the ids its versions record.
func (s *Strategy) mine(keys []rotator.VendorKey, arn string, recorded ...string) []rotator.VendorKey {
	var out []rotator.VendorKey
	prefix := s.SecretPrefix(arn)
	for _, k := range keys {
		switch s.caps.Finding {
		case rotator.FindByName:
			if strings.HasPrefix(k.Name, prefix) {
				out = append(out, k)
			}
		case rotator.FindByRecordedID:
			if k.ID != "" && slices.Contains(recorded, k.ID) {
				out = append(out, k)
			}
		}
	}
	return out
}

// revoke deactivates (where the vendor needs it) and deletes a key.
func (s *Strategy) revoke(ctx context.Context, admin, account *rotator.Secret, id string) error {
	req := rotator.KeyRequest{Admin: admin, Account: account, ID: id}
	if a, ok := s.engine.(Activator); ok && s.caps.NeedsActivation {
		if err := a.DeactivateKey(ctx, req); err != nil {
			return fmt.Errorf("deactivate key: %w", err)
		}
	}
	if err := s.engine.RevokeKey(ctx, req); err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	return nil
}

// AbortCreate revokes the key of a pending value the handler could not
// store (rotator.CreateAborter).
func (s *Strategy) AbortCreate(ctx context.Context, r *rotator.Rotation, pending *rotator.Secret, cause error) error {
	_, id := s.keyOf(pending)
	if id == "" || s.caps.RollsInPlace {
		// A roll cannot be undone: the vendor retires the old value.
		r.Logger.Warn("pending key not stored and cannot be withdrawn", slog.String("vendor", s.caps.Vendor))
		return nil
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	admin, err := s.admin(ctx, r, cur)
	if err != nil {
		return err
	}
	if err := s.revoke(ctx, admin, cur, id); err != nil {
		return err
	}
	r.Logger.Info("unstored key revoked", slog.String("vendor", s.caps.Vendor))
	return nil
}

// SetPending activates the pending key where the vendor needs it, and
// revokes every other key carrying this rotation's token: the stored
// value decided which key of this token lives.
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
	admin, err := s.admin(ctx, r, cur)
	if err != nil {
		return err
	}
	if r.DryRun {
		// Nothing was created: check that the current key works and that
		// the managing credential may list keys.
		if err := s.engine.TestKey(ctx, rotator.TestKeyRequest{Key: cur}); err != nil {
			return fmt.Errorf("test the current key: %w", err)
		}
		if _, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur}); err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		return nil
	}
	if err := s.validate("pending", pending); err != nil {
		return err
	}
	_, id := s.keyOf(pending)
	if id == "" {
		return fmt.Errorf("pending secret: %w", &rotator.FieldError{Field: s.caps.IDField, Reason: "is missing", Err: rotator.ErrMissingField})
	}
	if s.caps.NeedsActivation {
		if err := s.engine.(Activator).ActivateKey(ctx, rotator.KeyRequest{Admin: admin, Account: cur, ID: id}); err != nil {
			return fmt.Errorf("activate key: %w", err)
		}
	}
	if s.caps.Finding != rotator.FindByName || s.caps.RollsInPlace {
		return nil
	}
	arn, err := r.ARN(ctx)
	if err != nil {
		return err
	}
	name := s.KeyName(arn, r.Token)
	keys, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur, NamePrefix: name})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	_, curID := s.keyOf(cur)
	for _, k := range keys {
		if k.Name != name || k.ID == id || k.ID == curID {
			continue
		}
		if err := s.revoke(ctx, admin, cur, k.ID); err != nil {
			return fmt.Errorf("revoke another attempt's key of this rotation: %w", err)
		}
		r.Logger.Info("revoked another attempt's key of this rotation", slog.String("vendor", s.caps.Vendor))
	}
	return nil
}

// TestPending calls the vendor's authenticated read-only endpoint with the
// pending key.
func (s *Strategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	pending, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if err := s.validate("pending", pending); err != nil {
		return err
	}
	if err := s.engine.TestKey(ctx, rotator.TestKeyRequest{Key: pending}); err != nil {
		return fmt.Errorf("test the pending key: %w", err)
	}
	return nil
}

// AfterPromotion revokes the keys this rotator made for this secret that
// are neither AWSCURRENT's (the token's, just promoted) nor AWSPREVIOUS's
// (the key current until now, which keeps working for one rotation
// period).
func (s *Strategy) AfterPromotion(ctx context.Context, r *rotator.Rotation) error {
	if s.caps.RollsInPlace || s.caps.Finding != rotator.FindByName {
		return nil
	}
	cur, err := r.Pending(ctx) // the token's value, now AWSCURRENT
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	_, id := s.keyOf(cur)
	keep[id] = true
	prev, err := r.Previous(ctx)
	switch {
	case err == nil:
		_, pid := s.keyOf(prev)
		keep[pid] = true
	case errors.Is(err, rotator.ErrNoPrevious):
	default:
		return err
	}
	admin, err := s.admin(ctx, r, cur)
	if err != nil {
		return err
	}
	if _, aid := s.keyOf(admin); admin != cur && aid != "" {
		keep[aid] = true
	}
	arn, err := r.ARN(ctx)
	if err != nil {
		return err
	}
	keys, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur, NamePrefix: s.SecretPrefix(arn)})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	var errs []error
	n := 0
	for _, k := range s.mine(keys, arn) {
		if keep[k.ID] {
			continue
		}
		if err := s.revoke(ctx, admin, cur, k.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n > 0 {
		r.Logger.Info("old keys revoked", slog.String("vendor", s.caps.Vendor), slog.Int("revoked", n))
	}
	return errors.Join(errs...)
}
