package dualpassword_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
)

var errUnsupported = errors.New("fake: no dual passwords")

// fakeEngine is one MySQL 8 account with a primary and a secondary
// password, as ALTER USER ... RETAIN CURRENT PASSWORD / REPLACE and DISCARD
// OLD PASSWORD leave them.
type fakeEngine struct {
	mu                 sync.Mutex
	primary, secondary string
	unsupported        bool
	// onDiscard runs when DiscardOldPassword is called (to look at the
	// secret's stages at that moment).
	onDiscard func()
	sets      int
	discards  int
}

func (f *fakeEngine) Validate(*rotator.Secret) error { return nil }

func (f *fakeEngine) loginLocked(s *rotator.Secret) error {
	if p := s.Password(); p == "" || (p != f.primary && p != f.secondary) {
		return fmt.Errorf("%w: fake: password rejected", rotator.ErrLoginFailed)
	}
	return nil
}

func (f *fakeEngine) Login(_ context.Context, s *rotator.Secret) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loginLocked(s)
}

func (f *fakeEngine) SetPasswordRetainingCurrent(_ context.Context, req rotator.SetPasswordRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.loginLocked(req.Conn); err != nil {
		return err
	}
	if f.unsupported {
		return errUnsupported
	}
	if req.Conn.Password() != f.primary { // REPLACE
		return errors.New("fake: incorrect current password")
	}
	f.secondary, f.primary = f.primary, req.Password
	f.sets++
	return nil
}

func (f *fakeEngine) DiscardOldPassword(_ context.Context, s *rotator.Secret) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.loginLocked(s); err != nil {
		return err
	}
	if f.onDiscard != nil {
		f.onDiscard()
	}
	f.secondary = ""
	f.discards++
	return nil
}

func (f *fakeEngine) PasswordPolicyDefaults(p *rotator.PasswordPolicy) { p.ExcludeCharacters = "xyz" }

var _ dualpassword.Engine = (*fakeEngine)(nil)

type rig struct {
	t   *testing.T
	sm  *rotatortest.Server
	arn string
	h   *rotator.Handler
	f   *fakeEngine
}

func newRig(t *testing.T, f *fakeEngine) *rig {
	t.Helper()
	sm := rotatortest.NewServer()
	t.Cleanup(sm.Close)
	f.primary = "p0"
	v, _ := rotator.NewSecret(map[string]string{rotator.FieldEngine: "mysql", rotator.FieldHost: "db", rotator.FieldUsername: "app", rotator.FieldPassword: "p0"}).Value()
	arn := sm.MustCreateSecret(t, "rds/app", v)
	h, err := rotator.New(sm.Client(), dualpassword.New(f))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, sm: sm, arn: arn, h: h, f: f}
}

func (r *rig) begin(token string) {
	r.t.Helper()
	rotatortest.Rotate(r.t, r.sm, r.arn, nil, rotatortest.WithToken(token), rotatortest.WithLambdaARN(rotatortest.FunctionARN("unregistered")))
}

func (r *rig) step(step, token string) error {
	return r.h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: r.arn, ClientRequestToken: token})
}

func (r *rig) value(id string) *rotator.Secret {
	r.t.Helper()
	v, ok := r.sm.ValueOf(r.arn, id)
	if !ok {
		r.t.Fatalf("no value at %s", id)
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// TestDualPasswordRotation: while a rotation runs both passwords work; the
// old one is discarded only after AWSCURRENT moved; setSecret twice keeps
// the current password.
func TestMySQLDualPasswordRotation(t *testing.T) {
	f := &fakeEngine{}
	r := newRig(t, f)
	for i := range 3 {
		token := fmt.Sprintf("d0d0d0d0-%04d-4000-8000-000000000000", i)
		old := r.value(r.sm.VersionOf(r.arn, "AWSCURRENT")).Password()
		r.begin(token)
		if err := r.step("createSecret", token); err != nil {
			t.Fatal(err)
		}
		pending := r.value(token).Password()
		for d := range 2 { // a second delivery changes nothing
			if err := r.step("setSecret", token); err != nil {
				t.Fatalf("setSecret delivery %d: %v", d+1, err)
			}
		}
		if f.primary != pending || f.secondary != old || f.sets != i+1 {
			t.Fatalf("after setSecret: primary %q secondary %q (sets %d), want the pending and the current password", f.primary, f.secondary, f.sets)
		}
		if err := r.step("testSecret", token); err != nil {
			t.Fatal(err)
		}
		f.onDiscard = func() {
			if got := r.sm.VersionOf(r.arn, "AWSCURRENT"); got != token {
				t.Errorf("DISCARD OLD PASSWORD ran before the promotion (AWSCURRENT %s)", got)
			}
		}
		if err := r.step("finishSecret", token); err != nil {
			t.Fatal(err)
		}
		if f.secondary != "" || f.discards != i+1 {
			t.Fatalf("after finishSecret the old password is not discarded (secondary %q)", f.secondary)
		}
	}
}

// TestDualPasswordUnsupported: a server without dual passwords fails
// setSecret with its error, changes nothing, and never falls back to
// setting the password alone.
func TestMySQLDualPasswordUnsupported(t *testing.T) {
	f := &fakeEngine{unsupported: true}
	r := newRig(t, f)
	out, _ := rotatortest.Rotate(t, r.sm, r.arn, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		return r.h.Handle(ctx, ev)
	})
	if out.Succeeded || !errors.Is(out.Err, errUnsupported) {
		t.Fatalf("want the engine's refusal, got %v", out.Err)
	}
	if f.primary != "p0" || f.secondary != "" || f.sets != 0 {
		t.Fatalf("the account changed: primary %q secondary %q", f.primary, f.secondary)
	}
	if !strings.Contains(out.Err.Error(), "retaining the current one") {
		t.Fatalf("the error does not say what failed: %v", out.Err)
	}
}

// TestDualPasswordPrimaryUnknown: when the account's primary password is
// neither AWSCURRENT's nor the pending one (an abandoned rotation), nothing
// changes and the current password keeps working.
func TestMySQLDualPasswordPrimaryUnknown(t *testing.T) {
	f := &fakeEngine{}
	r := newRig(t, f)
	f.primary, f.secondary = "abandoned", "p0"
	const token = "d1d1d1d1-0000-4000-8000-000000000000"
	r.begin(token)
	if err := r.step("createSecret", token); err != nil {
		t.Fatal(err)
	}
	if err := r.step("setSecret", token); err == nil {
		t.Fatal("setSecret succeeded")
	}
	if f.primary != "abandoned" || f.secondary != "p0" {
		t.Fatalf("the account changed: primary %q secondary %q", f.primary, f.secondary)
	}
}

func TestMySQLDualPasswordPolicyDefaults(t *testing.T) {
	p := rotator.DefaultPasswordPolicyFor(dualpassword.New(&fakeEngine{}))
	if p.ExcludeCharacters != "xyz" {
		t.Fatalf("the engine's defaults are not passed on: %q", p.ExcludeCharacters)
	}
}

type preflightEngine struct {
	fakeEngine
	connFail bool
}

func (p *preflightEngine) PreflightConnection(_ context.Context, _ *rotator.Secret, who string) []rotator.Check {
	if p.connFail {
		return []rotator.Check{{Name: strategies.LoginCheck(who), Status: rotator.CheckFail}}
	}
	return []rotator.Check{{Name: strategies.LoginCheck(who), Status: rotator.CheckPass}}
}

func (p *preflightEngine) PreflightDualPassword(context.Context, *rotator.Secret) []rotator.Check {
	return []rotator.Check{{Name: "dual password", Status: rotator.CheckPass}}
}

func TestMySQLDualPasswordPreflight(t *testing.T) {
	in := rotator.PreflightInput{Current: rotator.NewSecret(map[string]string{rotator.FieldUsername: "app", rotator.FieldPassword: "p0"})}
	tests := []struct {
		name string
		e    dualpassword.Engine
		want []rotator.CheckStatus
	}{
		{"both pass", &preflightEngine{}, []rotator.CheckStatus{rotator.CheckPass, rotator.CheckPass}},
		{"no login: dual password skipped", &preflightEngine{connFail: true}, []rotator.CheckStatus{rotator.CheckFail, rotator.CheckSkip}},
		{"an engine without preflight: fields, login, skip", &fakeEngine{primary: "p0"}, []rotator.CheckStatus{rotator.CheckPass, rotator.CheckPass, rotator.CheckSkip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := dualpassword.New(tt.e).Preflight(context.Background(), in)
			var got []rotator.CheckStatus
			for _, c := range checks {
				got = append(got, c.Status)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("checks %v, want %v", got, tt.want)
			}
		})
	}
}
