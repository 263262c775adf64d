// Package catalog names Rotator's built-in rotation functions (engine x
// strategy) and builds them, so that the Lambda mains under functions/ and
// the rotator command wire the same engine to the same strategy:
//
//	rotator.StartLambda(catalog.MustLookup("postgres-single-user").New)
//
// Each function also knows its preflight checks: what the engine and the
// strategy need before a rotation can succeed.
package catalog
