// Package bench measures Rotator against ARCHITECTURE.md's performance budget,
// in one run on one machine, with the real bootstraps run as Lambda runs
// them (internal/functest) against a local PostgreSQL server
// (internal/pgtest) and the in-process Secrets Manager of rotatortest:
//
//   - Secrets Manager calls per full rotation, by operation (budget: 8);
//   - process start to ready: exec to the first GET .../invocation/next
//     (budget: 20 ms);
//   - warm full-rotation latency, median and p95 of 60 rotations driven by
//     RotateSecret through the Runtime API (no budget; AWS's Python
//     template takes ~140 ms here);
//   - peak RSS of the bootstrap processes (budget: 40 MiB);
//   - bootstrap size per function and architecture (budget: 15 MB).
//
// `make bench` runs BenchmarkBudget once: it prints a table with PASS or
// FAIL per budget line, writes results.json beside this file, and fails
// (non-zero exit) when a budget is exceeded. The other benchmarks measure
// one thing each with the usual `go test -bench` loop.
package bench
