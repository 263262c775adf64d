package rotator_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExampleIsTheCompiledOne keeps README.md's custom-rotator
// example identical to example_test.go, which go test compiles and runs.
func TestReadmeExampleIsTheCompiledOne(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "// README:begin custom-rotator\n", "// README:end custom-rotator"
	s := string(src)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < 0 {
		t.Fatal("markers missing from example_test.go")
	}
	code := strings.TrimSpace(s[i+len(begin) : j])
	if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
		t.Fatal("README.md's custom-rotator example differs from rotator/example_test.go: copy it over")
	}
}
