package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

// The command's list of functions is the functions/ directory: every
// Lambda main has its entry here, and nothing else does.
func TestBuiltinsAreTheLambdaFunctions(t *testing.T) {
	entries, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if !slices.Equal(dirs, functionNames()) {
		t.Fatalf("functions/ holds %v, the command lists %v", dirs, functionNames())
	}
	for _, f := range builtins {
		vendor := f.Strategy == "api-key" // vendor engines may read no variable; "webhook" is its engine's name
		if f.Engine == "" || f.Strategy == "" || f.Summary == "" || f.New == nil || (len(f.Env) == 0 && !vendor) ||
			!(strings.HasPrefix(f.Name, f.Engine+"-") || (vendor && f.Name == f.Engine)) {
			t.Errorf("incomplete entry %+v", f)
		}
	}
}

func TestBuiltinsBuildTheirStrategies(t *testing.T) {
	cleanEnv(t)
	s, err := mustFunction("postgres-single-user").New(context.Background())
	if _, ok := s.(*single.Strategy); !ok || err != nil {
		t.Fatalf("single-user: %T, %v", s, err)
	}
	s, err = mustFunction("postgres-alternating-users").New(context.Background())
	if _, ok := s.(*alternating.Strategy); !ok || err != nil {
		t.Fatalf("alternating-users: %T, %v", s, err)
	}
	if _, ok := lookupFunction("oracle-single-user"); ok {
		t.Fatal("found a function that does not exist")
	}
}

// The engine's configuration comes from the environment, as in Lambda; a
// bad one fails New and is the preflight's first failure, naming the
// variables.
func TestFunctionConfigurationFromEnvironment(t *testing.T) {
	cleanEnv(t)
	t.Setenv(postgres.EnvSSLMode, "sometimes")
	f := mustFunction("postgres-single-user")
	if _, err := f.New(context.Background()); err == nil {
		t.Fatal("New accepted a bad $ROTATOR_PG_SSLMODE")
	}
	checks := f.Preflight(context.Background(), rotator.PreflightInput{Current: rotator.NewSecret(map[string]string{"host": "h", "username": "u", "password": "p"})})
	if len(checks) != 1 || checks[0].Status != rotator.CheckFail || !strings.Contains(checks[0].Fix, postgres.EnvSSLMode) {
		t.Fatalf("checks = %+v", checks)
	}

	// $ROTATOR_ALTERNATING_PAIRS is read where the function builds its
	// strategy: a bad one stops the function and the preflight says so.
	t.Setenv(postgres.EnvSSLMode, "")
	t.Setenv(alternating.EnvAllowedPairs, "app_a:app_b,app_c")
	f = mustFunction("postgres-alternating-users")
	if _, err := f.New(context.Background()); err == nil || !strings.Contains(err.Error(), alternating.EnvAllowedPairs) {
		t.Fatalf("New: %v, want an error naming $%s", err, alternating.EnvAllowedPairs)
	}
	checks = f.Preflight(context.Background(), rotator.PreflightInput{Current: rotator.NewSecret(map[string]string{"host": "127.0.0.1", "port": "1", "username": "u", "password": "p"})})
	if len(checks) != 1 || checks[0].Status != rotator.CheckFail || !strings.Contains(checks[0].Fix, alternating.EnvAllowedPairs) {
		t.Fatalf("checks = %+v", checks)
	}
	t.Setenv(alternating.EnvAllowedPairs, "app_a:app_b, app_c:app_d")
	if _, err := f.New(context.Background()); err != nil {
		t.Fatal(err)
	}
}
