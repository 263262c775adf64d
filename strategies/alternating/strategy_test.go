package alternating

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// fakeEngine records what the strategy asks of an engine, in order.
type fakeEngine struct {
	mu       sync.Mutex
	calls    []string
	conns    []*rotator.Secret // the Conn of each CheckTarget, EnsureUser and SetPassword
	guardErr error             // what CheckTarget returns
}

func (f *fakeEngine) record(call string, conn *rotator.Secret) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if conn != nil {
		f.conns = append(f.conns, conn)
	}
}

func (f *fakeEngine) Validate(s *rotator.Secret) error {
	for _, field := range []string{rotator.FieldHost, rotator.FieldUsername, rotator.FieldPassword} {
		if _, err := s.Require(field); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeEngine) Login(_ context.Context, s *rotator.Secret) error {
	f.record("Login "+s.Username(), nil)
	return nil
}

func (f *fakeEngine) CheckTarget(_ context.Context, req rotator.CheckTargetRequest) error {
	f.record(fmt.Sprintf("CheckTarget %s base=%s clone=%s", req.Username, req.Base, req.Clone), req.Conn)
	return f.guardErr
}

func (f *fakeEngine) SetPassword(_ context.Context, req rotator.SetPasswordRequest) error {
	f.record("SetPassword "+req.Username, req.Conn)
	return nil
}

func (f *fakeEngine) EnsureUser(_ context.Context, req rotator.EnsureUserRequest) (rotator.EnsureUserResponse, error) {
	f.record("EnsureUser "+req.Username+" template="+req.Template, req.Conn)
	return rotator.EnsureUserResponse{}, nil
}

// flowRig is a secret rotated by the strategy over a fake engine.
type flowRig struct {
	sm     *rotatortest.Server
	arn    string
	engine *fakeEngine
	h      *rotator.Handler
}

func newFlowRig(t *testing.T, cur map[string]any, master map[string]any, opts ...Option) *flowRig {
	t.Helper()
	f := &flowRig{sm: rotatortest.NewServer(), engine: &fakeEngine{}}
	t.Cleanup(f.sm.Close)
	store := func(name string, m map[string]any) string {
		s := rotator.NewSecret(nil)
		for k, v := range m {
			if err := s.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		v, _ := s.Value()
		return f.sm.MustCreateSecret(t, name, v)
	}
	if master != nil {
		cur["masterarn"] = store("master", master)
	}
	f.arn = store("app", cur)
	h, err := rotator.New(f.sm.Client(), New(f.engine, opts...), rotator.WithLogger((&rotatortest.LogBuffer{}).Logger()))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func (f *flowRig) setMasterARN(t *testing.T, arn string) {
	t.Helper()
	out, err := f.sm.Client().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(f.arn)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rotator.ParseSecret(aws.ToString(out.SecretString))
	s.SetString(rotator.FieldMasterARN, arn)
	v, _ := s.Value()
	if _, err := f.sm.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(f.arn), SecretString: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
}

func (f *flowRig) rotate(t *testing.T) rotatortest.RotationOutcome {
	t.Helper()
	out, _ := rotatortest.Rotate(t, f.sm, f.arn, f.h.Handle)
	return out
}

func appSecret() map[string]any {
	return map[string]any{"host": "db", "port": 5432, "username": "app", "password": "pw", "sslmode": "verify-full"}
}

func masterSecret() map[string]any { return map[string]any{"username": "admin", "password": "mpw"} }

// plus returns a maker of m's value with one more field.
func plus(m func() map[string]any, field string, v any) func() map[string]any {
	return func() map[string]any {
		out := m()
		out[field] = v
		return out
	}
}

// TestSetPendingGuardsBeforeChanges: the strategy asks the engine's guard,
// with the master connection as it will change things, before any change,
// and a refusal stops the rotation with an error naming the field.
func TestSetPendingGuardsBeforeChanges(t *testing.T) {
	f := newFlowRig(t, appSecret(), masterSecret())
	if out := f.rotate(t); !out.Succeeded {
		t.Fatal(out.Err)
	}
	want := []string{"Login app", "CheckTarget app_clone base=app clone=app_clone", "EnsureUser app_clone template=app", "SetPassword app_clone", "Login app_clone"}
	if got := f.engine.calls; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range f.engine.conns {
		if c.Host() != "db" || c.Username() != "admin" {
			t.Fatalf("a change connected as %q to %q", c.Username(), c.Host())
		}
		if mode, _ := c.String(fieldSSLMode); mode != "verify-full" {
			t.Fatalf("the master connects with sslmode %q", mode)
		}
	}

	refused := newFlowRig(t, appSecret(), masterSecret())
	refused.engine.guardErr = fmt.Errorf("postgres: %q has SUPERUSER: %w", "app_clone", rotator.ErrNotAllowed)
	out := refused.rotate(t)
	if out.Succeeded {
		t.Fatal("rotated past the guard's refusal")
	}
	var fe *rotator.FieldError
	if !errors.As(out.Err, &fe) || fe.Field != FieldAlternateUsername || !errors.Is(out.Err, rotator.ErrNotAllowed) {
		t.Fatalf("err = %v", out.Err)
	}
	for _, c := range refused.engine.calls {
		if strings.HasPrefix(c, "EnsureUser") || strings.HasPrefix(c, "SetPassword") {
			t.Fatalf("changed after the guard refused: %v", refused.engine.calls)
		}
	}
}

// TestRefusalsChangeNothing: what the strategy refuses itself, it refuses
// before the engine is asked to change anything (and, for the master
// secret, before it is used at all).
func TestRefusalsChangeNothing(t *testing.T) {
	tests := []struct {
		name   string
		cur    func() map[string]any
		master func() map[string]any
		self   func(f *flowRig) string // "masterarn" naming the secret itself
		opts   []Option
		field  string
		is     error
	}{
		{name: "unlisted second user", cur: plus(appSecret, FieldAlternateUsername, "victim"),
			master: masterSecret, field: FieldAlternateUsername, is: rotator.ErrNotAllowed},
		{name: "master lists another pair", cur: plus(appSecret, FieldAlternateUsername, "victim"),
			master: plus(masterSecret, FieldAlternatingPairs, [][]string{{"victim", "other"}}),
			field:  FieldAlternateUsername, is: rotator.ErrNotAllowed},
		{name: "function lists another pair", cur: plus(appSecret, FieldAlternateUsername, "victim"),
			master: masterSecret, opts: []Option{WithAllowedPairs([2]string{"app", "other"})},
			field: FieldAlternateUsername, is: rotator.ErrNotAllowed},
		{name: "master for another host", cur: appSecret,
			master: plus(masterSecret, rotator.FieldHost, "db2"),
			field:  rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "master for another port", cur: appSecret,
			master: plus(masterSecret, rotator.FieldPort, "5433"),
			field:  rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "master is an application's secret", cur: appSecret,
			master: plus(masterSecret, rotator.FieldMasterARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:m-AbCdEf"),
			field:  rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "masterarn is the secret's ARN", cur: appSecret, self: func(f *flowRig) string { return f.arn },
			field: rotator.FieldMasterARN, is: rotator.ErrSelfReference},
		{name: "masterarn is the secret's name", cur: appSecret, self: func(f *flowRig) string { return "app" },
			field: rotator.FieldMasterARN, is: rotator.ErrSelfReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var master map[string]any
			if tt.master != nil {
				master = tt.master()
			}
			f := newFlowRig(t, tt.cur(), master, tt.opts...)
			if tt.self != nil {
				f.setMasterARN(t, tt.self(f))
			}
			out := f.rotate(t)
			var fe *rotator.FieldError
			if out.Succeeded || !errors.As(out.Err, &fe) || fe.Field != tt.field || !errors.Is(out.Err, tt.is) {
				t.Fatalf("outcome %v, err = %v; want a refusal naming %q", out.Succeeded, out.Err, tt.field)
			}
			for _, c := range f.engine.calls {
				if !strings.HasPrefix(c, "Login app") || strings.HasPrefix(c, "Login app_clone") {
					t.Fatalf("the engine was asked more than the current login: %v", f.engine.calls)
				}
			}
		})
	}
}
