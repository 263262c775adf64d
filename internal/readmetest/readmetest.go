package readmetest

import (
	"os"
	"strings"
	"testing"
)

// AssertQuoted checks that, for each name, the code between the markers
// "// README:begin NAME" and "// README:end NAME" of the Go file source
// appears in the Markdown file readme as a ```go block, byte for byte.
func AssertQuoted(t testing.TB, readme, source string, names ...string) {
	t.Helper()
	src, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		begin, end := "// README:begin "+name+"\n", "// README:end "+name
		s := string(src)
		i, j := strings.Index(s, begin), strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("markers of %q missing from %s", name, source)
		}
		code := strings.TrimSpace(s[i+len(begin) : j])
		if !strings.Contains(string(md), "```go\n"+code+"\n```") {
			t.Errorf("%s's %s example differs from %s: copy it over", readme, name, source)
		}
	}
}
