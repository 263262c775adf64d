// Package testbackend reads the environment variables that say where the
// test rigs (internal/pgtest, internal/mariadbtest) get their
// database servers, so that every rig reads them the same way:
//
//   - ROTATOR_TEST_BACKEND=containers|local|dsn forces one backend. Unset,
//     each rig tries containers (when a Docker engine answers), then local
//     binaries, then connection strings from the environment. A forced
//     backend that is not available fails the tests with the reason
//     instead of falling back or skipping.
//   - ROTATOR_TEST_IMAGE_<ENGINE> (ROTATOR_TEST_IMAGE_POSTGRES,
//     ROTATOR_TEST_IMAGE_MARIADB, ROTATOR_TEST_IMAGE_MYSQL8) names the
//     container image; unset, the
//     rig's default (an official image from Docker Hub, so a laptop with
//     Docker needs no build). .ci/docker builds local ones and prints these
//     variables.
package testbackend

import (
	"fmt"
	"os"
	"strings"
)

// EnvBackend forces a backend.
const EnvBackend = "ROTATOR_TEST_BACKEND"

// EnvImagePrefix begins the variables naming a container image:
// EnvImagePrefix + "POSTGRES", + "MARIADB".
const EnvImagePrefix = "ROTATOR_TEST_IMAGE_"

// Backend is where a rig gets its servers.
type Backend string

// The backends. Any means "the first that works".
const (
	Any        Backend = ""
	Containers Backend = "containers"
	Local      Backend = "local"
	DSN        Backend = "dsn"
)

// Parse reads a backend name: containers (or container), local or dsn;
// "" is Any.
func Parse(s string) (Backend, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return Any, nil
	case "containers", "container":
		return Containers, nil
	case "local":
		return Local, nil
	case "dsn":
		return DSN, nil
	}
	return Any, fmt.Errorf("%q is not a test backend: want containers, local or dsn", s)
}

// FromEnv returns the backend $ROTATOR_TEST_BACKEND forces (Any when unset).
func FromEnv() (Backend, error) {
	b, err := Parse(os.Getenv(EnvBackend))
	if err != nil {
		return Any, fmt.Errorf("$%s: %w", EnvBackend, err)
	}
	return b, nil
}

// Image returns $ROTATOR_TEST_IMAGE_<ENGINE> ("" when unset; the rig then
// uses its default). engine is upper-cased: Image("postgres") reads
// ROTATOR_TEST_IMAGE_POSTGRES.
func Image(engine string) string {
	return strings.TrimSpace(os.Getenv(EnvImagePrefix + strings.ToUpper(engine)))
}

// Resolve returns the backend forced by $ROTATOR_TEST_BACKEND or, for one
// rig alone, by its older variable legacyEnv
// ($ROTATOR_TEST_POSTGRES_MODE), and how it was asked for, for messages
// ("$ROTATOR_TEST_BACKEND=local"). The two must agree when both are set.
func Resolve(legacyEnv string) (b Backend, how string, err error) {
	b, err = FromEnv()
	if err != nil {
		return b, "", err
	}
	how = "$" + EnvBackend + "=" + string(b)
	legacy := os.Getenv(legacyEnv)
	if strings.TrimSpace(legacy) == "" {
		return b, how, nil
	}
	lb, err := Parse(legacy)
	if err != nil {
		return b, "", fmt.Errorf("$%s: %w", legacyEnv, err)
	}
	if b != Any && lb != b {
		return b, "", fmt.Errorf("$%s=%s and $%s=%s disagree", EnvBackend, b, legacyEnv, legacy)
	}
	return lb, "$" + legacyEnv + "=" + legacy, nil
}
