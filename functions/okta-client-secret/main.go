// okta-client-secret rotates a client secret of an Okta OAuth app: the
// slot of the previous secret freed (deactivated, deleted), a new secret
// created and activated, managed by the admin secret's API token.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/apikey/okta"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := okta.NewFromEnv() // $OKTA_ALLOWED_HOSTS
		if err != nil {
			return nil, err
		}
		return dualkey.New(engine)
	})
}
