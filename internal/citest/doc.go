// Package citest tests the CI scripts under .ci: what they do when a
// dependency cannot be had.
package citest
