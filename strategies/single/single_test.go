package single_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/single"
)

// fakeEngine is one user on one server: it accepts the server's password,
// and with requireTLS only over secrets whose "sslmode" is "require" (it
// stands for a pg_hba.conf with hostssl lines only). It records the
// secrets it was asked to connect with.
type fakeEngine struct {
	mu         sync.Mutex
	password   string
	requireTLS bool
	setConns   []*rotator.Secret // SetPassword's req.Conn, in order
	logins     []*rotator.Secret
}

func (f *fakeEngine) Validate(*rotator.Secret) error { return nil }

func (f *fakeEngine) accept(s *rotator.Secret) error {
	if mode, _ := s.String("sslmode"); f.requireTLS && mode != "require" {
		return fmt.Errorf("%w: fake: %q may connect over TLS only", rotator.ErrLoginFailed, s.Username())
	}
	if s.Password() != f.password {
		return fmt.Errorf("%w: fake: password rejected for %q", rotator.ErrLoginFailed, s.Username())
	}
	return nil
}

func (f *fakeEngine) Login(_ context.Context, s *rotator.Secret) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, s.Clone())
	return f.accept(s)
}

func (f *fakeEngine) SetPassword(_ context.Context, req rotator.SetPasswordRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setConns = append(f.setConns, req.Conn.Clone())
	if err := f.accept(req.Conn); err != nil {
		return err
	}
	f.password = req.Password
	return nil
}

// secret is an RDS-style value for user "app".
func secret(host, password, sslmode, dbname string, port int) *rotator.Secret {
	s := rotator.NewSecret(map[string]string{
		rotator.FieldEngine:   "postgres",
		rotator.FieldHost:     host,
		rotator.FieldUsername: "app",
		rotator.FieldPassword: password,
		rotator.FieldDBName:   dbname,
		"sslmode":             sslmode,
	})
	if err := s.Set(rotator.FieldPort, port); err != nil {
		panic(err) // an int always marshals
	}
	return s
}

func value(t *testing.T, s *rotator.Secret) string {
	t.Helper()
	v, err := s.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setSecret stores versions (oldest first; the last is AWSCURRENT, the one
// before AWSPREVIOUS), runs createSecret, calls beforeSet with the pending
// password, and returns the pending value, the handler's log and
// setSecret's error.
func setSecret(t *testing.T, f *fakeEngine, versions []*rotator.Secret, beforeSet func(pending string)) (*rotator.Secret, *rotatortest.LogBuffer, error) {
	t.Helper()
	ctx := context.Background()
	sm := rotatortest.NewServer()
	t.Cleanup(sm.Close)
	arn := sm.MustCreateSecret(t, "rds/app", value(t, versions[0]))
	for _, v := range versions[1:] {
		if _, err := sm.Client().PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value(t, v))}); err != nil {
			t.Fatal(err)
		}
	}
	const token = "5e75e75e-1111-2222-3333-444444444444"
	rotatortest.Rotate(t, sm, arn, nil, rotatortest.WithToken(token), rotatortest.WithLambdaARN(rotatortest.FunctionARN("unregistered")))
	logs := &rotatortest.LogBuffer{}
	h, err := rotator.New(sm.Client(), single.New(f), rotator.WithLogger(logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	ev := events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: arn, ClientRequestToken: token}
	if err := h.Handle(ctx, ev); err != nil {
		t.Fatalf("createSecret: %v", err)
	}
	v, ok := sm.ValueOf(arn, token)
	if !ok {
		t.Fatal("no pending value")
	}
	pending, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	if beforeSet != nil {
		beforeSet(pending.Password())
	}
	ev.Step = "setSecret"
	return pending, logs, h.Handle(ctx, ev)
}

// TestSetPendingFallback covers the order of logins: current, then the
// previous password with the current secret's connection settings, then
// whether the pending password already works.
func TestSetPendingFallback(t *testing.T) {
	const host = "db.example.com"
	tests := []struct {
		name       string
		previous   *rotator.Secret // nil: no AWSPREVIOUS
		server     string          // the password the server accepts; "pending" for the pending one
		requireTLS bool
		wantConns  int      // SetPassword connections
		wantErr    []string // parts of the error; nil: success
		wantSkip   string   // LoginError.PreviousSkipped
	}{
		{
			name:       "current logs in",
			previous:   secret(host, "p0-old", "disable", "app", 5432),
			server:     "p1-current",
			requireTLS: true,
			wantConns:  1,
		},
		{
			name:       "previous logs in with the current TLS mode, port and database",
			previous:   secret(host, "p0-old", "disable", "olddb", 6543),
			server:     "p0-old",
			requireTLS: true,
			wantConns:  2,
		},
		{
			name:      "pending already set",
			previous:  secret(host, "p0-old", "require", "app", 5432),
			server:    "pending",
			wantConns: 2,
		},
		{
			name:      "previous names another host: not tried",
			previous:  secret("elsewhere.example.com", "p0-old", "require", "app", 5432),
			server:    "p0-old",
			wantConns: 1,
			wantErr: []string{
				"current: set pending password: login failed: fake: password rejected",
				"previous: not tried (AWSPREVIOUS names another user or host)",
				"pending: login failed: fake: password rejected",
			},
			wantSkip: "AWSPREVIOUS names another user or host",
		},
		{
			name:      "previous holds the current password: not tried",
			previous:  secret(host, "p1-current", "disable", "app", 5432),
			server:    "unknown",
			wantConns: 1,
			wantErr:   []string{"previous: not tried (AWSPREVIOUS holds the current password)"},
			wantSkip:  "AWSPREVIOUS holds the current password",
		},
		{
			name:      "no previous version",
			server:    "unknown",
			wantConns: 1,
			wantErr:   []string{"previous: not tried (there is no AWSPREVIOUS version)"},
			wantSkip:  "there is no AWSPREVIOUS version",
		},
		{
			name:       "nothing logs in: every cause named",
			previous:   secret(host, "p0-old", "disable", "olddb", 6543),
			server:     "unknown",
			requireTLS: true,
			wantConns:  2,
			wantErr: []string{
				"current: set pending password: login failed: fake: password rejected",
				"previous: set pending password: login failed: fake: password rejected",
				"pending: login failed: fake: password rejected",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := secret(host, "p1-current", "require", "app", 5432)
			var versions []*rotator.Secret
			if tt.previous != nil {
				versions = append(versions, tt.previous)
			}
			versions = append(versions, cur)
			f := &fakeEngine{password: tt.server, requireTLS: tt.requireTLS}
			pending, logs, err := setSecret(t, f, versions, func(pw string) {
				if tt.server == "pending" {
					f.password = pw
				}
			})

			if len(f.setConns) != tt.wantConns {
				t.Errorf("SetPassword connected %d times, want %d", len(f.setConns), tt.wantConns)
			}
			if len(f.setConns) >= 2 {
				// The fallback: the current secret, every field, with the
				// previous password.
				want := cur.Clone()
				want.SetString(rotator.FieldPassword, tt.previous.Password())
				if got, w := value(t, f.setConns[1]), value(t, want); got != w {
					t.Errorf("fallback connected with\n%s\nwant\n%s", got, w)
				}
			}
			for _, pw := range []string{"p0-old", "p1-current", pending.Password()} {
				if err != nil && strings.Contains(err.Error(), pw) {
					t.Errorf("the error holds a password")
				}
				if strings.Contains(logs.String(), pw) {
					t.Errorf("the log holds a password")
				}
			}

			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("setSecret: %v", err)
				}
				if f.password != pending.Password() {
					t.Fatal("the server does not have the pending password")
				}
				return
			}
			if err == nil {
				t.Fatal("setSecret succeeded")
			}
			if !errors.Is(err, rotator.ErrLoginFailed) {
				t.Errorf("error %q does not wrap ErrLoginFailed", err)
			}
			var le *single.LoginError
			if !errors.As(err, &le) {
				t.Fatalf("error %q is not a *LoginError", err)
			}
			if le.PreviousSkipped != tt.wantSkip {
				t.Errorf("PreviousSkipped = %q, want %q", le.PreviousSkipped, tt.wantSkip)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestLoginErrorMessage: the text names every cause, in order, and the
// error wraps each.
func TestLoginErrorMessage(t *testing.T) {
	errCurrent := fmt.Errorf("%w: current refused", rotator.ErrLoginFailed)
	errPrevious := fmt.Errorf("%w: previous refused", rotator.ErrLoginFailed)
	errPending := errors.New("pending refused")
	const head = "neither the current nor the previous password logs in, and the pending one is not set: "
	tests := []struct {
		name string
		err  *single.LoginError
		want string
		is   []error
	}{
		{
			name: "all three tried",
			err:  &single.LoginError{Current: errCurrent, Previous: errPrevious, Pending: errPending},
			want: head + "current: login failed: current refused; previous: login failed: previous refused; pending: pending refused",
			is:   []error{rotator.ErrLoginFailed, errCurrent, errPrevious, errPending},
		},
		{
			name: "previous skipped",
			err:  &single.LoginError{Current: errCurrent, PreviousSkipped: "there is no AWSPREVIOUS version", Pending: errPending},
			want: head + "current: login failed: current refused; previous: not tried (there is no AWSPREVIOUS version); pending: pending refused",
			is:   []error{rotator.ErrLoginFailed, errCurrent, errPending},
		},
		{
			name: "fields missing",
			err:  &single.LoginError{Current: errCurrent},
			want: head + "current: login failed: current refused; previous: not tried; pending: no error recorded",
			is:   []error{rotator.ErrLoginFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
			wrapped := fmt.Errorf("setSecret: %w", tt.err)
			for _, target := range tt.is {
				if !errors.Is(wrapped, target) {
					t.Errorf("errors.Is(err, %v) = false", target)
				}
			}
		})
	}
}
