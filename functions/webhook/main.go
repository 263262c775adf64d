// webhook rotates a key of any system that implements Rotator's webhook
// contract (engines/apikey/webhook; examples/webhook-receiver).
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := webhook.NewFromEnv() // $ROTATOR_WEBHOOK_CA_BUNDLE
		if err != nil {
			return nil, err
		}
		return dualkey.New(engine)
	})
}
