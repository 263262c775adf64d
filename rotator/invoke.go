package rotator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// EnvLocalDriver, when true, builds the handler with WithLocalDriver: the
// rotator command sets it when it runs a user's bootstrap itself
// (`rotator rotate --function ./bootstrap`). It is refused inside Lambda
// (where AWS_LAMBDA_FUNCTION_NAME is always set): there a token must be
// the version Secrets Manager made, and rotation must be enabled.
const EnvLocalDriver = "ROTATOR_LOCAL_DRIVER"

// PreflightRequest is the event the rotator command sends a bootstrap it
// runs itself to get its strategy's preflight checks: {"rotatorPreflight":
// {"SecretId": "..."}}. A handler answers it only with the local driver.
type PreflightRequest struct {
	// SecretID is the secret to check (a name or an ARN).
	SecretID string `json:"SecretId"`
}

// PreflightResponse is the answer to a PreflightRequest.
type PreflightResponse struct {
	Checks []Check `json:"checks"`
}

// Invoke is the Lambda entry point StartLambda registers: a rotation
// event runs Handle; a preflight request (the rotator command's, local
// driver only) returns the strategy's checks.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (*PreflightResponse, error) {
	var probe struct {
		Preflight *PreflightRequest `json:"rotatorPreflight"`
	}
	if err := json.Unmarshal(payload, &probe); err == nil && probe.Preflight != nil {
		if !h.local {
			return nil, errors.New("rotator: a preflight request is answered only under the rotator command (local driver)")
		}
		checks, err := h.Preflight(ctx, probe.Preflight.SecretID)
		if err != nil {
			return nil, err
		}
		return &PreflightResponse{Checks: checks}, nil
	}
	var ev events.SecretsManagerSecretRotationEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: not a rotation event (%v)", ErrInvalidEvent, err)
	}
	return nil, h.Handle(ctx, ev)
}

// Preflight runs the strategy's checks (rotator.Preflighter) on the
// secret's AWSCURRENT value, changing nothing. The checks' texts are
// scrubbed of every value read.
func (h *Handler) Preflight(ctx context.Context, secretID string) ([]Check, error) {
	scrub := NewScrubber()
	read := func(ctx context.Context, id string) (*Secret, string, error) {
		out, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stageCurrent)})
		if err != nil {
			return nil, "", fmt.Errorf("GetSecretValue(%s): %w", id, err)
		}
		if out.SecretString == nil {
			return nil, "", fmt.Errorf("%w: no SecretString", ErrMalformedSecret)
		}
		scrub.Add(*out.SecretString)
		s, err := ParseSecret(*out.SecretString)
		if err != nil {
			return nil, "", err
		}
		scrub.AddSecret(s)
		return s, aws.ToString(out.ARN), nil
	}
	cur, arn, err := read(ctx, secretID)
	if err != nil {
		return nil, errors.New(scrub.Scrub(err.Error()))
	}
	p, ok := h.strategy.(Preflighter)
	if !ok {
		return []Check{{Name: "strategy checks", Status: CheckSkip, Detail: "the strategy implements no preflight checks (rotator.Preflighter)"}}, nil
	}
	checks := p.Preflight(ContextWithLogger(ctx, ScrubLogger(h.logger, scrub)), PreflightInput{Current: cur, ARN: arn, GetSecret: read})
	for i := range checks {
		checks[i].Detail, checks[i].Fix = scrub.Scrub(checks[i].Detail), scrub.Scrub(checks[i].Fix)
	}
	return checks, nil
}

// localDriverFromEnv reads EnvLocalDriver.
func localDriverFromEnv(getenv func(string) string) (bool, error) {
	on, err := ParseBool(getenv(EnvLocalDriver))
	if err != nil {
		return false, fmt.Errorf("%s: %w", EnvLocalDriver, err)
	}
	if on && strings.TrimSpace(getenv("AWS_LAMBDA_FUNCTION_NAME")) != "" {
		return false, fmt.Errorf("%s is for the rotator command running a bootstrap itself, never for a Lambda function", EnvLocalDriver)
	}
	return on, nil
}
