package integration

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
