package rotator_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotatorkit/rotator/cdk/example/stacks"
)

// repoDir is this package's folder (the tests run from a temporary one).
var repoDir string

// distDir holds a zip for every built-in function and architecture, as
// `make build` would (each holds a placeholder bootstrap: nothing runs).
var distDir string

// TestMain makes the zips and runs the tests from their parent folder, so
// that DistDir's default ("dist") finds them, as in a user's project.
func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	if repoDir, err = os.Getwd(); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "rotator-cdk-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	distDir = filepath.Join(tmp, "dist")
	if err := stacks.WritePlaceholderZips(distDir); err != nil {
		return 0, err
	}
	if err := os.Chdir(tmp); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// newStack is a fresh app with one environment-agnostic stack.
func newStack() awscdk.Stack {
	return awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Test"), nil)
}

// template synthesizes stack and returns its template as plain JSON values.
func template(t *testing.T, stack awscdk.Stack) map[string]any {
	t.Helper()
	return plain(t, assertions.Template_FromStack(stack, nil).ToJSON())
}

// plain turns v into what encoding/json decodes (maps, slices, strings,
// float64, bool), so that templates and expectations compare with
// reflect.DeepEqual.
func plain(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func plainValue(t *testing.T, v any) any {
	t.Helper()
	return plain(t, map[string]any{"v": v})["v"]
}

// resources returns the template's resources of type typ by logical id.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// only returns the properties of the one resource of type typ.
func only(t *testing.T, tpl map[string]any, typ string) map[string]any {
	t.Helper()
	rs := resources(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for _, r := range rs {
		p, _ := r["Properties"].(map[string]any)
		return p
	}
	return nil
}

// logicalID is the logical id of c's CloudFormation resource.
func logicalID(c constructs.IConstruct) string {
	el, ok := c.(awscdk.CfnElement)
	if !ok {
		el = c.Node().DefaultChild().(awscdk.CfnElement)
	}
	return *awscdk.Stack_Of(c).GetLogicalId(el)
}

func ref(c constructs.IConstruct) map[string]any { return map[string]any{"Ref": logicalID(c)} }

func getAtt(c constructs.IConstruct, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID(c), attr}}
}

// equal fails the test with both values as JSON when got differs from want.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := plainValue(t, got), plainValue(t, want)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", "  ")
		wb, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, gb, wb)
	}
}
