package rotator_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExampleIsTheCompiledOne keeps README.md's examples identical to
// the test files that go test compiles and runs: a guide whose code does
// not build, or does the wrong thing, is worse than none.
func TestReadmeExampleIsTheCompiledOne(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, marker string }{
		{"example_test.go", "custom-rotator"},                // Writing a custom rotator
		{"example_rotatortest_test.go", "testing-a-rotator"}, // Testing a rotator
	} {
		t.Run(tc.marker, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			begin, end := "// README:begin "+tc.marker+"\n", "// README:end "+tc.marker
			s := string(src)
			i, j := strings.Index(s, begin), strings.Index(s, end)
			if i < 0 || j < 0 {
				t.Fatalf("markers missing from %s", tc.file)
			}
			code := strings.TrimSpace(s[i+len(begin) : j])
			if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
				t.Fatalf("README.md's %s example differs from rotator/%s: copy it over", tc.marker, tc.file)
			}
		})
	}
}
