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
	// arn is the rotated secret's ARN as Secrets Manager returned it with
	// one of its values ("" until one was read).
	arn string
}

// Current returns the AWSCURRENT value.
func (r *Rotation) Current(ctx context.Context) (*Secret, error) {
	if r.current != nil {
		return r.current, nil
	}
	s, err := r.fetchOwn(ctx, "current", &secretsmanager.GetSecretValueInput{
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
	s, err := r.fetchOwn(ctx, "pending", &secretsmanager.GetSecretValueInput{
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
	s, err := r.fetchOwn(ctx, "previous", &secretsmanager.GetSecretValueInput{
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
//
// It refuses, with an error wrapping ErrSelfReference, a secretID that
// resolves to the secret being rotated: a master secret is never the
// secret it rotates. The comparison is between the ARNs Secrets Manager
// returns for both (the event's SecretId and secretID may each be a name,
// a partial ARN or an ARN); learning the rotated secret's ARN reads its
// current value when no value of it was read yet in this step.
func (r *Rotation) Secret(ctx context.Context, name, secretID string) (*Secret, error) {
	if s, ok := r.others[secretID]; ok {
		return s, nil
	}
	if secretID == r.SecretID {
		return nil, fmt.Errorf("%s secret: %w", name, ErrSelfReference)
	}
	self, err := r.ARN(ctx)
	if err != nil {
		return nil, err
	}
	s, arn, err := r.fetch(ctx, name, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(secretID), VersionStage: aws.String(stageCurrent),
	})
	if err != nil {
		return nil, err
	}
	switch {
	case arn == "" || self == "":
		// Fail closed: without both ARNs the two cannot be told apart.
		return nil, fmt.Errorf("%s secret: %w: Secrets Manager returned no ARN to tell it from the secret being rotated", name, ErrNotAllowed)
	case arn == self:
		return nil, fmt.Errorf("%s secret: %w", name, ErrSelfReference)
	}
	if r.others == nil {
		r.others = map[string]*Secret{}
	}
	r.others[secretID] = s
	return s, nil
}

// ARN returns the rotated secret's ARN as Secrets Manager returns it (the
// event's SecretId may be a name in local runs). It reads the AWSCURRENT
// value when no value of the secret was read yet in this step.
func (r *Rotation) ARN(ctx context.Context) (string, error) {
	if r.arn != "" {
		return r.arn, nil
	}
	if _, err := r.Current(ctx); err != nil {
		return "", err
	}
	return r.arn, nil
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

// fetchOwn reads a value of the rotated secret and remembers its ARN.
func (r *Rotation) fetchOwn(ctx context.Context, name string, in *secretsmanager.GetSecretValueInput) (*Secret, error) {
	s, arn, err := r.fetch(ctx, name, in)
	if err != nil {
		return nil, err
	}
	if arn != "" {
		r.arn = arn
	}
	return s, nil
}

// fetch reads a secret value and returns it with the ARN the service
// returned for it.
func (r *Rotation) fetch(ctx context.Context, name string, in *secretsmanager.GetSecretValueInput) (*Secret, string, error) {
	out, err := r.h.sm.GetSecretValue(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("GetSecretValue(%s): %w", name, err)
	}
	s, err := r.parse(name, out.SecretString)
	if err != nil {
		return nil, "", err
	}
	return s, aws.ToString(out.ARN), nil
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

// tokenError names the event's ClientRequestToken in a token check's
// failure, wrapping sentinel.
func (r *Rotation) tokenError(sentinel error) error {
	return fmt.Errorf("%w: field %s %s", sentinel, EventFieldToken, Printable(r.Token))
}
