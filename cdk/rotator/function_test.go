package rotator_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// Each built-in function's needs follow from its name, as the repository
// builds it: alternating users read "masterarn", API keys an optional
// "adminarn"; database engines have a CA bundle variable.
func TestBuiltinFunctionsNeeds(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range rotator.Functions() {
		if seen[f.Name] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		var second rotator.SecondSecret
		switch {
		case strings.HasSuffix(f.Name, "-alternating-users"):
			second = rotator.MasterRequired
		case strings.HasSuffix(f.Name, "-api-key"), strings.HasSuffix(f.Name, "-client-secret"), f.Name == "webhook":
			second = rotator.AdminOptional
		}
		if f.Second != second {
			t.Errorf("%s: Second = %v, want %v", f.Name, f.Second, second)
		}
		engine := strings.SplitN(f.Name, "-", 2)[0]
		wantEnv := map[string]string{"postgres": "ROTATOR_PG_CA_BUNDLE", "mysql": "ROTATOR_MYSQL_CA_BUNDLE", "webhook": "ROTATOR_WEBHOOK_CA_BUNDLE"}[engine]
		database := engine == "postgres" || engine == "mysql"
		if f.CABundleEnv != wantEnv || f.Database != database {
			t.Errorf("%s: Database %v, CABundleEnv %q; want %v, %q", f.Name, f.Database, f.CABundleEnv, database, wantEnv)
		}
		got, err := rotator.FunctionByName(f.Name)
		if err != nil || got != f {
			t.Errorf("FunctionByName(%q) = %v, %v", f.Name, got, err)
		}
	}
	for _, name := range []string{"sendgrid-api-key", "twilio-api-key", "datadog-api-key", "okta-client-secret", "webhook"} {
		if !seen[name] {
			t.Errorf("%s missing", name)
		}
	}
	if _, err := rotator.FunctionByName("oracle-single-user"); !errors.Is(err, rotator.ErrUnknownFunction) {
		t.Errorf("unknown function: err = %v", err)
	}
}

// The variables the construct sets are the ones the functions read: each
// name is a string constant of the rotator or engine packages (a
// function's CA bundle variable once the function is in the repository).
func TestEnvironmentNamesAreTheFunctions(t *testing.T) {
	root := filepath.Join(repoDir, "..", "..")
	var sources strings.Builder
	for _, pattern := range []string{"rotator/*.go", "engines/*/*.go", "engines/*/*/*.go"} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources.Write(b)
		}
	}
	construct, err := os.ReadFile(filepath.Join(repoDir, "rotation.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?:set\(|\{)"([A-Z][A-Z_]{5,})"`).FindAllStringSubmatch(string(construct), -1)
	if len(names) < 9 {
		t.Fatalf("found %d variable names in rotation.go", len(names))
	}
	for _, f := range rotator.Functions() {
		if _, err := os.Stat(filepath.Join(root, "functions", f.Name, "main.go")); err != nil {
			continue // landing in parallel: checked once it is here
		}
		if f.CABundleEnv != "" {
			names = append(names, []string{"", f.CABundleEnv})
		}
	}
	for _, m := range names {
		if !strings.Contains(sources.String(), `"`+m[1]+`"`) {
			t.Errorf("the construct sets %s, which no rotator or engine package reads", m[1])
		}
	}
}
