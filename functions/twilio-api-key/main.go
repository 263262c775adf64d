// twilio-api-key rotates a Twilio Standard API key: a new key (IAM v1),
// the previous one deleted one rotation later, managed by the auth token
// or a Main key of the admin secret ("adminarn").
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/apikey/twilio"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := twilio.NewFromEnv() // $TWILIO_CREATE_API
		if err != nil {
			return nil, err
		}
		return dualkey.New(engine)
	})
}
