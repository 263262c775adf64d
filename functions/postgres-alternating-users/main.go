// Command postgres-alternating-users is the Lambda rotation function for a
// PostgreSQL secret that alternates between two users, using the master
// secret named by the secret's "masterarn" field.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := postgres.NewFromEnv()
		if err != nil {
			return nil, err
		}
		return alternating.New(engine, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength)), nil
	})
}
