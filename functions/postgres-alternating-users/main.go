// postgres-alternating-users rotates a pair of PostgreSQL users (a user and
// its clone, or an allowed pre-created pair), changed by the master user of
// the secret's "masterarn".
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := postgres.NewFromEnv() // $ROTATOR_PG_CA_BUNDLE, $ROTATOR_PG_SSLMODE, ...
		if err != nil {
			return nil, err
		}
		pairs, err := alternating.AllowedPairsFromEnv() // $ROTATOR_ALTERNATING_PAIRS
		if err != nil {
			return nil, err
		}
		return alternating.New(engine, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength), pairs), nil
	})
}
