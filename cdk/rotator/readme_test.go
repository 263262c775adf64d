package rotator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/rotatorkit/rotator/cdk/example/stacks"
)

// README prints the example's application-user rotation policy (the
// role's one inline policy) between these markers; it must be the one the
// example synthesizes.
const (
	policyBegin = "<!-- cdk-example-policy:begin -->\n```json\n"
	policyEnd   = "```\n<!-- cdk-example-policy:end -->"
)

func TestREADMEPrintsTheExamplesPolicy(t *testing.T) {
	pg, err := stacks.NewPostgres(awscdk.NewApp(nil), "RotatorPostgresExample", &stacks.Props{DistDir: distDir})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, pg.Stack)
	role := resources(tpl, "AWS::IAM::Role")[logicalID(pg.AppUserRotation.Role)]["Properties"].(map[string]any)
	doc := role["Policies"].([]any)[0].(map[string]any)["PolicyDocument"]
	b, err := json.MarshalIndent(readable(doc), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := string(b) + "\n"
	readme, err := os.ReadFile(filepath.Join(repoDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, policyBegin), strings.Index(s, policyEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block; put this in it:\n%s", policyBegin, policyEnd, want)
	}
	if got := s[i+len(policyBegin) : j]; got != want {
		t.Errorf("README.md's example policy differs from the synthesized one; replace it with:\n%s", want)
	}
}

var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// readable replaces CloudFormation's references with ${Name} (the logical
// id without CDK's hash) and joins Fn::Join of plain parts, for people.
func readable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			return "${" + hashSuffix.ReplaceAllString(r, "") + "}"
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 {
			return "${" + hashSuffix.ReplaceAllString(g[0].(string), "") + "." + g[1].(string) + "}"
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(x) == 1 {
			var sb strings.Builder
			for _, part := range j[1].([]any) {
				s, ok := readable(part).(string)
				if !ok {
					return x
				}
				sb.WriteString(s)
			}
			return sb.String()
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = readable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = readable(e)
		}
		return out
	}
	return v
}
