package readmetest_test

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/readmetest"
)

// TestReadmeCDKExampleIsTheCompiledOne keeps README.md's CDK example
// identical to cdk/rotator/example_test.go, which `make test-cdk` compiles
// and runs (cdk/ is a module of its own: this module only reads the file).
func TestReadmeCDKExampleIsTheCompiledOne(t *testing.T) {
	readmetest.AssertQuoted(t, "../../README.md", "../../cdk/rotator/example_test.go", "cdk")
}
