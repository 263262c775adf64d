package pgxrotate_test

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/readmetest"
)

// TestReadmeExamplesAreTheCompiledOnes keeps README.md's examples of this
// package identical to example_test.go, which go test compiles.
func TestReadmeExamplesAreTheCompiledOnes(t *testing.T) {
	readmetest.AssertQuoted(t, "../../README.md", "example_test.go", "pgxpool", "database-sql")
}
