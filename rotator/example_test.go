package rotator_test

// README:begin custom-rotator
import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// keyService stands for the system whose credential you rotate: an HTTP
// API, a message broker, a database. Here it is a set of valid API keys.
type keyService struct {
	mu    sync.Mutex
	valid map[string]bool
}

func (k *keyService) set(key string, ok bool) { k.mu.Lock(); k.valid[key] = ok; k.mu.Unlock() }
func (k *keyService) check(key string) bool   { k.mu.Lock(); defer k.mu.Unlock(); return k.valid[key] }

// apiKeyRotator is a complete rotator: three steps, plus a clean-up that
// runs only after AWSCURRENT has moved. The rotator package makes every
// Secrets Manager call and every version-stage decision.
//
// Secrets Manager may run any step more than once for one rotation: again
// after a failure (the whole rotation, same token), twice at once, or
// after the function crashed half-way. So no step may assume it runs
// first: each makes the service reach a state (this key is valid), never
// performs an action (add a key).
type apiKeyRotator struct{ svc *keyService }

// CreatePending builds the new value and changes nothing: it also runs in
// dry runs, and on a retry its value is thrown away (the stored one wins).
func (a apiKeyRotator) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	key, err := r.NewPassword(ctx) // crypto/rand, GetRandomPassword's policy
	if err != nil {
		return nil, err
	}
	next := cur.Clone() // every other field is carried over
	next.SetString("api_key", key)
	return next, nil
}

// SetPending makes the service accept the pending key. In a dry run
// (r.DryRun) it checks what a real run needs, here that the current key
// works, and changes nothing: Secrets Manager retries a dry run, which
// never moves AWSCURRENT, as a failed rotation.
func (a apiKeyRotator) SetPending(ctx context.Context, r *rotator.Rotation) error {
	if r.DryRun {
		cur, err := r.Current(ctx)
		if err != nil {
			return err
		}
		if key, _ := cur.String("api_key"); !a.svc.check(key) {
			return fmt.Errorf("current key rejected: %w", rotator.ErrLoginFailed)
		}
		return nil
	}
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	key, _ := p.String("api_key")
	a.svc.set(key, true) // idempotent: a retry sets the same key again
	return nil
}

// TestPending proves the pending key works; it changes nothing, in any
// run.
func (a apiKeyRotator) TestPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if key, _ := p.String("api_key"); !a.svc.check(key) {
		return fmt.Errorf("pending key rejected: %w", rotator.ErrLoginFailed)
	}
	return nil
}

// AfterPromotion revokes the old key once the new one is AWSCURRENT:
// earlier, applications that read the secret before the promotion would
// lose their key. It runs again when finishSecret is retried after the
// promotion, and never in a dry run.
func (a apiKeyRotator) AfterPromotion(ctx context.Context, r *rotator.Rotation) error {
	prev, err := r.Previous(ctx)
	if errors.Is(err, rotator.ErrNoPrevious) {
		return nil // nothing to revoke
	}
	if err != nil {
		return err
	}
	key, _ := prev.String("api_key")
	a.svc.set(key, false) // idempotent: revoking twice is revoking once
	return nil
}

func Example_customRotator() {
	ctx := context.Background()
	sm := rotatortest.NewServer() // in-process Secrets Manager; in Lambda: rotator.NewFromEnv
	defer sm.Close()

	svc := &keyService{valid: map[string]bool{"first-key": true}}
	created, _ := sm.Client().CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("vendor/api"), SecretString: aws.String(`{"api_key":"first-key","account":"42"}`),
	})

	h, err := rotator.New(sm.Client(), apiKeyRotator{svc: svc}, rotator.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	// In Lambda: lambda.Start(h.Handle). Here the test server plays
	// Secrets Manager and invokes the handler through the four steps.
	sm.RegisterFunction("arn:aws:lambda:us-east-1:123456789012:function:api-key-rotator", h.Handle)
	_, err = sm.Client().RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          created.ARN,
		RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:api-key-rotator"),
	})
	if err != nil {
		panic(err)
	}

	out, _ := sm.Client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
	cur, _ := rotator.ParseSecret(aws.ToString(out.SecretString))
	key, _ := cur.String("api_key")
	account, _ := cur.String("account")
	fmt.Println("new key works:", svc.check(key))
	fmt.Println("old key works:", svc.check("first-key"))
	fmt.Println("other fields kept:", account == "42")
	// Output:
	// new key works: true
	// old key works: false
	// other fields kept: true
}

// README:end custom-rotator
