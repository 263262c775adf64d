package dualkey_test

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/rotator"
)

// The behaviour suite on vendors of every shape the capabilities allow.
func TestBehaviour(t *testing.T) {
	for _, tt := range []struct {
		name string
		caps rotator.KeyCapabilities
	}{
		{"named keys, no limit", rotator.KeyCapabilities{Finding: rotator.FindByName}},
		{"named keys, limit 5", rotator.KeyCapabilities{Finding: rotator.FindByName, MaxKeys: 5}},
		{"nameless keys, limit 2, activation", rotator.KeyCapabilities{Finding: rotator.FindByRecordedID, MaxKeys: 2, NeedsActivation: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keytest.Run(t, func(testing.TB) keytest.Vendor { return keytest.NewMemory(tt.caps) })
		})
	}
}
