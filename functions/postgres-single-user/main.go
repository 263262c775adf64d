// Command postgres-single-user is the Lambda rotation function for a
// PostgreSQL user that changes its own password.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/single"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := postgres.NewFromEnv()
		if err != nil {
			return nil, err
		}
		return single.New(engine), nil
	})
}
