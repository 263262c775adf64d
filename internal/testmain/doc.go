// Package testmain runs a test binary whose tests started servers
// (PostgreSQL, moto): after the tests, and also when the binary gets SIGINT
// or SIGTERM, it calls the clean-ups that stop them, so that no server
// outlives the tests. pgtest.Main and mototest.Main are built on it.
package testmain
