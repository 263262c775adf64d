package rotator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// otherReader is a strategy whose createSecret reads another secret, as
// the alternating strategy reads its master, and records the outcome.
type otherReader struct {
	id  string
	got *rotator.Secret
	arn string
	err error
}

func (o *otherReader) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	o.got, o.err = r.Secret(ctx, "master", o.id)
	o.arn, _ = r.ARN(ctx)
	return nil, errors.New("stop here")
}
func (o *otherReader) SetPending(context.Context, *rotator.Rotation) error  { return nil }
func (o *otherReader) TestPending(context.Context, *rotator.Rotation) error { return nil }

// TestRotationSecretRefusesItself: Rotation.Secret never returns the
// rotated secret as "another" secret, however it is named, comparing the
// ARNs Secrets Manager returns.
func TestRotationSecretRefusesItself(t *testing.T) {
	sm := rotatortest.NewServer()
	defer sm.Close()
	arn := sm.MustCreateSecret(t, "app/db", `{"username":"app","password":"pw"}`)
	other := sm.MustCreateSecret(t, "app/master", `{"username":"admin","password":"mpw"}`)
	tests := []struct {
		name, eventID, id string
		self              bool
	}{
		{"the event's id", arn, arn, true},
		{"its name, the event giving the ARN", arn, "app/db", true},
		{"its ARN, the event giving the name", "app/db", arn, true},
		{"another secret", arn, other, false},
		{"another secret by name", "app/db", "app/master", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &otherReader{id: tt.id}
			h, err := rotator.New(sm.Client(), o, rotator.WithLocalDriver(true), rotator.WithLogger((&rotatortest.LogBuffer{}).Logger()))
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: tt.eventID, ClientRequestToken: "11111111-2222-3333-4444-555555555555"})
			if o.arn != arn {
				t.Fatalf("ARN() = %q, want %q", o.arn, arn)
			}
			if tt.self {
				if !errors.Is(o.err, rotator.ErrSelfReference) || o.got != nil {
					t.Fatalf("got %v, err = %v; want ErrSelfReference", o.got, o.err)
				}
				return
			}
			if o.err != nil || o.got.Username() != "admin" {
				t.Fatalf("got %v, err = %v", o.got, o.err)
			}
		})
	}
	// A service that returns no ARN cannot prove the secrets differ.
	noARN := &dropARN{SecretsManagerAPI: sm.Client()}
	o := &otherReader{id: other}
	h, _ := rotator.New(noARN, o, rotator.WithLocalDriver(true), rotator.WithLogger((&rotatortest.LogBuffer{}).Logger()))
	_ = h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: arn, ClientRequestToken: "11111111-2222-3333-4444-555555555556"})
	if !errors.Is(o.err, rotator.ErrNotAllowed) {
		t.Fatalf("without ARNs: err = %v, want ErrNotAllowed", o.err)
	}
}

// dropARN answers GetSecretValue without the ARN.
type dropARN struct{ rotator.SecretsManagerAPI }

func (d *dropARN) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := d.SecretsManagerAPI.GetSecretValue(ctx, in, opts...)
	if out != nil {
		out.ARN = aws.String("")
	}
	return out, err
}
