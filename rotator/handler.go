package rotator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Step is one of the four rotation steps Secrets Manager invokes.
type Step string

// The four steps, spelled as Secrets Manager sends them.
const (
	StepCreate Step = "createSecret"
	StepSet    Step = "setSecret"
	StepTest   Step = "testSecret"
	StepFinish Step = "finishSecret"
)

// Valid reports whether s is one of the four steps.
func (s Step) Valid() bool {
	switch s {
	case StepCreate, StepSet, StepTest, StepFinish:
		return true
	}
	return false
}

// Staging labels. Only this package names them: strategies and engines
// never see a stage.
const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

// Strategy turns over one kind of credential. The handler calls it after
// the pre-dispatch checks passed, with a Rotation that fetches what it asks
// for. Every method must be idempotent: Secrets Manager retries, and Lambda
// may deliver one event twice at once.
type Strategy interface {
	// CreatePending returns the value to store as the pending version,
	// built from r.Current (carry every field over; Secret.Clone does).
	CreatePending(ctx context.Context, r *Rotation) (*Secret, error)
	// SetPending makes the target accept the pending credential, or does
	// nothing when an earlier attempt already did.
	SetPending(ctx context.Context, r *Rotation) error
	// TestPending proves the pending credential works, changing nothing.
	TestPending(ctx context.Context, r *Rotation) error
}

// Finisher is implemented by strategies with clean-up to do strictly after
// AWSCURRENT moved to the new version (discard an old password, revoke an
// old key). It runs again when finishSecret is retried after the promotion,
// so it must be idempotent.
type Finisher interface {
	AfterPromotion(ctx context.Context, r *Rotation) error
}

// CreateAborter is implemented by strategies whose CreatePending makes
// something outside Secrets Manager that nobody may keep when the pending
// value is not stored (a vendor's new API key). The handler calls
// AbortCreate when PutSecretValue fails, and when a concurrent delivery
// of createSecret stored its own value first: pending is the value this
// attempt built, never stored, and cause why it was not. AbortCreate must
// undo only what pending names (revoke that one key), and be safe to run
// when the thing is already gone.
type CreateAborter interface {
	AbortCreate(ctx context.Context, r *Rotation, pending *Secret, cause error) error
}

// SecretsManagerAPI is the part of the Secrets Manager client the handler
// uses. *secretsmanager.Client satisfies it.
type SecretsManagerAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// Handler runs the rotation contract for one strategy.
type Handler struct {
	sm        SecretsManagerAPI
	strategy  Strategy
	passwords PasswordGenerator
	logger    *slog.Logger
	function  string
	dryRun    bool
	local     bool
	observers []Observer
	valued    valuedVersions
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger. Every line it gets is scrubbed of the secret
// values the rotation knows.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.logger = l } }

// WithPasswordGenerator replaces the default generator (crypto/rand with
// AWS's default policy).
func WithPasswordGenerator(g PasswordGenerator) Option { return func(h *Handler) { h.passwords = g } }

// WithFunctionName names the function in logs and metrics (default: the
// AWS_LAMBDA_FUNCTION_NAME variable Lambda sets).
func WithFunctionName(name string) Option { return func(h *Handler) { h.function = name } }

// WithDryRun makes every step perform its checks but write nothing: no
// PutSecretValue, no UpdateSecretVersionStage, and Rotation.DryRun tells the
// strategy not to change the target.
func WithDryRun(on bool) Option { return func(h *Handler) { h.dryRun = on } }

// WithLocalDriver is for a caller that plays Secrets Manager's part itself
// (the rotator command): createSecret accepts a token that is not yet a
// version and creates it, moving AWSPENDING off any version an aborted
// rotation left it on, and rotation need not be enabled on the secret. A
// Lambda function never sets it: there the token must be the version
// Secrets Manager made.
func WithLocalDriver(on bool) Option { return func(h *Handler) { h.local = on } }

// Observer hears the outcome of each step (metrics, the CLI's progress).
type Observer interface {
	StepDone(ctx context.Context, r StepReport)
}

// StepReport describes one finished step. It holds no secret value.
type StepReport struct {
	Function string
	SecretID string
	Token    string
	Step     Step
	Duration time.Duration
	// Outcome is "success", "noop" (nothing to do) or "failure".
	Outcome string
	// Err is the scrubbed error, nil on success.
	Err error
}

// WithObserver adds an observer of every step.
func WithObserver(o Observer) Option {
	return func(h *Handler) { h.observers = append(h.observers, o) }
}

// New returns a Handler running strategy s against the Secrets Manager
// client sm.
func New(sm SecretsManagerAPI, s Strategy, opts ...Option) (*Handler, error) {
	if sm == nil {
		return nil, errors.New("rotator.New: nil Secrets Manager client")
	}
	if s == nil {
		return nil, errors.New("rotator.New: nil strategy")
	}
	h := &Handler{sm: sm, strategy: s, function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	for _, o := range opts {
		o(h)
	}
	if h.logger == nil {
		h.logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if h.passwords == nil {
		g, err := NewLocalPasswords(DefaultPasswordPolicyFor(s))
		if err != nil {
			return nil, err
		}
		h.passwords = g
	}
	return h, nil
}

// Handle runs one step of a rotation. Its signature is the one lambda.Start
// expects. A returned error is a *StepError whose text holds no secret value.
func (h *Handler) Handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) (err error) {
	start := time.Now()
	step := Step(ev.Step)
	scrub := NewScrubber()
	scrub.Add(ev.RotationToken) // sensitive per the API reference; never logged
	scrub.Public(ev.SecretID, ev.ClientRequestToken, h.function)
	log := ScrubLogger(h.logger, scrub).With(
		slog.String("secret_id", Printable(ev.SecretID)),
		slog.String("step", Printable(ev.Step)),
		slog.String("token", Printable(ev.ClientRequestToken)),
	)
	if h.function != "" {
		log = log.With(slog.String("function", h.function))
	}
	if h.dryRun {
		log = log.With(slog.Bool("dry_run", true))
	}
	ctx = ContextWithLogger(ctx, log)
	r := &Rotation{
		SecretID:      ev.SecretID,
		Token:         ev.ClientRequestToken,
		Step:          step,
		Logger:        log,
		DryRun:        h.dryRun,
		h:             h,
		scrub:         scrub,
		rotationToken: ev.RotationToken,
	}
	outcome := "success"
	defer func() {
		if p := recover(); p != nil {
			// A panic's value may quote anything; keep only its scrubbed text
			// and log the scrubbed stack.
			log.Error("step panicked", slog.String("stack", scrub.Scrub(string(debug.Stack()))))
			err = fmt.Errorf("panic: %v", p)
		}
		d := time.Since(start)
		if err != nil {
			outcome = "failure"
			err = &StepError{Step: step, SecretID: ev.SecretID, msg: printableMessage(scrub.Scrub(fmt.Sprintf("%s: %v", eventLabel(ev), err))), cause: err}
			log.Error("step failed", slog.String("error", err.Error()), slog.Float64("duration_ms", ms(d)))
		} else {
			log.Info("step finished", slog.String("outcome", outcome), slog.Float64("duration_ms", ms(d)))
		}
		rep := StepReport{Function: h.function, SecretID: ev.SecretID, Token: ev.ClientRequestToken, Step: step, Duration: d, Outcome: outcome, Err: err}
		for _, o := range h.observers {
			o.StepDone(ctx, rep)
		}
	}()

	if err := ValidateEvent(ev); err != nil {
		return err
	}
	log.Info("step started")
	var noop bool
	switch step {
	case StepCreate:
		noop, err = h.create(ctx, r)
	case StepSet, StepTest:
		noop, err = h.setOrTest(ctx, r)
	case StepFinish:
		noop, err = h.finish(ctx, r)
	}
	if noop && err == nil {
		outcome = "noop"
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// describe runs the checks that need DescribeSecret: rotation enabled and
// the token a version of the secret. It returns the token's stages and the
// id of the AWSCURRENT version.
func (h *Handler) describe(ctx context.Context, r *Rotation) (tokenStages []string, currentID string, err error) {
	out, err := h.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.SecretID)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, "", fmt.Errorf("field %s names no secret: DescribeSecret: %w", EventFieldSecretID, err)
		}
		return nil, "", fmt.Errorf("DescribeSecret: %w", err)
	}
	if !aws.ToBool(out.RotationEnabled) && !h.local {
		return nil, "", ErrRotationDisabled
	}
	for id, st := range out.VersionIdsToStages {
		if slices.Contains(st, stageCurrent) {
			currentID = id
		}
	}
	stages, ok := out.VersionIdsToStages[r.Token]
	if !ok {
		if h.local && (r.Step == StepCreate || h.dryRun) {
			// The local driver's fresh token: PutSecretValue creates it
			// (in a dry run, nothing ever does).
			return []string{stagePending}, currentID, nil
		}
		return nil, "", r.tokenError(ErrTokenNotFound)
	}
	return stages, currentID, nil
}

// create stores the pending value. Calls on the normal path: DescribeSecret,
// GetSecretValue (token), GetSecretValue (current), PutSecretValue.
func (h *Handler) create(ctx context.Context, r *Rotation) (noop bool, err error) {
	stages, currentID, err := h.describe(ctx, r)
	if err != nil {
		return false, err
	}
	if slices.Contains(stages, stageCurrent) {
		r.Logger.Info("token is already AWSCURRENT: nothing to do")
		return true, nil
	}
	if !slices.Contains(stages, stagePending) {
		return false, r.tokenError(ErrTokenNotPending)
	}
	r.currentID = currentID
	// A value already at the token comes from an earlier attempt, and a
	// later step may already have put it in force (single user: the
	// database holds that password). It must never be replaced. AWS's
	// PutSecretValue refuses a second value for a token
	// (ResourceExistsException), but moto overwrites, and so might any
	// other endpoint: so ask first instead of trusting the refusal.
	if stored, err := h.tokenHasValue(ctx, r); err != nil {
		return false, err
	} else if stored {
		r.Logger.Info("pending version already holds a value from an earlier attempt")
		return true, nil
	}
	pending, err := h.buildPending(ctx, r)
	if err != nil {
		return false, err
	}
	value, err := pending.Value()
	if err != nil {
		return false, err
	}
	if len(value) > MaxSecretSize {
		return false, &FieldError{Secret: "pending", Field: "SecretString", Reason: fmt.Sprintf("would be %d bytes; Secrets Manager stores at most %d: shorten the current secret's fields", len(value), MaxSecretSize), Err: ErrInvalidField}
	}
	if r.DryRun {
		r.Logger.Info("dry run: pending value built, not stored")
		return false, nil
	}
	// Naming AWSPENDING here also moves the label off a version that an
	// aborted rotation left it on.
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(r.SecretID),
		ClientRequestToken: aws.String(r.Token),
		SecretString:       aws.String(value),
		VersionStages:      []string{stagePending},
	}
	if r.rotationToken != "" {
		in.RotationToken = aws.String(r.rotationToken)
	}
	if _, err := h.sm.PutSecretValue(ctx, in); err != nil {
		var exists *types.ResourceExistsException
		if errors.As(err, &exists) {
			// A concurrent delivery of this step stored its value first;
			// nothing has used either value yet, and ours never will be.
			r.Logger.Info("pending version stored by a concurrent attempt")
			h.valued.add(r.SecretID, r.Token)
			if aerr := h.abortCreate(ctx, r, pending, err); aerr != nil {
				return false, aerr
			}
			return true, nil
		}
		err = fmt.Errorf("PutSecretValue: %w", err)
		if aerr := h.abortCreate(ctx, r, pending, err); aerr != nil {
			return false, errors.Join(err, aerr)
		}
		return false, err
	}
	h.valued.add(r.SecretID, r.Token)
	r.Logger.Info("pending version stored")
	return false, nil
}

// abortCreate lets a CreateAborter undo what CreatePending made for a
// value that was not stored.
func (h *Handler) abortCreate(ctx context.Context, r *Rotation, pending *Secret, cause error) error {
	a, ok := h.strategy.(CreateAborter)
	if !ok {
		return nil
	}
	if err := a.AbortCreate(ctx, r, pending, cause); err != nil {
		return fmt.Errorf("undo the unstored pending value: %w", err)
	}
	r.Logger.Info("pending value not stored: undone", slog.String("cause", cause.Error()))
	return nil
}

// tokenHasValue reports whether the token's version holds a value: known
// in this process once a step stored or read it (a version's value never
// goes away), else asked with GetSecretValue at the token.
func (h *Handler) tokenHasValue(ctx context.Context, r *Rotation) (bool, error) {
	if h.valued.has(r.SecretID, r.Token) {
		return true, nil
	}
	_, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:  aws.String(r.SecretID),
		VersionId: aws.String(r.Token),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, nil
		}
		return false, fmt.Errorf("GetSecretValue(pending): %w", err)
	}
	h.valued.add(r.SecretID, r.Token)
	return true, nil
}

// buildPending asks the strategy for the pending value and registers its
// secrets with the scrubber before anything can print it.
func (h *Handler) buildPending(ctx context.Context, r *Rotation) (*Secret, error) {
	pending, err := h.strategy.CreatePending(ctx, r)
	if err != nil {
		return nil, err
	}
	if pending == nil {
		return nil, errors.New("strategy returned no pending value")
	}
	r.scrub.AddSecret(pending)
	return pending, nil
}

// setOrTest runs setSecret or testSecret. One GetSecretValue at the token
// gives both the pending value and the token's stages. setSecret changes
// the target, so it also checks with DescribeSecret that rotation is still
// enabled (a CancelRotateSecret after createSecret must stop it, as in
// AWS's templates); testSecret changes nothing and needs no such check.
func (h *Handler) setOrTest(ctx context.Context, r *Rotation) (noop bool, err error) {
	out, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:  aws.String(r.SecretID),
		VersionId: aws.String(r.Token),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			if h.dryRun {
				return h.dryRunSetOrTest(ctx, r)
			}
			return false, h.explainMissingToken(ctx, r)
		}
		return false, fmt.Errorf("GetSecretValue(pending): %w", err)
	}
	if slices.Contains(out.VersionStages, stageCurrent) {
		r.Logger.Info("token is already AWSCURRENT: nothing to do")
		return true, nil
	}
	if !slices.Contains(out.VersionStages, stagePending) {
		return false, r.tokenError(ErrTokenNotPending)
	}
	pending, err := r.parse("pending", out.SecretString)
	if err != nil {
		return false, err
	}
	h.valued.add(r.SecretID, r.Token)
	r.pending = pending
	if r.Step == StepTest {
		return false, h.strategy.TestPending(ctx, r)
	}
	if err := h.checkEnabled(ctx, r); err != nil {
		return false, err
	}
	return false, h.strategy.SetPending(ctx, r)
}

// checkEnabled fails with ErrRotationDisabled unless the secret's rotation
// is enabled (or the local driver runs the rotation).
func (h *Handler) checkEnabled(ctx context.Context, r *Rotation) error {
	_, _, err := h.describe(ctx, r)
	return err
}

// dryRunSetOrTest runs setSecret or testSecret of a dry run, whose
// createSecret stored no pending value. setSecret checks the token as
// createSecret does, builds the pending value again in memory and lets the
// strategy run its checks against it (Rotation.DryRun: log in, reach the
// master, change nothing). testSecret has nothing to test, since no
// credential was set: it is a no-op.
func (h *Handler) dryRunSetOrTest(ctx context.Context, r *Rotation) (noop bool, err error) {
	stages, currentID, err := h.describe(ctx, r)
	if err != nil {
		return false, err
	}
	if slices.Contains(stages, stageCurrent) {
		return true, nil
	}
	if !slices.Contains(stages, stagePending) {
		return false, r.tokenError(ErrTokenNotPending)
	}
	if r.Step == StepTest {
		r.Logger.Info("dry run: no pending credential was set, nothing to test")
		return true, nil
	}
	r.currentID = currentID
	pending, err := h.buildPending(ctx, r)
	if err != nil {
		return false, err
	}
	r.pending = pending
	return false, h.strategy.SetPending(ctx, r)
}

// explainMissingToken turns GetSecretValue's ResourceNotFound into the
// precise reason. It runs only on that error path.
func (h *Handler) explainMissingToken(ctx context.Context, r *Rotation) error {
	_, _, err := h.describe(ctx, r)
	if err != nil {
		return err
	}
	return ErrPendingValueMissing
}

// finish promotes the token. Calls on the normal path: DescribeSecret,
// UpdateSecretVersionStage, and GetSecretValue at the token unless this
// process already saw its value (testSecret read it).
func (h *Handler) finish(ctx context.Context, r *Rotation) (noop bool, err error) {
	stages, currentID, err := h.describe(ctx, r)
	if err != nil {
		return false, err
	}
	if slices.Contains(stages, stageCurrent) {
		r.Logger.Info("token is already AWSCURRENT: nothing to promote")
		return true, h.afterPromotion(ctx, r)
	}
	if !slices.Contains(stages, stagePending) {
		return false, r.tokenError(ErrTokenNotPending)
	}
	r.currentID = currentID
	if r.DryRun {
		r.Logger.Info("dry run: AWSCURRENT not moved")
		return false, nil
	}
	// Never promote a version without a value: AWSCURRENT would then hold
	// nothing (a dry run's createSecret, say, stored no value).
	if stored, err := h.tokenHasValue(ctx, r); err != nil {
		return false, err
	} else if !stored {
		return false, ErrPendingValueMissing
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(r.SecretID),
		VersionStage:    aws.String(stageCurrent),
		MoveToVersionId: aws.String(r.Token),
	}
	if currentID != "" {
		in.RemoveFromVersionId = aws.String(currentID)
	}
	if _, err := h.sm.UpdateSecretVersionStage(ctx, in); err != nil {
		// A concurrent finishSecret may have promoted the token between our
		// DescribeSecret and this call; that is success, not a failure.
		if again, _, derr := h.describe(ctx, r); derr == nil && slices.Contains(again, stageCurrent) {
			r.Logger.Info("token was promoted by a concurrent attempt")
			return false, h.afterPromotion(ctx, r)
		}
		return false, fmt.Errorf("UpdateSecretVersionStage: %w", err)
	}
	r.Logger.Info("AWSCURRENT moved to the token", slog.String("previous_version", currentID))
	return false, h.afterPromotion(ctx, r)
}

func (h *Handler) afterPromotion(ctx context.Context, r *Rotation) error {
	f, ok := h.strategy.(Finisher)
	if !ok || r.DryRun {
		return nil
	}
	if err := f.AfterPromotion(ctx, r); err != nil {
		return fmt.Errorf("after promotion: %w", err)
	}
	return nil
}
