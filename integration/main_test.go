package integration

import (
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

func TestMain(m *testing.M) {
	stopPG, stopMariaDB := pgtest.Activate(), mariadbtest.Activate()
	testmain.Run(rotatortest.Hygienic(m), "integration", func() { stopPG(); stopMariaDB() })
}
