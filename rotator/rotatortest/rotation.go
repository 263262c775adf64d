package rotatortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// RotationFunc is a rotation function as Secrets Manager sees it: it is
// invoked once per step with the step's event, and a non-nil error fails
// the step.
type RotationFunc func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error

// FunctionARN returns the ARN of a Lambda function called name in the
// server's fake account and region.
func FunctionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + name
}

// RegisterFunction makes fn the rotation function invoked for lambdaARN,
// the RotationLambdaARN given to RotateSecret. A nil fn unregisters it.
func (s *Server) RegisterFunction(lambdaARN string, fn RotationFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn == nil {
		delete(s.functions, lambdaARN)
		return
	}
	s.functions[lambdaARN] = fn
}

// RotationOutcome is what became of one rotation that the server ran.
type RotationOutcome struct {
	// SecretID is the ARN of the rotated secret.
	SecretID string
	// Token is the ClientRequestToken: the id of the new version.
	Token string
	// RotationToken is the RotationToken passed in every event.
	RotationToken string
	// LambdaARN is the rotation function's ARN.
	LambdaARN string
	// Attempts is how many times the rotation was attempted (each attempt
	// starts again at createSecret).
	Attempts int
	// Steps lists the steps invoked, in order, over all attempts.
	Steps []string
	// Err is the error of the last failed attempt, or nil on success. It
	// is the RotateSecret API error when the rotation did not start (see
	// [Rotate]).
	Err error
	// Succeeded is true when an attempt ran the four steps without error
	// and left the new version at AWSCURRENT.
	Succeeded bool
}

// Errors a rotation can end with, besides the rotation function's own.
var (
	// ErrNoFunction means no function is registered for the secret's
	// RotationLambdaARN (see [Server.RegisterFunction]).
	ErrNoFunction = errors.New("rotatortest: no rotation function registered for this ARN")
	// ErrRotationCancelled means CancelRotateSecret (or a deletion) stopped
	// the rotation between two steps.
	ErrRotationCancelled = errors.New("rotatortest: rotation cancelled")
	// ErrNotPromoted means every step returned success but the new
	// version did not end at AWSCURRENT.
	ErrNotPromoted = errors.New("rotatortest: finishSecret succeeded but the new version is not AWSCURRENT")
)

// StepError is the error of a failed step.
type StepError struct {
	// Step is the step that failed.
	Step string
	// Err is what the rotation function returned.
	Err error
}

// Error returns "step: function's error".
func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

// Unwrap returns the rotation function's error.
func (e *StepError) Unwrap() error { return e.Err }

// LastRotation returns the outcome of the last rotation the server ran for
// a secret (name or ARN), including a RotateSecret with RotateImmediately
// false (which runs testSecret only).
func (s *Server) LastRotation(secretID string) (RotationOutcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := secretID
	if sec := s.lookup(secretID); sec != nil {
		arn = sec.arn
	}
	o, ok := s.outcomes[arn]
	if ok {
		o.Steps = slices.Clone(o.Steps)
	}
	return o, ok
}

// ---- RotateSecret

type rotateSecretIn struct {
	SecretID           string         `json:"SecretId"`
	ClientRequestToken string         `json:"ClientRequestToken"`
	RotationLambdaARN  string         `json:"RotationLambdaARN"`
	RotationRules      *rotationRules `json:"RotationRules"`
	RotateImmediately  *bool          `json:"RotateImmediately"`
}

// rotateSecret configures rotation and runs it, synchronously, before it
// answers. Like AWS (whose RotateSecret only starts an asynchronous
// rotation), it answers success whatever the rotation's outcome: read that
// with LastRotation.
func (s *Server) rotateSecret(body []byte, call *Call) (any, *apiError) {
	var in rotateSecretIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	token := in.ClientRequestToken
	if token == "" {
		// RotateSecret, ClientRequestToken: "If you generate a raw HTTP
		// request to the Secrets Manager service endpoint, then you must
		// generate a ClientRequestToken" (the SDK makes one); a missing one
		// gets a UUID here.
		token = newUUID()
	} else if e := checkToken(token); e != nil {
		return nil, e
	}
	if r := in.RotationRules; r != nil && r.AutomaticallyAfterDays != nil {
		if d := *r.AutomaticallyAfterDays; d < 1 || d > 1000 {
			return nil, errf(errInvalidParameter, "RotationRules.AutomaticallyAfterDays must be within 1-1000.")
		}
	}
	immediately := in.RotateImmediately == nil || *in.RotateImmediately
	call.VersionID = token

	s.mu.Lock()
	sec, e := s.find(in.SecretID, call, false)
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	lambdaARN := in.RotationLambdaARN
	if lambdaARN == "" {
		lambdaARN = sec.rotationLambdaARN
	}
	if lambdaARN == "" {
		s.mu.Unlock()
		return nil, errf(errInvalidRequest, "No Lambda rotation function ARN is associated with this secret.")
	}
	// RotateSecret: "If the AWSPENDING staging label is present but not
	// attached to the same version as AWSCURRENT, then any later
	// invocation of RotateSecret assumes that a previous rotation request
	// is still in progress and returns an error." The same token again is
	// a retry of that rotation, which runs it once more.
	pending := sec.holder(StagePending)
	if pending != nil && !pending.has(StageCurrent) && pending.id != token {
		s.mu.Unlock()
		return nil, errf(errInvalidRequest, "A previous rotation isn't complete. That rotation will be reattempted.")
	}
	if v := sec.versions[token]; v != nil && (v != pending || !immediately) {
		s.mu.Unlock()
		return nil, errf(errResourceExists, "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", token, sec.arn)
	}
	now := s.now()
	sec.rotationLambdaARN = lambdaARN
	if in.RotationRules != nil {
		rr := *in.RotationRules
		sec.rules = &rr
	}
	sec.rotationEnabled = true
	sec.lastChanged = now
	s.scheduleNext(sec, now)
	fn := s.functions[lambdaARN]
	o := RotationOutcome{SecretID: sec.arn, Token: token, RotationToken: newUUID(), LambdaARN: lambdaARN}
	out := arnNameVersion{ARN: sec.arn, Name: sec.name, VersionID: token}

	if !immediately {
		// RotateSecret, RotateImmediately: "If you don't immediately rotate
		// the secret, Secrets Manager tests the rotation configuration by
		// running the testSecret step of the Lambda rotation function. The
		// test creates an AWSPENDING version of the secret and then removes
		// it." The test version holds a copy of the current value.
		v := &version{id: token, created: now}
		if cur := sec.holder(StageCurrent); cur != nil {
			v.str, v.bin = cur.str, slices.Clone(cur.bin)
		}
		sec.addVersion(v)
		sec.moveStage(StagePending, v)
		s.mu.Unlock()

		s.runRotation(&o, fn, []string{StepTest}, 1)

		s.mu.Lock()
		sec.dropVersion(token)
		s.outcomes[sec.arn] = o
		s.mu.Unlock()
		return out, nil
	}

	// The new version: labelled AWSPENDING, no value (createSecret gives it
	// one). Moving AWSPENDING takes it off AWSCURRENT's version if it was
	// left there by an earlier rotation.
	v := sec.versions[token]
	if v == nil {
		v = &version{id: token, created: now}
		sec.addVersion(v)
	}
	sec.moveStage(StagePending, v)
	s.mu.Unlock()

	// No lock is held while the function runs: it calls back into the
	// server.
	s.runRotation(&o, fn, Steps, s.cfg.attempts)

	s.finishRotation(sec, o)
	return out, nil
}

// finishRotation records the outcome of a rotation of sec and, when it
// succeeded, does what Secrets Manager does after a successful rotation.
func (s *Server) finishRotation(sec *secret, o RotationOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Succeeded {
		now := s.now()
		sec.lastRotated = &now
		s.scheduleNext(sec, now)
		// Secrets Manager removes AWSPENDING once a rotation has succeeded:
		// "Our backend cleans up the pending label on rotation completion,
		// outside the rotation lambda" (an AWS maintainer in
		// aws-samples/aws-secrets-manager-rotation-lambdas#145); RotateSecret:
		// "When rotation is successful, the AWSPENDING staging label might
		// be attached to the same version as the AWSCURRENT version, or it
		// might not be attached to any version."
		if s.cfg.pendingCleanup {
			if nv := sec.versions[o.Token]; nv != nil && nv.has(StageCurrent) {
				removeStage(nv, StagePending)
			}
		}
	}
	s.outcomes[sec.arn] = o
}

// scheduleNext sets NextRotationDate from AutomaticallyAfterDays. Caller
// holds s.mu.
func (s *Server) scheduleNext(sec *secret, from time.Time) {
	if r := sec.rules; r != nil && r.AutomaticallyAfterDays != nil {
		next := from.Add(time.Duration(*r.AutomaticallyAfterDays) * 24 * time.Hour)
		sec.nextRotation = &next
	}
}

// runRotation invokes fn through steps, attempting the whole sequence up to
// attempts times. "If rotation fails, Secrets Manager retries the entire
// rotation process multiple times" (DescribeSecret, NextRotationDate); a
// retry starts again at the first step with the same ClientRequestToken.
func (s *Server) runRotation(o *RotationOutcome, fn RotationFunc, steps []string, attempts int) {
	ctx := s.baseCtx
	if fn == nil {
		o.Attempts = 1
		o.Err = fmt.Errorf("%w: %s", ErrNoFunction, o.LambdaARN)
		return
	}
	full := len(steps) == len(Steps)
	for attempt := 1; attempt <= attempts; attempt++ {
		o.Attempts = attempt
		err := s.attempt(ctx, o, fn, steps)
		if err == nil && full && !s.isCurrent(o.SecretID, o.Token) {
			// RotateSecret: the rotation function must end with AWSPENDING
			// and AWSCURRENT on the same version, or AWSPENDING on none.
			err = ErrNotPromoted
		}
		if err == nil {
			o.Err, o.Succeeded = nil, true
			return
		}
		o.Err = err
		if errors.Is(err, ErrRotationCancelled) || ctx.Err() != nil {
			return
		}
		if attempt < attempts && s.cfg.retryDelay > 0 {
			t := time.NewTimer(s.cfg.retryDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

func (s *Server) attempt(ctx context.Context, o *RotationOutcome, fn RotationFunc, steps []string) error {
	for _, step := range steps {
		if !s.rotationActive(o.SecretID) {
			return ErrRotationCancelled
		}
		o.Steps = append(o.Steps, step)
		ev := events.SecretsManagerSecretRotationEvent{
			Step:               step,
			SecretID:           o.SecretID,
			ClientRequestToken: o.Token,
			RotationToken:      o.RotationToken,
		}
		if err := invokeSafely(ctx, fn, ev); err != nil {
			return &StepError{Step: step, Err: err}
		}
	}
	return nil
}

// invokeSafely runs one step; the function's error or panic is captured
// for the secret hygiene check (see [Hygienic]).
func invokeSafely(ctx context.Context, fn RotationFunc, ev events.SecretsManagerSecretRotationEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			Capture("panic", fmt.Sprint(r))
			err = fmt.Errorf("rotation function panicked: %v", r)
		}
		if err != nil {
			Capture("error", err.Error())
		}
	}()
	return fn(ctx, ev)
}

// rotationActive reports whether the secret still exists, is not scheduled
// for deletion and still has rotation enabled.
func (s *Server) rotationActive(arn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(arn)
	return sec != nil && sec.deleted == nil && sec.rotationEnabled
}

func (s *Server) isCurrent(arn, versionID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(arn)
	if sec == nil {
		return false
	}
	v := sec.versions[versionID]
	return v != nil && v.has(StageCurrent)
}

// ---- CancelRotateSecret

func (s *Server) cancelRotateSecret(body []byte, call *Call) (any, *apiError) {
	var in commonFields
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, false)
	if e != nil {
		return nil, e
	}
	// CancelRotateSecret: "Turns off automatic rotation, and if a rotation
	// is currently in progress, cancels the rotation. If you cancel a
	// rotation in progress, it can leave the VersionStage labels in an
	// unexpected state. You might need to remove the staging label
	// AWSPENDING from the partially created version." The label stays
	// (AWS PCS user guide, "Recover from a stranded pending version": "The
	// cancel-rotate-secret command alone doesn't remove the AWSPENDING
	// staging label, and it sets RotationEnabled to false"); the answer's
	// VersionId names that version. The function ARN and rules stay, as
	// DescribeSecret's RotationRules documents for rotation turned off.
	sec.rotationEnabled = false
	sec.lastChanged = s.now()
	out := arnNameVersion{ARN: sec.arn, Name: sec.name}
	if p := sec.holder(StagePending); p != nil && !p.has(StageCurrent) {
		out.VersionID = p.id
		call.VersionID = p.id
	}
	return out, nil
}

// ResumeRotation re-runs the incomplete rotation of a secret (the version
// labelled AWSPENDING but not AWSCURRENT) with its token, through the four
// steps, as Secrets Manager does when it reattempts a rotation ("A previous
// rotation isn't complete. That rotation will be reattempted."). It makes
// no API call and returns the new outcome; ok is false when the secret has
// no rotation in progress. After CancelRotateSecret the outcome's Err is
// [ErrRotationCancelled]: rotation must be turned on again with
// RotateSecret.
func (s *Server) ResumeRotation(secretID string) (o RotationOutcome, ok bool) {
	s.mu.Lock()
	sec := s.lookup(secretID)
	if sec == nil || sec.deleted != nil {
		s.mu.Unlock()
		return RotationOutcome{}, false
	}
	p := sec.holder(StagePending)
	if p == nil || p.has(StageCurrent) {
		s.mu.Unlock()
		return RotationOutcome{}, false
	}
	o = RotationOutcome{SecretID: sec.arn, Token: p.id, RotationToken: newUUID(), LambdaARN: sec.rotationLambdaARN}
	fn := s.functions[sec.rotationLambdaARN]
	s.mu.Unlock()

	s.runRotation(&o, fn, Steps, s.cfg.attempts)

	s.finishRotation(sec, o)
	o.Steps = slices.Clone(o.Steps)
	return o, true
}
