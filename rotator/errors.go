package rotator

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; every error the handler
// returns wraps exactly one of the pre-dispatch ones when a check fails.
var (
	// ErrUnknownStep: the event's Step is not one of the four steps.
	ErrUnknownStep = errors.New("unknown rotation step")
	// ErrInvalidEvent: the event lacks SecretId or ClientRequestToken.
	ErrInvalidEvent = errors.New("invalid rotation event")
	// ErrRotationDisabled: the secret does not have rotation enabled.
	ErrRotationDisabled = errors.New("rotation is not enabled for the secret")
	// ErrTokenNotFound: the token is not a version of the secret.
	ErrTokenNotFound = errors.New("token is not a version of the secret")
	// ErrTokenNotPending: the token's version is not labelled AWSPENDING.
	ErrTokenNotPending = errors.New("token's version is not AWSPENDING")
	// ErrNoCurrent: the secret has no AWSCURRENT version with a value.
	ErrNoCurrent = errors.New("secret has no AWSCURRENT value")
	// ErrNoPrevious: the secret has no AWSPREVIOUS version.
	ErrNoPrevious = errors.New("secret has no AWSPREVIOUS value")
	// ErrPendingValueMissing: setSecret/testSecret found no value at the token.
	ErrPendingValueMissing = errors.New("pending version has no value (createSecret has not run)")

	// ErrMalformedSecret: a secret value is not a JSON object.
	ErrMalformedSecret = errors.New("malformed secret value")
	// ErrMissingField: a required field of the secret is missing or empty.
	ErrMissingField = errors.New("missing secret field")
	// ErrInvalidField: a field of the secret has the wrong type or value.
	ErrInvalidField = errors.New("invalid secret field")
	// ErrWrongEngine: the secret's engine is not the one this rotator serves.
	ErrWrongEngine = errors.New("secret is for another engine")
	// ErrPendingMismatch: the pending secret names another user or host than
	// the current one (the single-user strategy refuses, as AWS does).
	ErrPendingMismatch = errors.New("pending secret does not match current")

	// ErrPasswordPolicy: the password policy cannot be satisfied.
	ErrPasswordPolicy = errors.New("impossible password policy")

	// ErrLoginFailed: the target rejected a credential.
	ErrLoginFailed = errors.New("login failed")
	// ErrUnreachable: the target could not be reached (DNS, TCP, TLS).
	ErrUnreachable = errors.New("target unreachable")
	// ErrPermission: the credential logged in but lacks a needed privilege.
	ErrPermission = errors.New("insufficient privilege")

	// ErrNotAllowed: a secret asks the function to act where its security
	// rules forbid: a user its own user is not entitled to, a more powerful
	// role, a master secret for another server. Whoever can write an
	// application's secret controls every field of it, so these refusals
	// are errors, never warnings.
	ErrNotAllowed = errors.New("not allowed by the rotation's security rules")
	// ErrSelfReference: a secret that should name another secret (a master
	// secret) names the secret being rotated.
	ErrSelfReference = errors.New("names the secret being rotated")
)

// FieldError says which field of a secret is wrong and why.
type FieldError struct {
	// Secret names which secret ("current", "pending", "master"), when known.
	Secret string
	// Field is the JSON field name.
	Field string
	// Reason is a short phrase: "is missing", "must be a JSON string".
	Reason string
	// Err is the sentinel (ErrMissingField or ErrInvalidField).
	Err error
}

func (e *FieldError) Error() string {
	if e.Secret != "" {
		return fmt.Sprintf("%s secret: field %q %s", e.Secret, e.Field, e.Reason)
	}
	return fmt.Sprintf("field %q %s", e.Field, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Err }

// StepError is what the handler returns when a step fails: the step, the
// secret and a message from which every known secret value was removed.
type StepError struct {
	Step     Step
	SecretID string
	msg      string
	cause    error
}

func (e *StepError) Error() string { return e.msg }

// Unwrap keeps errors.Is and errors.As working on the cause. The cause's own
// text is never printed by the handler; only Error above leaves the process.
func (e *StepError) Unwrap() error { return e.cause }
