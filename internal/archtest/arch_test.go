package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/rotatorkit/rotator"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// list runs go list on the module's packages (without tests).
func list(t *testing.T) map[string]pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module+"/")] = p
	}
	return pkgs
}

// ours returns the module's packages among imports, relative to the module.
func ours(imports []string) []string {
	var out []string
	for _, i := range imports {
		if rel, ok := strings.CutPrefix(i, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

// layer says which of the module's packages a package may import.
func layer(path string) (allowed func(dep string) bool, ok bool) {
	exact := func(deps ...string) func(string) bool {
		return func(dep string) bool {
			for _, d := range deps {
				if dep == d {
					return true
				}
			}
			return false
		}
	}
	switch {
	case path == "rotator":
		return exact(), true
	case path == "rotator/rotatortest", path == "rotator/awsconfig":
		return exact("rotator"), true
	case path == "strategies":
		return exact("rotator"), true
	case strings.HasPrefix(path, "strategies/"):
		return exact("rotator", "strategies"), true
	case path == "engines/apikey":
		return exact(), true // the package comment of the vendors' folder
	case strings.HasPrefix(path, "engines/apikey/internal/"):
		// The vendors' shared layers (httpapi): rotator only, or one another.
		return func(dep string) bool { return dep == "rotator" || strings.HasPrefix(dep, "engines/apikey/internal/") }, true
	case strings.HasPrefix(path, "engines/apikey/"):
		// A vendor engine: rotator, the shared layers, its own sub-packages;
		// never another vendor's engine.
		own := strings.Join(strings.SplitN(path, "/", 4)[:3], "/")
		return func(dep string) bool {
			return dep == "rotator" || strings.HasPrefix(dep, "engines/apikey/internal/") || dep == own || strings.HasPrefix(dep, own+"/")
		}, true
	case strings.HasPrefix(path, "engines/"):
		// rotator, and the engine's own sub-packages (engines/mysql/mysqlhash).
		own := strings.Join(strings.SplitN(path, "/", 3)[:2], "/")
		return func(dep string) bool { return dep == "rotator" || strings.HasPrefix(dep, own+"/") }, true
	case strings.HasPrefix(path, "client/"):
		return func(dep string) bool { return dep == "rotator" || strings.HasPrefix(dep, "client/") }, true
	case path == "functions": // the package comment of the folder
		return exact(), true
	case strings.HasPrefix(path, "functions/"):
		return nil, false // checked by TestFunctionsLinkOnlyTheirOwnParts
	case strings.HasPrefix(path, "examples/"):
		// Code for users to copy into their own systems: the standard
		// library and other examples only (its tests may use anything).
		return func(dep string) bool { return strings.HasPrefix(dep, "examples/") }, true
	case strings.HasPrefix(path, "cmd/"), strings.HasPrefix(path, "internal/"), path == "bench", path == "integration":
		return func(string) bool { return true }, true
	}
	return nil, true
}

// Every package imports only the layers below it (ARCHITECTURE.md, "Layers").
func TestLayerRules(t *testing.T) {
	for path, p := range list(t) {
		allowed, ok := layer(path)
		if !ok {
			continue
		}
		if allowed == nil {
			t.Errorf("%s: a package in no layer; add it to ARCHITECTURE.md and this test", path)
			continue
		}
		for _, dep := range ours(p.Imports) {
			if !allowed(dep) {
				t.Errorf("%s imports %s, which its layer may not", path, dep)
			}
		}
	}
}

// strategyPackage maps a function's strategy suffix to its package.
var strategyPackage = map[string]string{
	"single-user":       "strategies/single",
	"alternating-users": "strategies/alternating",
	"dual-password":     "strategies/dualpassword",
	"api-key":           "strategies/dualkey",
	"client-secret":     "strategies/dualkey",
}

// vendorFunctions maps the vendor functions to their engines: their
// names say the vendor, not a folder of engines/.
var vendorFunctions = map[string]string{
	"sendgrid-api-key":   "engines/apikey/sendgrid",
	"webhook":            "engines/apikey/webhook",
	"twilio-api-key":     "engines/apikey/twilio",
	"datadog-api-key":    "engines/apikey/datadog",
	"okta-client-secret": "engines/apikey/okta",
}

// A function's bootstrap links the rotator package, its strategy, its own
// engine and their third-party code, and nothing else of the module: no
// other engine, no command-line or test code, and not the SDK's full
// configuration chain (a Lambda function gets its credentials from the
// environment).
func TestFunctionsLinkOnlyTheirOwnParts(t *testing.T) {
	pkgs := list(t)
	n := 0
	for path, p := range pkgs {
		name, ok := strings.CutPrefix(path, "functions/")
		if !ok {
			continue
		}
		n++
		var strategy string
		for suffix, pkg := range strategyPackage {
			if strings.HasSuffix(name, "-"+suffix) {
				strategy = pkg
			}
		}
		engine := "engines/" + strings.SplitN(name, "-", 2)[0]
		if e, ok := vendorFunctions[name]; ok {
			strategy, engine = "strategies/dualkey", e
		}
		if strategy == "" {
			t.Errorf("%s: no strategy package for its name", path)
			continue
		}
		allowed := map[string]bool{path: true, "rotator": true, "strategies": true, strategy: true}
		for _, dep := range ours(p.Deps) {
			if strings.HasPrefix(engine, "engines/apikey/") && strings.HasPrefix(dep, "engines/apikey/internal/") {
				continue // the vendors' shared HTTP layer
			}
			if !allowed[dep] && dep != engine && !strings.HasPrefix(dep, engine+"/") {
				t.Errorf("%s links %s: a function links only rotator, %s and %s", path, dep, strategy, engine)
			}
		}
		for _, dep := range p.Deps {
			for _, banned := range []string{
				"github.com/testcontainers/", "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/credentials",
				"github.com/aws/aws-sdk-go-v2/service/sso", "github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
			} {
				if strings.HasPrefix(dep, banned) {
					t.Errorf("%s links %s", path, dep)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no function found under functions/")
	}
}

// The rules for the vendor engines, on paths that need not exist: a vendor
// engine reaches the shared layers, never another vendor.
func TestVendorEngineRules(t *testing.T) {
	for _, tt := range []struct {
		pkg, dep string
		ok       bool
	}{
		{"engines/apikey/sendgrid", "rotator", true},
		{"engines/apikey/sendgrid", "engines/apikey/internal/httpapi", true},
		{"engines/apikey/sendgrid", "engines/apikey/sendgrid/sgtypes", true},
		{"engines/apikey/sendgrid", "engines/apikey/webhook", false},
		{"engines/apikey/sendgrid", "strategies/dualkey", false},
		{"engines/apikey/sendgrid", "engines/postgres", false},
		{"engines/apikey/internal/httpapi", "rotator", true},
		{"engines/apikey/internal/httpapi", "engines/apikey/sendgrid", false},
		{"engines/apikey", "rotator", false},
		{"engines/postgres", "engines/apikey/internal/httpapi", false},
	} {
		allowed, ok := layer(tt.pkg)
		if !ok || allowed == nil {
			t.Fatalf("%s: no layer", tt.pkg)
		}
		if got := allowed(tt.dep); got != tt.ok {
			t.Errorf("%s importing %s: allowed=%v, want %v", tt.pkg, tt.dep, got, tt.ok)
		}
	}
}
