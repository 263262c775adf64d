package rotator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// lambdaClientFor is the client a Lambda function builds
// (NewLambdaClient), pointed at srv.
func lambdaClientFor(t *testing.T, srv *rotatortest.Server) *secretsmanager.Client {
	t.Helper()
	env := map[string]string{
		"AWS_REGION": rotatortest.Region, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test-key",
		rotator.EnvEndpoint: srv.URL(),
	}
	c, err := rotator.NewLambdaClient(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRetryerConfiguration checks the retryer NewLambdaClient configures
// (rotator.NewRetryer), by the calls rotatortest counts: short throttling
// and 5xx bursts are absorbed inside one API call, a lasting one fails
// after RetryMaxAttempts calls, and no retry is made when the deadline is
// nearer than the longest backoff plus the reserve.
func TestRetryerConfiguration(t *testing.T) {
	throttle := rotatortest.Fault{ErrorType: "ThrottlingException"}
	internal := rotatortest.Fault{ErrorType: "InternalServiceError"}
	unavailable := rotatortest.Fault{ErrorType: "ServiceUnavailable", Status: 503}
	times := func(f rotatortest.Fault, n int) rotatortest.Fault { f.Times = n; return f }
	tests := []struct {
		name      string
		fault     rotatortest.Fault
		deadline  time.Duration // 0: none
		wantCalls int
		wantErr   []string // substrings; none: success
		deadlined bool     // the error wraps ErrRetryDeadline
	}{
		{"throttled twice, absorbed", times(throttle, 2), 0, 3, nil, false},
		{"throttled 4 times, absorbed by the 5th attempt", times(throttle, rotator.RetryMaxAttempts-1), 0, rotator.RetryMaxAttempts, nil, false},
		{"500 twice, absorbed", times(internal, 2), 0, 3, nil, false},
		{"503 once, absorbed", times(unavailable, 1), 0, 2, nil, false},
		{"throttled throughout", throttle, 0, rotator.RetryMaxAttempts, []string{"ThrottlingException", "maximum number of attempts"}, false},
		{"500 throughout", internal, 0, rotator.RetryMaxAttempts, []string{"InternalServiceError", "maximum number of attempts"}, false},
		{"throttled, deadline far", throttle, 30 * time.Second, rotator.RetryMaxAttempts, []string{"ThrottlingException"}, false},
		{"throttled, deadline near", throttle, rotator.RetryMaxBackoff + rotator.RetryDeadlineReserve - 300*time.Millisecond, 1, []string{"ThrottlingException", "deadline"}, true},
		{"500, deadline near", internal, rotator.RetryDeadlineReserve, 1, []string{"InternalServiceError", "deadline"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rotatortest.NewServer()
			defer srv.Close()
			arn := srv.MustCreateSecret(t, "app/retry", `{"username":"u","password":"p"}`)
			c := lambdaClientFor(t, srv)
			srv.InjectFault("DescribeSecret", tt.fault)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			_, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
			if got := srv.CallCounts()["DescribeSecret"]; got != tt.wantCalls {
				t.Errorf("DescribeSecret reached the server %d times, want %d", got, tt.wantCalls)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want the fault absorbed", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to say %q", err, s)
				}
			}
			if got := errors.Is(err, rotator.ErrRetryDeadline); got != tt.deadlined {
				t.Errorf("errors.Is(err, ErrRetryDeadline) = %v, want %v (err %v)", got, tt.deadlined, err)
			}
			if tt.deadlined && ctx.Err() != nil {
				t.Errorf("the call returned only when its deadline had passed: %v", ctx.Err())
			}
			var max *retry.MaxAttemptsError
			if wantMax := !tt.deadlined; errors.As(err, &max) != wantMax {
				t.Errorf("MaxAttemptsError: %v, want %v (err %v)", errors.As(err, &max), wantMax, err)
			}
		})
	}
}
