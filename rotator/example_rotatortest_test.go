package rotator_test

// README:begin testing-a-rotator
import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// rotation is one test's world: a Secrets Manager holding vendor/api, the
// service its key opens, and the handler as Lambda would run it.
type rotation struct {
	sm   *rotatortest.Server
	svc  *keyService
	arn  string
	fn   rotatortest.RotationFunc
	logs *rotatortest.LogBuffer
}

func newRotation(t *testing.T, opts ...rotator.Option) *rotation {
	t.Helper()
	sm := rotatortest.NewServer() // retries a failed rotation 3 times, as AWS does
	t.Cleanup(sm.Close)
	r := &rotation{sm: sm, svc: &keyService{valid: map[string]bool{"first-key": true}}, logs: &rotatortest.LogBuffer{}}
	r.arn = sm.MustCreateSecret(t, "vendor/api", `{"api_key":"first-key","account":"42"}`)
	h, err := rotator.New(sm.Client(), apiKeyRotator{svc: r.svc}, append([]rotator.Option{rotator.WithLogger(r.logs.Logger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.fn = h.Handle
	return r
}

// currentKey returns AWSCURRENT's api_key and account.
func (r *rotation) currentKey(t *testing.T) (key, account string) {
	t.Helper()
	v, ok := r.sm.ValueOf(r.arn, r.sm.VersionOf(r.arn, "AWSCURRENT"))
	if !ok {
		t.Fatal("AWSCURRENT holds no value")
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	key, _ = s.String("api_key")
	account, _ = s.String("account")
	return key, account
}

func countOps(calls []rotatortest.Call) map[string]int {
	n := map[string]int{}
	for _, c := range calls {
		n[c.Operation]++
	}
	return n
}

func TestAPIKeyRotator(t *testing.T) {
	t.Run("rotates", func(t *testing.T) {
		r := newRotation(t)
		// RotateSecret through the SDK: the server creates the pending
		// version and invokes the handler for the four steps.
		out, calls := rotatortest.Rotate(t, r.sm, r.arn, r.fn)
		if !out.Succeeded || out.Err != nil || out.Attempts != 1 {
			t.Fatalf("succeeded %v after %d attempts: %v", out.Succeeded, out.Attempts, out.Err)
		}
		if got := strings.Join(out.Steps, ","); got != "createSecret,setSecret,testSecret,finishSecret" {
			t.Fatalf("steps %s", got)
		}
		if r.sm.VersionOf(r.arn, "AWSCURRENT") != out.Token { // Token: the new version's id
			t.Fatal("AWSCURRENT is not the new version")
		}
		key, account := r.currentKey(t)
		if !r.svc.check(key) || r.svc.check("first-key") || account != "42" {
			t.Fatal("the new key does not work, the old one still does, or a field was lost")
		}
		// One write of the value, one move of the label.
		if n := countOps(calls); n["PutSecretValue"] != 1 || n["UpdateSecretVersionStage"] != 1 {
			t.Fatalf("calls %v", n)
		}
		rotatortest.AssertNoSecrets(t, "logs", r.logs.String(), key, "first-key")
	})

	t.Run("retried", func(t *testing.T) {
		r := newRotation(t)
		// finishSecret fails (the SDK's three tries, all refused), so
		// Secrets Manager runs the rotation again with the same token:
		// every step runs a second time and must cope.
		r.sm.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{ErrorType: "InternalServiceError", Times: 3})
		out, _ := rotatortest.Rotate(t, r.sm, r.arn, r.fn)
		if !out.Succeeded || out.Attempts != 2 || len(out.Steps) != 8 {
			t.Fatalf("succeeded %v after %d attempts, steps %v: %v", out.Succeeded, out.Attempts, out.Steps, out.Err)
		}
		key, _ := r.currentKey(t)
		if !r.svc.check(key) || r.svc.check("first-key") {
			t.Fatal("after the retry the new key does not work, or the old one still does")
		}
	})

	t.Run("delivered twice at once", func(t *testing.T) {
		r := newRotation(t)
		// Lambda may deliver an invocation twice, and both may run at the
		// same time: here every step does.
		twice := func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			errs := make(chan error, 2)
			for range 2 {
				go func() { errs <- r.fn(ctx, ev) }()
			}
			return errors.Join(<-errs, <-errs)
		}
		out, _ := rotatortest.Rotate(t, r.sm, r.arn, twice)
		if !out.Succeeded || out.Attempts != 1 {
			t.Fatalf("succeeded %v after %d attempts: %v", out.Succeeded, out.Attempts, out.Err)
		}
		key, _ := r.currentKey(t)
		if !r.svc.check(key) || r.svc.check("first-key") {
			t.Fatal("the new key does not work, or the old one still does")
		}
	})

	t.Run("dry run changes nothing", func(t *testing.T) {
		r := newRotation(t, rotator.WithDryRun(true))
		before := maps.Clone(r.svc.valid)
		out, calls := rotatortest.Rotate(t, r.sm, r.arn, r.fn)
		// A dry run never moves AWSCURRENT: Secrets Manager counts it a
		// failure and retries it, and no attempt may change anything.
		if out.Succeeded || !errors.Is(out.Err, rotatortest.ErrNotPromoted) || out.Attempts != 3 {
			t.Fatalf("succeeded %v after %d attempts: %v", out.Succeeded, out.Attempts, out.Err)
		}
		if !maps.Equal(before, r.svc.valid) {
			t.Fatalf("the dry run changed the service: %d keys known, %d before", len(r.svc.valid), len(before))
		}
		if n := countOps(calls); n["PutSecretValue"] != 0 || n["UpdateSecretVersionStage"] != 0 {
			t.Fatalf("the dry run wrote to Secrets Manager: %v", n)
		}
		if key, _ := r.currentKey(t); key != "first-key" {
			t.Fatal("the dry run changed AWSCURRENT")
		}
	})
}

// README:end testing-a-rotator
