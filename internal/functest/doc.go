// Package functest runs the real functions/* bootstraps the way Lambda
// runs them, for the end-to-end tests (integration/) and the benchmark
// harness (bench/): it builds them with `make build`'s flags
// (internal/lambdabuild), starts them under a local Lambda Runtime API
// (internal/lambdaruntime) with the environment Lambda sets, points them at
// an in-process Secrets Manager (rotator/rotatortest), and registers them
// with it, so that RotateSecret invokes the process through the Runtime API
// as Secrets Manager invokes a rotation function through Lambda.
package functest
