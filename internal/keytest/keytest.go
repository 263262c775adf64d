package keytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// Op is a kind of vendor call a fault applies to.
type Op string

// The vendor calls of a rotation.
const (
	OpCreate Op = "create"
	OpList   Op = "list"
	OpRevoke Op = "revoke"
	OpTest   Op = "test"
)

// Fault makes a fake vendor answer calls of an Op badly.
type Fault struct {
	// Status is the HTTP status to answer (0: answer normally after
	// Delay).
	Status int
	// RetryAfter is the Retry-After header sent with it ("" none).
	RetryAfter string
	// Delay holds the answer back (longer than the engine's timeout: a
	// timeout).
	Delay time.Duration
	// Times is how many calls it applies to (0: every call).
	Times int
	// AfterEffect: the vendor does the work (creates the key) and then
	// answers badly (or hangs): the caller cannot know it happened.
	AfterEffect bool
}

// Key is a key a fake vendor holds.
type Key struct {
	ID, Name, Value string
	Created         time.Time
	Revoked         bool
}

// Vendor is a stateful fake of one vendor and the engine under test.
type Vendor interface {
	// Engine returns the engine under test, talking to the fake, with a
	// timeout short enough for the Delay faults (about 300 ms) and fast
	// retries.
	Engine(t testing.TB) dualkey.Engine
	// NewSecret makes a key by hand on the fake (named "hand-made" or
	// nameless) and returns the secret JSON of an application holding
	// it, with every field the engine needs; with adminARN set, the
	// secret names it as "adminarn".
	NewSecret(t testing.TB, adminARN string) (secretJSON string, handMade Key)
	// HandMade makes a key by hand on the fake that no secret holds (a
	// human's key for something else), which no rotation may touch.
	HandMade(t testing.TB) Key
	// NewAdmin makes a managing credential on the fake and returns its
	// secret JSON ("" when the vendor has none: the suite then skips the
	// admin cases).
	NewAdmin(t testing.TB) string
	// Works reports whether the fake accepts a key value now.
	Works(value string) bool
	// Keys returns every key the fake ever issued, revoked ones included.
	Keys() []Key
	// Fail makes the fake answer calls of op with f (after earlier
	// faults of op are used up).
	Fail(op Op, f Fault)
	// Clear removes every fault.
	Clear()
}

// AdminRequired is implemented by fakes of vendors whose keys cannot
// manage keys (Twilio's Standard keys, Okta's client secrets): every case
// of the suite then rotates with an admin secret.
type AdminRequired interface{ AdminRequired() bool }

// Live returns the keys of v that are not revoked.
func Live(v Vendor) []Key {
	var out []Key
	for _, k := range v.Keys() {
		if !k.Revoked {
			out = append(out, k)
		}
	}
	return out
}

// rig is one secret rotated by a handler with the strategy on v's engine.
type rig struct {
	t      *testing.T
	v      Vendor
	sm     *rotatortest.Server
	arn    string
	h      *rotator.Handler
	s      *dualkey.Strategy
	logs   *rotatortest.LogBuffer
	errsMu sync.Mutex
	errs   []error
	hand   Key   // the secret's first key, made by hand
	others []Key // hand-made keys no secret holds
}

func newRig(t *testing.T, v Vendor, admin bool, smOpts ...rotatortest.Option) *rig {
	t.Helper()
	sm := rotatortest.NewServer(smOpts...)
	t.Cleanup(sm.Close)
	r := &rig{t: t, v: v, sm: sm, logs: &rotatortest.LogBuffer{}}
	adminARN := ""
	if a, ok := v.(AdminRequired); ok && a.AdminRequired() {
		admin = true
	}
	if admin {
		a := v.NewAdmin(t)
		if a == "" {
			t.Skip("the vendor has no separate managing credential")
		}
		adminARN = sm.MustCreateSecret(t, "vendor/admin-"+RandomHex(4), a)
	}
	doc, hand := v.NewSecret(t, adminARN)
	r.hand = hand
	r.arn = sm.MustCreateSecret(t, "app/api-key-"+RandomHex(4), doc)
	s, err := dualkey.New(v.Engine(t))
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	h, err := rotator.New(sm.Client(), s, rotator.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	t.Cleanup(r.assertNoLeaks)
	return r
}

func (r *rig) handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	err := r.h.Handle(ctx, ev)
	if err != nil {
		r.errsMu.Lock()
		r.errs = append(r.errs, err)
		r.errsMu.Unlock()
	}
	return err
}

// value returns the secret's key at a stage ("" when none).
func (r *rig) value(stage string) (value, id string) {
	r.t.Helper()
	ver := r.sm.VersionOf(r.arn, stage)
	if ver == "" {
		return "", ""
	}
	return r.valueAt(ver)
}

func (r *rig) valueAt(version string) (value, id string) {
	r.t.Helper()
	raw, ok := r.sm.ValueOf(r.arn, version)
	if !ok {
		return "", ""
	}
	s, err := rotator.ParseSecret(raw)
	if err != nil {
		r.t.Fatal(err)
	}
	c := r.s.Capabilities()
	value, _ = s.String(c.ValueField)
	id, _ = s.String(c.IDField)
	return value, id
}

func (r *rig) rotate(opts ...rotatortest.RotateOption) rotatortest.RotationOutcome {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle, opts...)
	return out
}

// assertNoLeaks: no key value the fake ever issued (nor the hand-made
// one) is in the logs or a returned error.
func (r *rig) assertNoLeaks() {
	var values []string
	for _, k := range r.v.Keys() {
		values = append(values, k.Value)
	}
	rotatortest.AssertNoSecrets(r.t, "the logs", r.logs.String(), values...)
	r.errsMu.Lock()
	defer r.errsMu.Unlock()
	for _, e := range r.errs {
		rotatortest.AssertNoSecrets(r.t, "a returned error", e.Error(), values...)
	}
}

// assertNoOrphans: every live key is the hand-made one, AWSCURRENT's,
// AWSPREVIOUS's or AWSPENDING's (a stored value an unfinished rotation
// will complete), or not the rotator's (another secret's, an admin's).
func (r *rig) assertNoOrphans(allowed ...string) {
	r.t.Helper()
	keep := map[string]bool{r.hand.Value: true}
	for _, k := range r.others {
		keep[k.Value] = true
	}
	for _, st := range []string{"AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"} {
		v, _ := r.value(st)
		keep[v] = true
	}
	for _, a := range allowed {
		keep[a] = true
	}
	for _, k := range Live(r.v) {
		if !keep[k.Value] && !isAdmin(k) {
			r.t.Errorf("orphan key alive: id %s name %q", k.ID, k.Name)
		}
	}
}

// Run runs the behaviour suite; newVendor makes a fresh fake (an empty
// account) for each case.
func Run(t *testing.T, newVendor func(t testing.TB) Vendor) {
	t.Run("RotationsKeepCurrentAndPrevious", func(t *testing.T) { testRotations(t, newVendor(t), false) })
	t.Run("RotationsWithAdminSecret", func(t *testing.T) { testRotations(t, newVendor(t), true) })
	t.Run("VendorFailures", func(t *testing.T) { testFailures(t, newVendor) })
	t.Run("ConcurrentCreateSecret", func(t *testing.T) { testConcurrentCreate(t, newVendor(t)) })
	t.Run("PutFailureRevokesNewKey", func(t *testing.T) { testPutFailure(t, newVendor(t)) })
	t.Run("RetriedCreateSecret", func(t *testing.T) { testRetriedCreate(t, newVendor(t)) })
}

// testRotations: each rotation's key works; the previous key works until
// the next rotation and is revoked after it; after five rotations exactly
// AWSCURRENT's and AWSPREVIOUS's rotator-made keys are alive, and the
// hand-made key still works.
func testRotations(t *testing.T, v Vendor, admin bool) {
	r := newRig(t, v, admin)
	v.Clear()
	caps := r.s.Capabilities()
	bystanders := caps.MaxKeys == 0 || caps.MaxKeys >= 4
	if bystanders {
		r.others = append(r.others, v.HandMade(t))
	}
	// The secret's first key is hand-made: vendors with names never
	// touch it (it carries none of the rotator's); vendors without names
	// know keys only by the ids the secret's versions record, so it goes
	// once it is neither AWSCURRENT's nor AWSPREVIOUS's.
	keepFirst := caps.Finding == rotator.FindByName
	var history []string
	first, _ := r.value("AWSCURRENT")
	history = append(history, first)
	for i := 1; i <= 5; i++ {
		out := r.rotate()
		if !out.Succeeded {
			t.Fatalf("rotation %d failed: %v", i, out.Err)
		}
		cur, id := r.value("AWSCURRENT")
		prev, _ := r.value("AWSPREVIOUS")
		if cur == "" || id == "" || slices.Contains(history, cur) {
			t.Fatalf("rotation %d: AWSCURRENT holds no new key", i)
		}
		if !v.Works(cur) {
			t.Fatalf("rotation %d: the new key does not work", i)
		}
		if prev != history[len(history)-1] || !v.Works(prev) {
			t.Fatalf("rotation %d: the previous key is not AWSPREVIOUS or stopped working", i)
		}
		if len(history) >= 2 {
			older := history[len(history)-2]
			if older == r.hand.Value && keepFirst {
				if !v.Works(older) {
					t.Fatalf("rotation %d: the hand-made key was revoked", i)
				}
			} else if v.Works(older) {
				t.Fatalf("rotation %d: the key of two rotations ago still works", i)
			}
		}
		history = append(history, cur)
	}
	if keepFirst && !v.Works(r.hand.Value) {
		t.Fatal("the hand-made key was revoked")
	}
	for _, k := range r.others {
		if !v.Works(k.Value) {
			t.Fatal("a hand-made key no secret holds was revoked")
		}
	}
	cur, _ := r.value("AWSCURRENT")
	prev, _ := r.value("AWSPREVIOUS")
	var alive []string
	for _, k := range Live(v) {
		if k.Value != r.hand.Value && !isAdmin(k) && !slices.ContainsFunc(r.others, func(o Key) bool { return o.Value == k.Value }) {
			alive = append(alive, k.Value)
		}
	}
	slices.Sort(alive)
	want := []string{cur, prev}
	slices.Sort(want)
	if !slices.Equal(alive, want) {
		t.Fatalf("after 5 rotations %d rotator-made keys are alive, want exactly AWSCURRENT's and AWSPREVIOUS's", len(alive))
	}
	// The admin credential is never copied into the application's secret.
	if admin {
		raw, _ := r.sm.ValueOf(r.arn, r.sm.VersionOf(r.arn, "AWSCURRENT"))
		for _, k := range v.Keys() {
			if isAdmin(k) && strings.Contains(raw, k.Value) {
				t.Fatal("the admin credential is in the application's secret")
			}
		}
	}
}

// isAdmin reports whether a key is an admin credential NewAdmin made.
func isAdmin(k Key) bool { return strings.HasPrefix(k.Name, "admin") }

// testFailures: every vendor failure of every call fails the rotation
// with an error naming the vendor's answer, AWSCURRENT keeps working, no
// orphan key is left, and the next rotation, with the vendor healthy,
// completes.
func testFailures(t *testing.T, newVendor func(t testing.TB) Vendor) {
	faults := []struct {
		name string
		f    Fault
		want string
	}{
		{"400", Fault{Status: 400}, "400"},
		{"403", Fault{Status: 403}, "403"},
		{"500", Fault{Status: 500}, "500"},
		{"429", Fault{Status: 429, RetryAfter: "0"}, "429"},
		{"timeout", Fault{Delay: 2 * time.Second}, "timed out"},
		{"500 after acting", Fault{Status: 500, AfterEffect: true}, "500"},
		{"timeout after acting", Fault{Delay: 2 * time.Second, AfterEffect: true}, "timed out"},
	}
	for _, op := range []Op{OpCreate, OpList, OpTest, OpRevoke} {
		for _, ft := range faults {
			t.Run(string(op)+"/"+ft.name, func(t *testing.T) {
				v := newVendor(t)
				r := newRig(t, v, false, rotatortest.WithRotationAttempts(1))
				// A first rotation, so that there is a key to revoke.
				v.Clear()
				if out := r.rotate(); !out.Succeeded {
					t.Fatalf("first rotation: %v", out.Err)
				}
				if op == OpRevoke {
					// and a second, so that the third revokes one.
					if out := r.rotate(); !out.Succeeded {
						t.Fatalf("second rotation: %v", out.Err)
					}
				}
				before, _ := r.value("AWSCURRENT")
				v.Fail(op, ft.f)
				out := r.rotate()
				v.Clear()
				cur, _ := r.value("AWSCURRENT")
				if !v.Works(cur) {
					t.Fatal("AWSCURRENT stopped working")
				}
				if out.Succeeded {
					if op != OpRevoke {
						t.Fatalf("rotation succeeded although every %s call failed", op)
					}
					t.Fatal("rotation succeeded although revoking the old key failed")
				}
				msg := out.Err.Error()
				if !strings.Contains(msg, ft.want) || !strings.Contains(strings.ToLower(msg), strings.ToLower(vendorName(r))) {
					t.Errorf("error %q names neither %q nor the vendor", msg, ft.want)
				}
				if op != OpRevoke && cur != before {
					t.Fatal("AWSCURRENT moved although the rotation failed before finishSecret")
				}
				if op != OpRevoke && !ft.f.AfterEffect {
					// (A revocation that failed after the promotion is
					// the one key left, and so is a key the vendor made
					// without saying so: the next finishSecret revokes
					// them.)
					r.assertNoOrphans()
				}
				caps := r.s.Capabilities()
				if op == OpCreate && ft.f.AfterEffect && caps.Finding == rotator.FindByRecordedID && caps.MaxKeys > 0 {
					// A nameless key the vendor made without saying so is
					// known by no version: it looks hand-made and is never
					// revoked. At the limit, the next rotation says so
					// plainly instead of taking AWSCURRENT's key.
					o, ok := r.sm.ResumeRotation(r.arn)
					if !ok || o.Succeeded || !errors.Is(o.Err, dualkey.ErrKeyLimit) || !strings.Contains(o.Err.Error(), "revoke a key by hand") {
						t.Fatalf("want the key limit named, got %+v", o)
					}
					if cur, _ := r.value("AWSCURRENT"); !v.Works(cur) {
						t.Fatal("AWSCURRENT stopped working")
					}
					return
				}
				// Healthy again: the unfinished rotation completes (or a
				// new one), and the invariant holds.
				if o, ok := r.sm.ResumeRotation(r.arn); ok && !o.Succeeded {
					t.Fatalf("resumed rotation failed: %v", o.Err)
				}
				if out := r.rotate(); !out.Succeeded {
					t.Fatalf("rotation after the vendor recovered: %v", out.Err)
				}
				r.assertNoOrphans()
			})
		}
	}
}

func vendorName(r *rig) string { return r.s.Capabilities().Vendor }

// testConcurrentCreate: two createSecret deliveries at once leave exactly
// one new key, the stored one, many times over.
func testConcurrentCreate(t *testing.T, v Vendor) {
	r := newRig(t, v, false)
	v.Clear()
	raced := 0
	defer func() {
		// Proof that the race was run: both deliveries made a key (and
		// one was withdrawn) in some iterations.
		if !t.Failed() && raced == 0 {
			t.Error("no iteration had both deliveries reach the vendor: the race was never exercised")
		}
		t.Logf("%d of 20 iterations had both deliveries reach the vendor", raced)
	}()
	for i := range 20 {
		issued := len(v.Keys())
		token := fmt.Sprintf("%08d-1111-2222-3333-%012d", i, i)
		before := map[string]bool{}
		for _, k := range Live(v) {
			before[k.Value] = true
		}
		_, err := r.sm.Client().RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
			SecretId: aws.String(r.arn), ClientRequestToken: aws.String(token),
			RotationLambdaARN: aws.String(rotatortest.FunctionARN("not-registered")),
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for j := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[j] = r.handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: r.arn, ClientRequestToken: token})
			}()
		}
		close(start)
		wg.Wait()
		if errs[0] != nil && errs[1] != nil {
			t.Fatalf("iteration %d: both deliveries failed: %v / %v", i, errs[0], errs[1])
		}
		stored, _ := r.valueAt(token)
		var live []Key
		for _, k := range Live(v) {
			if !before[k.Value] {
				live = append(live, k)
			}
		}
		if len(live) != 1 {
			t.Fatalf("iteration %d: %d new keys alive after two concurrent createSecret, want 1", i, len(live))
		}
		// (At a key limit, the later delivery finds no slot and fails.)
		if len(v.Keys()) >= issued+2 || (errs[0] == nil) != (errs[1] == nil) {
			raced++
		}
		if stored == "" || !slices.ContainsFunc(live, func(k Key) bool { return k.Value == stored }) {
			t.Fatalf("iteration %d: the live key is not the stored one", i)
		}
		// Finish the rotation, so that the next iteration starts clean.
		for _, step := range []string{"setSecret", "testSecret", "finishSecret"} {
			if err := r.handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token}); err != nil {
				t.Fatalf("iteration %d: %s: %v", i, step, err)
			}
		}
		if cur, _ := r.value("AWSCURRENT"); cur != stored || !v.Works(cur) {
			t.Fatalf("iteration %d: the stored key is not AWSCURRENT or does not work", i)
		}
		r.assertNoOrphans()
	}
}

// testPutFailure: a PutSecretValue that fails leaves no new key alive.
func testPutFailure(t *testing.T, v Vendor) {
	r := newRig(t, v, false, rotatortest.WithRotationAttempts(1))
	v.Clear()
	before := len(Live(v))
	r.sm.InjectFault("PutSecretValue", rotatortest.Fault{ErrorType: "AccessDeniedException", Status: 400, Message: "no PutSecretValue for you"})
	out := r.rotate()
	r.sm.ClearFaults()
	if out.Succeeded || !strings.Contains(out.Err.Error(), "PutSecretValue") {
		t.Fatalf("want a PutSecretValue failure, got %+v", out)
	}
	if n := len(Live(v)); n != before {
		t.Fatalf("%d keys alive after the failed store, want %d (the new key revoked)", n, before)
	}
	if len(v.Keys()) != before+1 {
		t.Fatalf("%d keys issued, want %d (one created, then revoked)", len(v.Keys()), before+1)
	}
}

// testRetriedCreate: a createSecret that created a key and crashed before
// storing it, retried, leaves one new key once the rotation completes.
func testRetriedCreate(t *testing.T, v Vendor) {
	r := newRig(t, v, false)
	if r.s.Capabilities().Finding != rotator.FindByName {
		t.Skip("keys without names: a key whose store was lost cannot be told from a hand-made one (the handler revokes it when the store fails; only a crash leaves it)")
	}
	v.Clear()
	token := "0000beef-1111-2222-3333-444455556666"
	_, err := r.sm.Client().RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String(r.arn), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String(rotatortest.FunctionARN("not-registered")),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The crashed attempt: the key made, the store lost (a handler that
	// cannot reach Secrets Manager for the Put and dies before undoing it
	// is played by calling the strategy and dropping the value).
	crash, err := rotator.New(r.sm.Client(), createOnly{r.s}, rotator.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r.sm.InjectFault("PutSecretValue", rotatortest.Fault{ErrorType: "InternalServiceError", Times: 1})
	r.sm.InjectFault("PutSecretValue", rotatortest.Fault{ErrorType: "InternalServiceError"})
	_ = crash.Handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: r.arn, ClientRequestToken: token})
	r.sm.ClearFaults()
	for _, step := range rotatortest.Steps {
		if err := r.handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token}); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	r.assertNoOrphans()
}

// createOnly hides the strategy's AbortCreate: a process that died
// before it could undo anything.
type createOnly struct{ s *dualkey.Strategy }

func (c createOnly) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	return c.s.CreatePending(ctx, r)
}

func (c createOnly) SetPending(context.Context, *rotator.Rotation) error  { return nil }
func (c createOnly) TestPending(context.Context, *rotator.Rotation) error { return nil }

// RandomValue returns a fresh random key value with a prefix, for fakes.
func RandomValue(prefix string) string { return prefix + RandomHex(24) }
