// postgres-single-user rotates a PostgreSQL user that changes its own
// password (RDS, Aurora, self-managed).
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/single"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := postgres.NewFromEnv() // $ROTATOR_PG_CA_BUNDLE, $ROTATOR_PG_SSLMODE, ...
		if err != nil {
			return nil, err
		}
		return single.New(engine), nil
	})
}
