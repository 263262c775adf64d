// Command postgres-single-user is the Lambda rotation function for a
// PostgreSQL user that changes its own password.
package main

import (
	"github.com/rotatorkit/rotator/internal/catalog"
	"github.com/rotatorkit/rotator/rotator"
)

func main() {
	rotator.StartLambda(catalog.MustLookup("postgres-single-user").New)
}
