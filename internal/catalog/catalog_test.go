package catalog

import (
	"context"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

func TestCatalog(t *testing.T) {
	t.Setenv(postgres.EnvCABundle, "")
	t.Setenv(postgres.EnvSSLMode, "")
	t.Setenv(postgres.EnvAllowMD5, "")
	t.Setenv(postgres.EnvAllowCleartext, "")
	if got := strings.Join(Names(), ","); got != "postgres-alternating-users,postgres-single-user" {
		t.Fatalf("Names() = %s", got)
	}
	for _, f := range All() {
		if f.Engine == "" || f.Strategy == "" || f.Summary == "" || f.New == nil || f.Preflight == nil || !strings.HasPrefix(f.Name, f.Engine+"-") {
			t.Errorf("incomplete entry %+v", f)
		}
	}
	s, err := MustLookup("postgres-single-user").New(context.Background())
	if _, ok := s.(*single.Strategy); !ok || err != nil {
		t.Fatalf("single-user: %T, %v", s, err)
	}
	s, err = MustLookup("postgres-alternating-users").New(context.Background())
	if _, ok := s.(*alternating.Strategy); !ok || err != nil {
		t.Fatalf("alternating-users: %T, %v", s, err)
	}
	if _, ok := Lookup("oracle-single-user"); ok {
		t.Fatal("found a function that does not exist")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustLookup of an unknown name did not panic")
		}
	}()
	MustLookup("nope")
}

// The engine's configuration comes from the environment, as in Lambda; a
// bad one fails New and is the preflight's first failure.
func TestEngineConfigurationFromEnvironment(t *testing.T) {
	t.Setenv(postgres.EnvCABundle, "")
	t.Setenv(postgres.EnvSSLMode, "sometimes")
	f := MustLookup("postgres-single-user")
	if _, err := f.New(context.Background()); err == nil {
		t.Fatal("New accepted a bad $ROTATOR_PG_SSLMODE")
	}
	checks := f.Preflight(context.Background(), PreflightInput{Current: rotator.NewSecret(map[string]string{"host": "h", "username": "u", "password": "p"})})
	if len(checks) == 0 || checks[0].Status != Fail || !strings.Contains(checks[0].Fix, postgres.EnvSSLMode) {
		t.Fatalf("checks = %+v", checks)
	}
}

// $ROTATOR_ALTERNATING_PAIRS is read where the function builds its
// strategy: a bad one fails New (the function refuses to start) and the
// preflight says so.
func TestAlternatingPairsFromEnvironment(t *testing.T) {
	t.Setenv(postgres.EnvCABundle, "")
	t.Setenv(postgres.EnvSSLMode, "")
	t.Setenv(alternating.EnvAllowedPairs, "app_a:app_b,app_c")
	f := MustLookup("postgres-alternating-users")
	if _, err := f.New(context.Background()); err == nil || !strings.Contains(err.Error(), alternating.EnvAllowedPairs) {
		t.Fatalf("New: %v, want an error naming $%s", err, alternating.EnvAllowedPairs)
	}
	checks := f.Preflight(context.Background(), PreflightInput{Current: rotator.NewSecret(map[string]string{"host": "127.0.0.1", "port": "1", "username": "u", "password": "p"})})
	last := checks[len(checks)-1]
	if last.Status != Fail || !strings.Contains(last.Fix, alternating.EnvAllowedPairs) {
		t.Fatalf("checks = %+v", checks)
	}
	t.Setenv(alternating.EnvAllowedPairs, "app_a:app_b, app_c:app_d")
	if _, err := f.New(context.Background()); err != nil {
		t.Fatal(err)
	}
}
