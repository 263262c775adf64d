// Package stacks holds the example app's stacks (cdk/example): an RDS
// PostgreSQL database whose secrets Rotator rotates, a SendGrid API key,
// and a secret in one account rotated by a function in another. The app's
// main and the tests build the same stacks.
package stacks
