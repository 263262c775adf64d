package pgxrotate_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExamplesAreTheCompiledOnes keeps README.md's examples of this
// package identical to example_test.go, which go test compiles.
func TestReadmeExamplesAreTheCompiledOnes(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pgxpool", "database-sql"} {
		begin, end := "// README:begin "+name+"\n", "// README:end "+name
		s := string(src)
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("markers of %q missing from example_test.go", name)
		}
		code := strings.TrimSpace(s[i+len(begin) : j])
		if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
			t.Errorf("README.md's %s example differs from client/pgxrotate/example_test.go: copy it over", name)
		}
	}
}
