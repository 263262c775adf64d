// Package rotator holds CDK constructs that deploy a Rotator function for a
// secret with least privilege: NewRotation makes the function from the zip
// that `make build` writes, its role (only the calls the rotation makes, on
// the one secret, its master or admin secret and their keys), a log group
// with retention, reserved concurrency, the invoke permission for Secrets
// Manager limited to the secret's account and ARN, the security group rule
// to the database, and the rotation schedule.
//
// It is its own Go module (github.com/rotatorkit/rotator/cdk) so that the
// CDK's large bindings stay out of the functions' build.
package rotator
