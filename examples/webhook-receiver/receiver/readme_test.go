package receiver

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/readmetest"
)

// README quotes the receiver's main byte for byte.
func TestReadmeQuotesTheReceiver(t *testing.T) {
	readmetest.AssertQuoted(t, "../../../README.md", "../main.go", "webhook-receiver")
}
