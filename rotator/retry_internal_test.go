package rotator

import (
	"testing"
	"time"
)

func TestRetryBackoffBounds(t *testing.T) {
	tests := []struct {
		attempt int
		bound   time.Duration
	}{
		{0, RetryBaseDelay}, {1, RetryBaseDelay}, {2, 2 * RetryBaseDelay}, {3, 4 * RetryBaseDelay},
		{4, RetryMaxBackoff}, {5, RetryMaxBackoff}, {60, RetryMaxBackoff},
	}
	for _, tt := range tests {
		var longest time.Duration
		for range 500 {
			d, err := backoff(tt.attempt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d < 0 || d >= tt.bound {
				t.Fatalf("attempt %d: backoff %v outside [0, %v)", tt.attempt, d, tt.bound)
			}
			longest = max(longest, d)
		}
		// Full jitter uses the whole range: 500 draws all below half the
		// bound would mean the bound is not the one intended.
		if longest < tt.bound/2 {
			t.Errorf("attempt %d: longest of 500 backoffs %v, want some above %v", tt.attempt, longest, tt.bound/2)
		}
	}
}
