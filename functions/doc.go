// Package functions holds one main package per engine x strategy; each
// builds to its own Lambda bootstrap (runtime provided.al2023). They only
// read the environment and wire an engine to a strategy: the logic lives in
// rotator, strategies and engines, where it is tested.
package functions
