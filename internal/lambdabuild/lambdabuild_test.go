package lambdabuild

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestZipIsReproducibleAndLambdaShaped(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	data := bytes.Repeat([]byte("\x7fELF not really "), 4096)
	if err := os.WriteFile(bin, data, 0o600); err != nil { // mode is set by the zip, not the file
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "sub", "b.zip")
	if err := ZipBootstrap(a, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, ZipTime.AddDate(30, 0, 0), ZipTime.AddDate(30, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := ZipBootstrap(b, bin); err != nil {
		t.Fatal(err)
	}
	za, _ := os.ReadFile(a)
	zb, _ := os.ReadFile(b)
	if !bytes.Equal(za, zb) {
		t.Fatal("two zips of the same bootstrap differ")
	}

	zr, err := zip.NewReader(bytes.NewReader(za), int64(len(za)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("%d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Mode().Perm() != 0o755 || f.Method != zip.Deflate || !f.Modified.Equal(ZipTime) {
		t.Errorf("entry %s mode %v method %d modified %v", f.Name, f.Mode(), f.Method, f.Modified)
	}
	if f.CreatorVersion>>8 != 3 { // Unix, so that Lambda honours the mode
		t.Errorf("creator OS %d, want 3 (Unix)", f.CreatorVersion>>8)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Error("the zipped bootstrap differs from the file")
	}
}

func TestWriteZipSortsEntries(t *testing.T) {
	var x, y bytes.Buffer
	files := []File{{Name: "b", Mode: 0o644, Data: []byte("2")}, {Name: "a", Mode: 0o755, Data: []byte("1")}}
	if err := WriteZip(&x, files); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(files)
	if err := WriteZip(&y, files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Error("the order of the input changed the zip")
	}
}

// TestMakefileUsesTheSameFlags keeps `make build` and the builds made by
// tests and the benchmark identical.
func TestMakefileUsesTheSameFlags(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GOFLAGS_BUILD\s*:?=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no GOFLAGS_BUILD in the Makefile")
	}
	// The shell's view of the Makefile's words: '...' groups one argument.
	var words []string
	for _, w := range regexp.MustCompile(`(?:[^\s']+|'[^']*')+`).FindAllString(strings.TrimSpace(string(m[1])), -1) {
		words = append(words, strings.ReplaceAll(w, "'", ""))
	}
	if !slices.Equal(words, Flags) {
		t.Errorf("Makefile GOFLAGS_BUILD = %q, lambdabuild.Flags = %q", words, Flags)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOFLAGS="} {
		if !bytes.Contains(mk, []byte(want)) {
			t.Errorf("the Makefile does not set %s", want)
		}
	}
}

func TestFunctions(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	names, err := Functions(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"postgres-alternating-users", "postgres-single-user"} {
		if !slices.Contains(names, want) {
			t.Errorf("Functions() = %v, missing %s", names, want)
		}
	}
}

// TestReadmeDocumentsEveryFunction keeps README's table of functions and
// their environment in step with functions/.
func TestReadmeDocumentsEveryFunction(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := Functions(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !bytes.Contains(readme, []byte("| `"+n+"` |")) {
			t.Errorf("README.md has no row for the function %s", n)
		}
	}
	for _, v := range []string{"SECRETS_MANAGER_ENDPOINT", "PASSWORD_SOURCE", "ROTATOR_DRY_RUN", "ROTATOR_LOG_LEVEL", "ROTATOR_METRICS", "ROTATOR_PG_CA_BUNDLE", "provided.al2023", "--source-account", "secretsmanager.amazonaws.com"} {
		if !bytes.Contains(readme, []byte(v)) {
			t.Errorf("README.md does not mention %s", v)
		}
	}
}
