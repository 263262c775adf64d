package rotatortest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fakeM func() int

func (f fakeM) Run() int { return f() }

// The wrapper fails a passing test binary when a value leaked, reports
// its counts (to the output and to the report directory), and never
// prints the value.
func TestRunHygieneFailsOnALeak(t *testing.T) {
	const value = "Leaked-Value-For-The-Wrapper-42"
	for _, tt := range []struct {
		name  string
		leak  bool
		code  int
		leaks string
	}{
		{"clean", false, 0, " 0\n"},
		{"leak", true, 1, " 1\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHygiene()
			defer h.Stop()
			h.Track(value)
			var out bytes.Buffer
			dir := t.TempDir()
			code := runHygiene(fakeM(func() int {
				Capture("log", "an ordinary line\nand another\n")
				if tt.leak {
					Capture("error", "oops: "+value)
				}
				return 0
			}), h, &out, dir)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (output %s)", code, tt.code, out.String())
			}
			if strings.Contains(out.String(), value) {
				t.Error("the output quotes the value")
			}
			if !strings.Contains(out.String(), "1 values tracked") {
				t.Errorf("output %q", out.String())
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.hygiene"))
			if len(files) != 1 {
				t.Fatalf("report files %v", files)
			}
			b, _ := os.ReadFile(files[0])
			if !strings.HasPrefix(string(b), "rotator/rotatortest 1 ") || !strings.HasSuffix(string(b), tt.leaks) {
				t.Errorf("report %q", b)
			}
		})
	}
}

// A panic escaping the tests' run is captured and fails the binary.
func TestRunHygieneCapturesAPanic(t *testing.T) {
	h := NewHygiene()
	defer h.Stop()
	const value = "Panicked-Value-For-The-Wrapper-42"
	h.Track(value)
	var out bytes.Buffer
	code := runHygiene(fakeM(func() int { panic("state: " + value) }), h, &out, "")
	if code == 0 {
		t.Fatal("a panic passed")
	}
	if rep := h.Scan(); len(rep.Leaks) != 1 || rep.Leaks[0].Kind != "panic" {
		t.Fatalf("leaks %v", rep.Leaks)
	}
}
