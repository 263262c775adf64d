package secretcache_test

import (
	"os"
	"testing"

	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// TestMain checks this package's secret hygiene: no secret value a test
// stored or generated appears in a captured log line, error, panic or
// metric line (see rotatortest.Hygienic).
func TestMain(m *testing.M) { os.Exit(rotatortest.Hygienic(m).Run()) }
