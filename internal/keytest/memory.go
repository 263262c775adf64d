package keytest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// Memory is a vendor held in memory, with its engine: no HTTP, for the
// strategy's own tests. Caps chooses the vendor's capabilities (a key
// limit, keys without names, activation).
type Memory struct {
	Caps rotator.KeyCapabilities
	// Timeout bounds each call, as an HTTP engine's would (default 300 ms).
	Timeout time.Duration

	mu     sync.Mutex
	keys   []*memKey
	seq    int
	faults map[Op][]*faultLeft
	// Calls counts the engine's calls by Op (and "activate",
	// "deactivate").
	Calls map[string]int
}

type memKey struct {
	Key
	active bool
	admin  bool // a managing credential: not a key of the limited kind
}

type faultLeft struct {
	f    Fault
	left int
}

var (
	_ Vendor            = (*Memory)(nil)
	_ dualkey.Engine    = (*memEngine)(nil)
	_ dualkey.Activator = (*memEngine)(nil)
)

// NewMemory returns an empty vendor with the given capabilities (Vendor
// defaults to "memory").
func NewMemory(caps rotator.KeyCapabilities) *Memory {
	if caps.Vendor == "" {
		caps.Vendor = "memory"
	}
	return &Memory{Caps: caps, Timeout: 300 * time.Millisecond, faults: map[Op][]*faultLeft{}, Calls: map[string]int{}}
}

// Engine returns the engine.
func (m *Memory) Engine(testing.TB) dualkey.Engine { return &memEngine{m} }

// Issue makes a key by hand (or for the suite) and returns it.
func (m *Memory) Issue(name string) Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.issue(name, true)
}

func (m *Memory) issue(name string, active bool) Key {
	m.seq++
	k := &memKey{Key: Key{ID: fmt.Sprintf("k%04d", m.seq), Name: name, Value: RandomValue("mem."), Created: time.Now()}, active: active}
	if m.Caps.Finding == rotator.FindByRecordedID {
		k.Name = ""
	}
	m.keys = append(m.keys, k)
	return k.Key
}

// NewSecret implements Vendor.
func (m *Memory) NewSecret(t testing.TB, adminARN string) (string, Key) {
	k := m.Issue("hand-made")
	doc := fmt.Sprintf(`{"api_key":%q,"key_id":%q,"account":"acme","note":"kept"`, k.Value, k.ID)
	if adminARN != "" {
		doc += fmt.Sprintf(`,"adminarn":%q`, adminARN)
	}
	return doc + "}", k
}

// HandMade implements Vendor.
func (m *Memory) HandMade(testing.TB) Key { return m.Issue("by-a-human") }

// NewAdmin implements Vendor.
func (m *Memory) NewAdmin(t testing.TB) string {
	m.mu.Lock()
	k := m.issue("admin", true)
	m.keys[len(m.keys)-1].admin = true
	m.keys[len(m.keys)-1].Name = "admin"
	m.mu.Unlock()
	return fmt.Sprintf(`{"api_key":%q,"key_id":%q,"account":"acme"}`, k.Value, k.ID)
}

// Works implements Vendor.
func (m *Memory) Works(value string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.byValue(value)
	return k != nil && !k.Revoked && k.active
}

func (m *Memory) byValue(v string) *memKey {
	for _, k := range m.keys {
		if k.Value == v && v != "" {
			return k
		}
	}
	return nil
}

// Keys implements Vendor.
func (m *Memory) Keys() []Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Key, len(m.keys))
	for i, k := range m.keys {
		out[i] = k.Key
	}
	return out
}

// Fail implements Vendor.
func (m *Memory) Fail(op Op, f Fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[op] = append(m.faults[op], &faultLeft{f: f, left: f.Times})
}

// Clear implements Vendor.
func (m *Memory) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = map[Op][]*faultLeft{}
}

// TakeFault returns the fault for a call of op, if any, using it up. HTTP
// fakes share this bookkeeping through FaultQueue.
func (m *Memory) takeFault(op Op) (Fault, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return take(m.faults, op)
}

func take(faults map[Op][]*faultLeft, op Op) (Fault, bool) {
	list := faults[op]
	for i, fl := range list {
		if fl.f.Times == 0 {
			return fl.f, true
		}
		if fl.left > 0 {
			fl.left--
			if fl.left == 0 {
				faults[op] = append(list[:i:i], list[i+1:]...)
			}
			return fl.f, true
		}
	}
	return Fault{}, false
}

// memEngine is the engine of a Memory vendor.
type memEngine struct{ m *Memory }

func (e *memEngine) Capabilities() rotator.KeyCapabilities { return e.m.Caps }

func (e *memEngine) Validate(s *rotator.Secret) error {
	if _, err := s.Require("account"); err != nil {
		return err
	}
	return nil
}

func (e *memEngine) ValidateAdmin(admin, account *rotator.Secret) error {
	a, _ := admin.String("account")
	b, _ := account.String("account")
	if a != b {
		return fmt.Errorf("%w: the admin secret is for account %q, this secret for %q", rotator.ErrNotAllowed, a, b)
	}
	return nil
}

// call applies a fault and the credential check, as a vendor would. A
// fault with AfterEffect is returned as after, for the caller to play
// once it did the work.
func (e *memEngine) call(ctx context.Context, op Op, cred *rotator.Secret) (after func(context.Context) error, err error) {
	e.m.mu.Lock()
	e.m.Calls[string(op)]++
	e.m.mu.Unlock()
	after = func(context.Context) error { return nil }
	if f, ok := e.m.takeFault(op); ok {
		play := func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, e.m.Timeout)
			defer cancel()
			if f.Delay > 0 {
				select {
				case <-time.After(f.Delay):
				case <-ctx.Done():
					return fmt.Errorf("%s: %s: %w: timed out", e.m.Caps.Vendor, op, rotator.ErrUnreachable)
				}
			}
			if f.Status != 0 {
				return fmt.Errorf("%s: %s: status %d", e.m.Caps.Vendor, op, f.Status)
			}
			return nil
		}
		if f.AfterEffect {
			after = play
		} else if err := play(ctx); err != nil {
			return nil, err
		}
	}
	v, _ := cred.String("api_key")
	if !e.m.Works(v) {
		return nil, fmt.Errorf("%s: %s: status 401: %w", e.m.Caps.Vendor, op, rotator.ErrLoginFailed)
	}
	return after, nil
}

func (e *memEngine) CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	after, err := e.call(ctx, OpCreate, req.Admin)
	if err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	resp, err := e.create(req)
	if err != nil {
		return resp, err
	}
	if err := after(ctx); err != nil {
		return rotator.CreateKeyResponse{}, err
	}
	return resp, nil
}

func (e *memEngine) create(req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error) {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	live := 0
	for _, k := range e.m.keys {
		if !k.Revoked && !k.admin {
			live++
		}
	}
	if e.m.Caps.MaxKeys > 0 && live >= e.m.Caps.MaxKeys {
		return rotator.CreateKeyResponse{}, fmt.Errorf("%s: create: status 400: at most %d keys", e.m.Caps.Vendor, e.m.Caps.MaxKeys)
	}
	if req.RollID != "" {
		// Rolling in place: a new value under the same id; the old value
		// is retired (a grace period is the vendor's business).
		for _, k := range e.m.keys {
			if k.ID == req.RollID && !k.Revoked {
				k.Revoked = true
				e.m.keys = append(e.m.keys, &memKey{Key: Key{ID: k.ID, Name: k.Name, Value: RandomValue("mem."), Created: time.Now()}, active: true})
				n := e.m.keys[len(e.m.keys)-1]
				return rotator.CreateKeyResponse{ID: n.ID, Value: n.Value, Created: n.Created}, nil
			}
		}
		return rotator.CreateKeyResponse{}, fmt.Errorf("%s: roll: status 404", e.m.Caps.Vendor)
	}
	k := e.m.issue(req.Name, !e.m.Caps.NeedsActivation)
	return rotator.CreateKeyResponse{ID: k.ID, Value: k.Value, Created: k.Created}, nil
}

func (e *memEngine) TestKey(ctx context.Context, req rotator.TestKeyRequest) error {
	after, err := e.call(ctx, OpTest, req.Key)
	if err != nil {
		return err
	}
	return after(ctx)
}

func (e *memEngine) RevokeKey(ctx context.Context, req rotator.KeyRequest) error {
	after, err := e.call(ctx, OpRevoke, req.Admin)
	if err != nil {
		return err
	}
	if err := e.revoke(req.ID); err != nil {
		return err
	}
	return after(ctx)
}

func (e *memEngine) revoke(id string) error {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	for _, k := range e.m.keys {
		if k.ID == id {
			if k.active && e.m.Caps.NeedsActivation {
				return fmt.Errorf("%s: revoke: status 400: deactivate the key first", e.m.Caps.Vendor)
			}
			k.Revoked = true
		}
	}
	return nil
}

func (e *memEngine) ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error) {
	after, err := e.call(ctx, OpList, req.Admin)
	if err != nil {
		return nil, err
	}
	e.m.mu.Lock()
	var out []rotator.VendorKey
	for _, k := range e.m.keys {
		if !k.Revoked && !k.admin && strings.HasPrefix(k.Name, req.NamePrefix) {
			out = append(out, rotator.VendorKey{ID: k.ID, Name: k.Name, Created: k.Created, Active: k.active})
		}
	}
	e.m.mu.Unlock()
	if err := after(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *memEngine) ActivateKey(ctx context.Context, req rotator.KeyRequest) error {
	return e.setActive(ctx, req, true)
}

func (e *memEngine) DeactivateKey(ctx context.Context, req rotator.KeyRequest) error {
	return e.setActive(ctx, req, false)
}

func (e *memEngine) setActive(ctx context.Context, req rotator.KeyRequest, on bool) error {
	after, err := e.call(ctx, OpRevoke, req.Admin)
	if err != nil {
		return err
	}
	e.m.mu.Lock()
	e.m.Calls["activate="+strconv.FormatBool(on)]++
	for _, k := range e.m.keys {
		if k.ID == req.ID {
			k.active = on
		}
	}
	e.m.mu.Unlock()
	return after(ctx)
}
