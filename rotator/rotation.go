package rotator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Rotation is what a strategy sees of one step: which secret and version,
// the values it may need (fetched on first use, at most once per step), a
// password generator and a logger. It never exposes a staging label.
type Rotation struct {
	// SecretID is the secret's ARN as the event gave it.
	SecretID string
	// Token is the ClientRequestToken: the new version's id.
	Token string
	// Step is the step being run.
	Step Step
	// Logger carries secret_id, step and token, and scrubs known values.
	Logger *slog.Logger
	// DryRun asks the strategy to check everything and change nothing.
	DryRun bool

	h             *Handler
	scrub         *Scrubber
	rotationToken string
	currentID     string

	current, pending, previous *Secret
	others                     map[string]*Secret
}

// Current returns the AWSCURRENT value.
func (r *Rotation) Current(ctx context.Context) (*Secret, error) {
	if r.current != nil {
		return r.current, nil
	}
	s, err := r.fetch(ctx, "current", &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(r.SecretID), VersionStage: aws.String(stageCurrent),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, ErrNoCurrent
		}
		return nil, err
	}
	r.current = s
	return s, nil
}

// Pending returns the value stored at the token. In createSecret there is
// none yet: the strategy builds it.
func (r *Rotation) Pending(ctx context.Context) (*Secret, error) {
	if r.pending != nil {
		return r.pending, nil
	}
	if r.Step == StepCreate {
		return nil, ErrPendingValueMissing
	}
	s, err := r.fetch(ctx, "pending", &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(r.SecretID), VersionId: aws.String(r.Token),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, ErrPendingValueMissing
		}
		return nil, err
	}
	r.pending = s
	return s, nil
}

// Previous returns the AWSPREVIOUS value, or ErrNoPrevious.
func (r *Rotation) Previous(ctx context.Context) (*Secret, error) {
	if r.previous != nil {
		return r.previous, nil
	}
	s, err := r.fetch(ctx, "previous", &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(r.SecretID), VersionStage: aws.String(stagePrevious),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, ErrNoPrevious
		}
		return nil, err
	}
	r.previous = s
	return s, nil
}

// Secret returns the current value of another secret (a master secret, an
// admin key). name says which in errors ("master").
func (r *Rotation) Secret(ctx context.Context, name, secretID string) (*Secret, error) {
	if s, ok := r.others[secretID]; ok {
		return s, nil
	}
	s, err := r.fetch(ctx, name, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(secretID), VersionStage: aws.String(stageCurrent),
	})
	if err != nil {
		return nil, err
	}
	if r.others == nil {
		r.others = map[string]*Secret{}
	}
	r.others[secretID] = s
	return s, nil
}

// NewPassword draws a password and registers it with the scrubber.
func (r *Rotation) NewPassword(ctx context.Context) (string, error) {
	p, err := r.h.passwords.NewPassword(ctx)
	if err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	r.scrub.Add(p)
	return p, nil
}

// Sensitive registers values (a key a vendor returned, say) that must never
// appear in a log line or an error.
func (r *Rotation) Sensitive(values ...string) { r.scrub.Add(values...) }

func (r *Rotation) fetch(ctx context.Context, name string, in *secretsmanager.GetSecretValueInput) (*Secret, error) {
	out, err := r.h.sm.GetSecretValue(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("GetSecretValue(%s): %w", name, err)
	}
	return r.parse(name, out.SecretString)
}

// parse reads a secret string and registers its sensitive values before
// anything can fail on it.
func (r *Rotation) parse(name string, value *string) (*Secret, error) {
	if value == nil {
		return nil, fmt.Errorf("%s secret: %w: no SecretString (binary secrets are not supported)", name, ErrMalformedSecret)
	}
	// Register the whole string too: a malformed value may still be a
	// password that a careless error would quote.
	r.scrub.Add(*value)
	s, err := ParseSecret(*value)
	if err != nil {
		return nil, fmt.Errorf("%s secret: %w", name, err)
	}
	r.scrub.AddSecret(s)
	return s, nil
}
