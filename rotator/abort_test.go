package rotator_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// aborting is the trivial strategy plus rotator.CreateAborter: it records
// every value the handler asked it to undo.
type aborting struct {
	*trivial
	mu      sync.Mutex
	aborted []string // passwords of the values undone
	causes  []error
	fail    error // AbortCreate's own error
	// before runs inside CreatePending (a concurrent delivery storing
	// first, say).
	before func(r *rotator.Rotation)
	built  []string
}

var _ rotator.CreateAborter = (*aborting)(nil)

func (s *aborting) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	p, err := s.trivial.CreatePending(ctx, r)
	if err != nil {
		return nil, err
	}
	if s.before != nil {
		s.before(r)
	}
	s.mu.Lock()
	s.built = append(s.built, p.Password())
	s.mu.Unlock()
	return p, nil
}

func (s *aborting) AbortCreate(_ context.Context, _ *rotator.Rotation, pending *rotator.Secret, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = append(s.aborted, pending.Password())
	s.causes = append(s.causes, cause)
	return s.fail
}

func newAbortFixture(t *testing.T) (*fixture, *aborting) {
	t.Helper()
	f := newFixture(t)
	a := &aborting{trivial: f.strat}
	h, err := rotator.New(f.srv.Client(), a, rotator.WithLogger(f.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f, a
}

// A failed PutSecretValue makes the handler call AbortCreate with the
// value it could not store; the step fails and the token holds nothing.
func TestPutFailureAbortsCreate(t *testing.T) {
	tests := []struct {
		name      string
		fault     rotatortest.Fault
		abortErr  error
		wantInErr []string
	}{
		{"refused", rotatortest.Fault{ErrorType: "AccessDeniedException", Status: 400, Message: "not allowed to PutSecretValue"},
			nil, []string{"PutSecretValue", "not allowed to PutSecretValue"}},
		{"server error after the SDK's retries", rotatortest.Fault{ErrorType: "InternalServiceError"},
			nil, []string{"PutSecretValue", "InternalServiceError"}},
		{"undo fails too", rotatortest.Fault{ErrorType: "AccessDeniedException", Status: 400, Message: "denied"},
			errors.New("vendor unreachable"), []string{"PutSecretValue", "denied", "undo the unstored pending value", "vendor unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, a := newAbortFixture(t)
			a.fail = tt.abortErr
			token := "cccccccc-0000-0000-0000-000000000003"
			f.beginRotation(token)
			f.srv.InjectFault("PutSecretValue", tt.fault)
			err := f.step("createSecret", token)
			if err == nil {
				t.Fatal("createSecret succeeded although PutSecretValue failed")
			}
			for _, w := range tt.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(a.aborted) != 1 || len(a.built) != 1 || a.aborted[0] != a.built[0] {
				t.Fatalf("AbortCreate got %d values, want the one built (%d built)", len(a.aborted), len(a.built))
			}
			if !strings.Contains(a.causes[0].Error(), "PutSecretValue") {
				t.Errorf("cause %q does not name PutSecretValue", a.causes[0])
			}
			if _, ok := f.srv.ValueOf(f.arn, token); ok {
				t.Fatal("the token holds a value")
			}
			// The next attempt, with Secrets Manager healthy, stores a value
			// and undoes nothing.
			f.srv.ClearFaults()
			f.errs = nil
			if err := f.step("createSecret", token); err != nil {
				t.Fatal(err)
			}
			if len(a.aborted) != 1 {
				t.Fatalf("a stored value was undone (%d undone)", len(a.aborted))
			}
		})
	}
}

// When a concurrent delivery of createSecret stored its value first, the
// handler's PutSecretValue is refused (ResourceExistsException): the step
// succeeds, and the value it built, which nobody will ever use, is undone.
func TestConcurrentStoreAbortsTheLoser(t *testing.T) {
	f, a := newAbortFixture(t)
	token := "dddddddd-0000-0000-0000-000000000004"
	f.beginRotation(token)
	winner := `{"engine":"postgres","host":"db.internal","port":5432,"username":"app","password":"the-winner-stored-this-1"}`
	a.before = func(*rotator.Rotation) {
		_, err := f.srv.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(f.arn), ClientRequestToken: aws.String(token),
			SecretString: aws.String(winner), VersionStages: []string{"AWSPENDING"},
		})
		if err != nil {
			t.Errorf("the concurrent delivery's PutSecretValue: %v", err)
		}
	}
	if err := f.step("createSecret", token); err != nil {
		t.Fatalf("createSecret that lost the race: %v", err)
	}
	if v, _ := f.srv.ValueOf(f.arn, token); v != winner {
		t.Fatal("the winner's value was replaced")
	}
	if len(a.aborted) != 1 || a.aborted[0] != a.built[0] {
		t.Fatalf("the loser's value was not undone (%d undone)", len(a.aborted))
	}
}

// A dry run stores nothing and so undoes nothing.
func TestDryRunDoesNotAbort(t *testing.T) {
	f, a := newAbortFixture(t)
	h, err := rotator.New(f.srv.Client(), a, rotator.WithLogger(f.logs.Logger()), rotator.WithDryRun(true))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	token := "eeeeeeee-0000-0000-0000-000000000005"
	f.beginRotation(token)
	if err := f.step("createSecret", token); err != nil {
		t.Fatal(err)
	}
	if len(a.aborted) != 0 {
		t.Fatal("a dry run undid a value")
	}
}
