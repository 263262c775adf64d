package dualkey_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// fixture is a Memory vendor, a secret holding a hand-made key, and a
// handler running the strategy.
type fixture struct {
	t    *testing.T
	v    *keytest.Memory
	sm   *rotatortest.Server
	arn  string
	s    *dualkey.Strategy
	h    *rotator.Handler
	logs *rotatortest.LogBuffer
	hand keytest.Key
}

func newFixture(t *testing.T, caps rotator.KeyCapabilities, extra string, opts ...rotator.Option) *fixture {
	t.Helper()
	f := &fixture{t: t, v: keytest.NewMemory(caps), sm: rotatortest.NewServer(rotatortest.WithRotationAttempts(1)), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(f.sm.Close)
	f.hand = f.v.Issue("hand-made")
	f.arn = f.sm.MustCreateSecret(t, "app/key", fmt.Sprintf(`{"api_key":%q,"key_id":%q,"account":"acme"%s}`, f.hand.Value, f.hand.ID, extra))
	s, err := dualkey.New(f.v.Engine(t))
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	f.h, err = rotator.New(f.sm.Client(), s, append([]rotator.Option{rotator.WithLogger(f.logs.Logger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var values []string
		for _, k := range f.v.Keys() {
			values = append(values, k.Value)
		}
		rotatortest.AssertNoSecrets(t, "the logs", f.logs.String(), values...)
	})
	return f
}

func (f *fixture) rotate() rotatortest.RotationOutcome {
	f.t.Helper()
	out, _ := rotatortest.Rotate(f.t, f.sm, f.arn, f.h.Handle)
	if out.Err != nil {
		var values []string
		for _, k := range f.v.Keys() {
			values = append(values, k.Value)
		}
		rotatortest.AssertNoSecrets(f.t, "the error", out.Err.Error(), values...)
	}
	return out
}

func (f *fixture) current() *rotator.Secret {
	f.t.Helper()
	raw, _ := f.sm.ValueOf(f.arn, f.sm.VersionOf(f.arn, "AWSCURRENT"))
	s, err := rotator.ParseSecret(raw)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestAdminSecretGuards(t *testing.T) {
	tests := []struct {
		name  string
		admin func(f *fixture) string // the adminarn to set
		want  error
		says  string
	}{
		{"names the secret itself", func(f *fixture) string { return f.arn }, rotator.ErrSelfReference, "names the secret being rotated"},
		{"names an application's secret", func(f *fixture) string {
			k := f.v.Issue("other-app")
			return f.sm.MustCreateSecret(t, "other/app", fmt.Sprintf(`{"api_key":%q,"account":"acme","adminarn":"x"}`, k.Value))
		}, rotator.ErrNotAllowed, "an application's secret"},
		{"holds this secret's own key", func(f *fixture) string {
			return f.sm.MustCreateSecret(t, "copy", fmt.Sprintf(`{"api_key":%q,"account":"acme"}`, f.hand.Value))
		}, rotator.ErrNotAllowed, "this secret's own key"},
		{"is for another account", func(f *fixture) string {
			k := f.v.Issue("admin-other")
			return f.sm.MustCreateSecret(t, "admin/other", fmt.Sprintf(`{"api_key":%q,"account":"globex"}`, k.Value))
		}, rotator.ErrNotAllowed, "for this secret's account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, rotator.KeyCapabilities{}, "")
			arn := tt.admin(f)
			// Rewrite the secret with the adminarn (a new AWSCURRENT).
			f.arn = f.sm.MustCreateSecret(t, "app/key2", fmt.Sprintf(`{"api_key":%q,"key_id":%q,"account":"acme","adminarn":%q}`, f.hand.Value, f.hand.ID, arn))
			if tt.name == "names the secret itself" {
				f.arn = f.sm.MustCreateSecret(t, "app/self", fmt.Sprintf(`{"api_key":%q,"key_id":%q,"account":"acme","adminarn":"app/self"}`, f.hand.Value, f.hand.ID))
			}
			issued := len(f.v.Keys())
			out := f.rotate()
			if out.Succeeded {
				t.Fatal("rotation succeeded with a refused admin secret")
			}
			if !errors.Is(out.Err, tt.want) || !strings.Contains(out.Err.Error(), "adminarn") || !strings.Contains(out.Err.Error(), tt.says) {
				t.Fatalf("error %v: want %v naming adminarn and saying %q", out.Err, tt.want, tt.says)
			}
			if len(f.v.Keys()) != issued {
				t.Fatal("a key was created although the admin secret was refused")
			}
			if f.v.Calls[string(keytest.OpCreate)] != 0 || f.v.Calls[string(keytest.OpRevoke)] != 0 {
				t.Fatal("the vendor was asked to change something")
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{MaxKeys: 1}, "", rotator.WithDryRun(true))
	f.v.Issue("rotator-not-this-secret") // fills nothing this secret may free
	before := f.v.Keys()
	out := f.rotate()
	if !errors.Is(out.Err, dualkey.ErrKeyLimit) {
		t.Fatalf("dry run at a limit nothing may free: want ErrKeyLimit, got %v", out.Err)
	}
	after := f.v.Keys()
	if len(after) != len(before) {
		t.Fatal("a dry run created a key")
	}
	for i := range before {
		if before[i].Revoked != after[i].Revoked {
			t.Fatal("a dry run revoked a key")
		}
	}
	if f.v.Calls[string(keytest.OpCreate)] != 0 {
		t.Fatal("a dry run asked the vendor for a key")
	}
	if v, _ := f.current().String("api_key"); v != f.hand.Value || f.sm.VersionOf(f.arn, "AWSPREVIOUS") != "" {
		t.Fatal("a dry run moved AWSCURRENT")
	}
}

func TestDryRunChecksTheCurrentKey(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{}, "", rotator.WithDryRun(true))
	// Every step passes; only the promotion does not happen.
	if out := f.rotate(); !errors.Is(out.Err, rotatortest.ErrNotPromoted) {
		t.Fatalf("dry run with a working key: %v", out.Err)
	}
	if f.v.Calls[string(keytest.OpTest)] == 0 || f.v.Calls[string(keytest.OpList)] == 0 {
		t.Fatal("the dry run neither tested the key nor listed keys")
	}
}

// At the vendor's limit, with every key hand-made or AWSCURRENT's, the
// rotation fails clearly and revokes nothing.
func TestKeyLimitNeverTakesHandMadeKeys(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{MaxKeys: 2}, "")
	other := f.v.Issue("someone's")
	out := f.rotate()
	if out.Succeeded || !errors.Is(out.Err, dualkey.ErrKeyLimit) || !strings.Contains(out.Err.Error(), "allows 2 keys") {
		t.Fatalf("want ErrKeyLimit, got %v", out.Err)
	}
	if !f.v.Works(other.Value) || !f.v.Works(f.hand.Value) {
		t.Fatal("a hand-made key was revoked to make room")
	}
}

// At the limit, the oldest rotator-made key that is neither current nor
// previous goes first; AWSPREVIOUS's only when there is none.
func TestKeyLimitFreesOldestRotatorKeyFirst(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{MaxKeys: 3}, "")
	for range 2 {
		if out := f.rotate(); !out.Succeeded {
			t.Fatal(out.Err)
		}
	}
	// hand-made (now two back, never revoked), K1 (previous), K2 (current): 3 of 3.
	prev, _ := valueAt(f, "AWSPREVIOUS")
	if out := f.rotate(); !out.Succeeded {
		t.Fatal(out.Err)
	}
	if f.v.Works(prev) {
		t.Fatal("at the limit, AWSPREVIOUS's key should have been freed (the only rotator-made key besides AWSCURRENT's)")
	}
	if !f.v.Works(f.hand.Value) {
		t.Fatal("the hand-made key was freed")
	}
	if n := len(keytest.Live(f.v)); n != 3 {
		t.Fatalf("%d keys alive, want 3", n)
	}
}

func valueAt(f *fixture, stage string) (string, bool) {
	raw, ok := f.sm.ValueOf(f.arn, f.sm.VersionOf(f.arn, stage))
	if !ok {
		return "", false
	}
	s, _ := rotator.ParseSecret(raw)
	return s.String("api_key")
}

func TestRollsInPlace(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{RollsInPlace: true}, "")
	for i := range 3 {
		if out := f.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i, out.Err)
		}
		cur := f.current()
		if id, _ := cur.String("key_id"); id != f.hand.ID {
			t.Fatalf("rotation %d: the key's id changed: a roll keeps it", i)
		}
		if v, _ := cur.String("api_key"); !f.v.Works(v) {
			t.Fatalf("rotation %d: the rolled key does not work", i)
		}
	}
	if f.v.Calls[string(keytest.OpRevoke)] != 0 {
		t.Fatal("a vendor that rolls in place got revocations")
	}
}

func TestNewRefusesCapabilitiesItCannotHonour(t *testing.T) {
	for _, tt := range []struct {
		caps rotator.KeyCapabilities
		want string
	}{
		{rotator.KeyCapabilities{Finding: rotator.FindByRecordedID}, "need a key limit"},
		{rotator.KeyCapabilities{MaxNameLength: 20}, "no room"},
	} {
		_, err := dualkey.New(keytest.NewMemory(tt.caps).Engine(t))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: want an error saying %q, got %v", tt.caps, tt.want, err)
		}
	}
	if _, err := dualkey.New(nil); err == nil {
		t.Error("nil engine accepted")
	}
}

// A pending key that the vendor refuses fails testSecret and the rotation,
// and AWSCURRENT keeps its working key.
func TestPendingKeyRefusedFailsTestSecret(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{}, "")
	f.v.Fail(keytest.OpTest, keytest.Fault{Status: 401})
	out := f.rotate()
	if out.Succeeded || !strings.Contains(out.Err.Error(), "test the pending key") {
		t.Fatalf("want a testSecret failure, got %v", out.Err)
	}
	if v, _ := f.current().String("api_key"); v != f.hand.Value || !f.v.Works(v) {
		t.Fatal("AWSCURRENT changed or stopped working")
	}
}

func TestPreflight(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{MaxKeys: 5, Test: "a read-only call"}, "")
	get := func(ctx context.Context, id string) (*rotator.Secret, string, error) {
		raw, ok := f.sm.ValueOf(id, f.sm.VersionOf(id, "AWSCURRENT"))
		if !ok {
			return nil, "", errors.New("not found")
		}
		s, err := rotator.ParseSecret(raw)
		return s, f.sm.ARNOf(id), err
	}
	status := func(checks []rotator.Check) map[string]rotator.CheckStatus {
		m := map[string]rotator.CheckStatus{}
		for _, c := range checks {
			m[c.Name] = c.Status
		}
		return m
	}
	cur := f.current()
	got := status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: cur, ARN: f.arn, GetSecret: get}))
	for _, name := range []string{"secret fields", "current key works", "field adminarn", "list keys", "key limit"} {
		if got[name] != rotator.CheckPass {
			t.Errorf("%s: %s, want PASS (%v)", name, got[name], got)
		}
	}
	self := cur.Clone()
	self.SetString("adminarn", f.arn)
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: self, ARN: f.arn, GetSecret: get}))
	if got["field adminarn"] != rotator.CheckFail {
		t.Errorf("adminarn naming the secret itself: %s, want FAIL", got["field adminarn"])
	}
	broken := cur.Clone()
	broken.SetString("api_key", "not-a-key-the-vendor-knows")
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: broken, ARN: f.arn, GetSecret: get}))
	if got["current key works"] != rotator.CheckFail {
		t.Errorf("a refused key: %s, want FAIL", got["current key works"])
	}
	missing := rotator.NewSecret(map[string]string{"account": "acme"})
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: missing, ARN: f.arn, GetSecret: get}))
	if got["secret fields"] != rotator.CheckFail {
		t.Errorf("no api_key: %s, want FAIL", got["secret fields"])
	}
	// An admin secret: it must manage the current key.
	adminKey := f.v.Issue("admin")
	adminARN := f.sm.MustCreateSecret(t, "admin/pf", fmt.Sprintf(`{"api_key":%q,"account":"acme"}`, adminKey.Value))
	withAdmin := cur.Clone()
	withAdmin.SetString("adminarn", adminARN)
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: withAdmin, ARN: f.arn, GetSecret: get}))
	if got["field adminarn"] != rotator.CheckPass || got["admin manages this key"] != rotator.CheckPass {
		t.Errorf("a good admin secret: %v", got)
	}
	withAdmin.SetString("key_id", "k9999")
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: withAdmin, ARN: f.arn, GetSecret: get}))
	if got["admin manages this key"] != rotator.CheckFail {
		t.Errorf("an admin secret of another account: %s, want FAIL", got["admin manages this key"])
	}
	// At the limit with only hand-made keys, preflight says so.
	for range 4 {
		f.v.Issue("hand")
	}
	got = status(f.s.Preflight(t.Context(), rotator.PreflightInput{Current: cur, ARN: f.arn, GetSecret: get}))
	if got["key limit"] != rotator.CheckFail {
		t.Errorf("at the limit with hand-made keys only: %s, want FAIL", got["key limit"])
	}
}

// Unknown fields of the secret survive a rotation byte for byte, and the
// key names carry no secret's name.
func TestFieldsSurviveAndNamesAreOpaque(t *testing.T) {
	f := newFixture(t, rotator.KeyCapabilities{}, `,"custom":{"keep":[1,"two"]},"scopes":["mail.send"]`)
	if out := f.rotate(); !out.Succeeded {
		t.Fatal(out.Err)
	}
	raw, _ := f.sm.ValueOf(f.arn, f.sm.VersionOf(f.arn, "AWSCURRENT"))
	if !strings.Contains(raw, `"custom":{"keep":[1,"two"]}`) || !strings.Contains(raw, `"scopes":["mail.send"]`) {
		t.Fatalf("fields lost: %d bytes", len(raw))
	}
	for _, k := range f.v.Keys() {
		if strings.Contains(k.Name, "app/key") || strings.Contains(k.Name, "123456789012") {
			t.Fatalf("a key name reveals the secret: %q", k.Name)
		}
	}
}

// An admin secret of the right vendor whose account does not hold the
// current key (someone else's admin secret) is refused before it makes
// anything; so is a current key that does not work, and one without id.
func TestAdminMustManageTheCurrentKey(t *testing.T) {
	for _, tt := range []struct {
		name, keyID, key string
		want             error
		says             string
	}{
		{"key of another account", "k9999", "", rotator.ErrNotAllowed, "does not hold this secret's key"},
		{"no key id", "", "", rotator.ErrMissingField, `"key_id" is missing`},
		{"current key refused", "", "mem.not-a-working-key", rotator.ErrLoginFailed, "before the admin credential is used"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, rotator.KeyCapabilities{}, "")
			adminKey := f.v.Issue("admin")
			admin := f.sm.MustCreateSecret(t, "admin/key", fmt.Sprintf(`{"api_key":%q,"account":"acme"}`, adminKey.Value))
			key := f.hand.Value
			if tt.key != "" {
				key = tt.key
			}
			idField := ""
			if tt.keyID != "" {
				idField = fmt.Sprintf(`,"key_id":%q`, tt.keyID)
			}
			f.arn = f.sm.MustCreateSecret(t, "app/other", fmt.Sprintf(`{"api_key":%q%s,"account":"acme","adminarn":%q}`, key, idField, admin))
			issued := len(f.v.Keys())
			out := f.rotate()
			if out.Succeeded || !errors.Is(out.Err, tt.want) || !strings.Contains(out.Err.Error(), tt.says) {
				t.Fatalf("want %v saying %q, got %v", tt.want, tt.says, out.Err)
			}
			if len(f.v.Keys()) != issued || f.v.Calls[string(keytest.OpCreate)] != 0 {
				t.Fatal("a key was created")
			}
		})
	}
}
