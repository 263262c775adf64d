package main

import (
	"github.com/rotatorkit/rotator/internal/catalog"
	"github.com/rotatorkit/rotator/rotator"
)

func main() {
	rotator.StartLambda(catalog.MustLookup("postgres-alternating-users").New)
}
