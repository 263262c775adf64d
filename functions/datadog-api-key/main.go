// datadog-api-key rotates a Datadog API key (or, with
// DATADOG_KEY_TYPE=application, an application key): a new key, the
// previous one deleted one rotation later.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/apikey/datadog"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := datadog.NewFromEnv() // $DATADOG_KEY_TYPE
		if err != nil {
			return nil, err
		}
		return dualkey.New(engine)
	})
}
