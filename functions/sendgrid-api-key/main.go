// sendgrid-api-key rotates a Twilio SendGrid API key: a new key with the
// secret's scopes, the previous one revoked one rotation later.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/apikey/sendgrid"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := sendgrid.NewFromEnv() // reads no variable: the secret says everything
		if err != nil {
			return nil, err
		}
		return dualkey.New(engine)
	})
}
