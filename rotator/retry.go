package rotator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// The SDK retryer of every Secrets Manager client this module builds
// (NewLambdaClient, rotator/awsconfig). A rotation step makes a handful of
// calls and Lambda stops it at its deadline, so the retryer absorbs short
// throttling and 5xx bursts inside one step and leaves anything longer to
// Secrets Manager, which retries the whole step (ARCHITECTURE.md, "Retries").
const (
	// RetryMaxAttempts is how many times one API call is tried in all
	// (the SDK's default is 3).
	RetryMaxAttempts = 5
	// RetryBaseDelay is the backoff before the first retry; each retry
	// doubles it, up to RetryMaxBackoff. The delay drawn is uniform in
	// [0, that bound) ("full jitter").
	RetryBaseDelay = 100 * time.Millisecond
	// RetryMaxBackoff bounds one backoff. The SDK's default (20 s) could
	// spend most of a Lambda timeout asleep; four retries here sleep at most
	// 0.1+0.2+0.4+0.8 s.
	RetryMaxBackoff = 800 * time.Millisecond
	// RetryDeadlineReserve is the time a retry must leave before the
	// context's deadline, besides the longest backoff, for the attempt
	// itself and for the step to return its error: a step that would
	// otherwise run into the Lambda timeout gives up early and reports the
	// API's error instead of being killed.
	RetryDeadlineReserve = time.Second
)

// ErrRetryDeadline is joined to an API error that was not retried because
// the context's deadline (the Lambda invocation's) is too close.
var ErrRetryDeadline = errors.New("not retried: too close to the deadline")

// NewRetryer returns the retryer NewLambdaClient and rotator/awsconfig
// configure: the SDK's standard retryer (its retryable and throttling
// errors, its retry quota) with RetryMaxAttempts, the backoff described by
// RetryBaseDelay and RetryMaxBackoff, and no retry when less than
// RetryMaxBackoff+RetryDeadlineReserve is left before the context's
// deadline.
func NewRetryer() aws.RetryerV2 {
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = RetryMaxAttempts
		o.MaxBackoff = RetryMaxBackoff
		o.Backoff = retry.BackoffDelayerFunc(backoff)
	})
	return &deadlineRetryer{RetryerV2: std, need: RetryMaxBackoff + RetryDeadlineReserve}
}

// backoff is full jitter on a doubling bound: attempt 1 (the first retry)
// waits up to RetryBaseDelay. The SDK passes the attempt that failed,
// counting from 1 (or from 0 under its 2026 retry rules).
func backoff(attempt int, _ error) (time.Duration, error) {
	if attempt < 1 {
		attempt = 1
	}
	bound := RetryBaseDelay
	for i := 1; i < attempt && bound < RetryMaxBackoff; i++ {
		bound *= 2
	}
	bound = min(bound, RetryMaxBackoff)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("backoff jitter: %w", err)
	}
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(bound)), nil
}

// deadlineRetryer refuses the retry token when the context's deadline is
// nearer than need. The SDK asks for that token, with the call's context,
// before it sleeps for the backoff; a refusal ends the call with the last
// API error joined to ErrRetryDeadline.
type deadlineRetryer struct {
	aws.RetryerV2
	need time.Duration
}

var _ aws.RetryerV2 = (*deadlineRetryer)(nil)

func (r *deadlineRetryer) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < r.need {
			return nil, fmt.Errorf("%w: %v left, a retry needs %v", ErrRetryDeadline, left.Round(time.Millisecond), r.need)
		}
	}
	return r.RetryerV2.GetRetryToken(ctx, opErr)
}
