// Package lambdabuild builds the functions/* commands into Lambda
// bootstraps (runtime provided.al2023) and packs them into zips, the same
// way `make build` does: CGO_ENABLED=0, GOOS=linux, -tags lambda.norpc,
// -trimpath, stripped, with no build id and no VCS stamp, so that the same
// source gives the same bytes on any machine and in any directory. Tests
// and the benchmark harness use it to build what they run.
package lambdabuild
