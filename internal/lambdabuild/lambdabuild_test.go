package lambdabuild

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
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
	for _, v := range []string{"SECRETS_MANAGER_ENDPOINT", "PASSWORD_SOURCE", "ROTATOR_DRY_RUN", "ROTATOR_LOG_LEVEL", "ROTATOR_METRICS", "ROTATOR_PG_CA_BUNDLE", "ROTATOR_PG_ALLOW_MD5", "ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD", "CA_BUNDLE=", "rds-ca-bundle.pem", "/opt/rotator/rds-ca-bundle.pem", "provided.al2023", "--source-account", "secretsmanager.amazonaws.com"} {
		if !bytes.Contains(readme, []byte(v)) {
			t.Errorf("README.md does not mention %s", v)
		}
	}
}

// testCAPEM is a self-signed CA certificate made for the test (never a
// real trust anchor).
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lambdabuild test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// zipEntries returns a zip's entries: name -> mode and content.
func zipEntries(t *testing.T, data []byte) map[string]struct {
	mode os.FileMode
	data []byte
} {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		mode os.FileMode
		data []byte
	}{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !f.Modified.Equal(ZipTime) {
			t.Errorf("%s modified %v", f.Name, f.Modified)
		}
		out[f.Name] = struct {
			mode os.FileMode
			data []byte
		}{f.Mode().Perm(), b}
	}
	return out
}

func TestZipFunctionWithCABundle(t *testing.T) {
	dir := t.TempDir()
	bin, ca, notPEM := filepath.Join(dir, "bootstrap"), filepath.Join(dir, "global-bundle.pem"), filepath.Join(dir, "oops.txt")
	caPEM := append(testCAPEM(t), testCAPEM(t)...)
	for p, data := range map[string][]byte{bin: []byte("\x7fELF"), ca: caPEM, notPEM: []byte("<html>not found</html>")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	if err := ZipFunction(a, bin, ca); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(ca, ZipTime.AddDate(40, 0, 0), ZipTime.AddDate(40, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := ZipFunction(b, bin, ca); err != nil {
		t.Fatal(err)
	}
	za, _ := os.ReadFile(a)
	zb, _ := os.ReadFile(b)
	if !bytes.Equal(za, zb) {
		t.Fatal("two zips of the same files differ")
	}
	got := zipEntries(t, za)
	if len(got) != 2 || got[BootstrapName].mode != 0o755 || got[CABundleName].mode != 0o644 || !bytes.Equal(got[CABundleName].data, caPEM) {
		t.Fatalf("entries %v", got)
	}
	if err := ZipFunction(filepath.Join(dir, "c.zip"), bin, notPEM); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a bundle without certificates: %v", err)
	}
	if err := ZipFunction(filepath.Join(dir, "d.zip"), bin, filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing bundle was accepted")
	}
}

// TestMakeBuildCABundle runs the Makefile's build recipe with a stand-in
// for the go command (build writes a small bootstrap; run runs the real
// mkzip): with CA_BUNDLE each zip holds rds-ca-bundle.pem next to bootstrap,
// the same bytes on every run; without, bootstrap alone.
func TestMakeBuildCABundle(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mkzip := filepath.Join(dir, "mkzip")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-o", mkzip, "./internal/tools/mkzip")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building mkzip: %v\n%s", err, out)
	}
	fakeGo := filepath.Join(dir, "fakego")
	script := `#!/bin/sh
case "$1" in
build) while [ $# -gt 0 ]; do if [ "$1" = -o ]; then mkdir -p "$(dirname "$2")"; printf 'bootstrap of %s\n' "$2" > "$2"; fi; shift; done ;;
run) shift 2; exec "$MKZIP" "$@" ;;
*) exit 3 ;;
esac
`
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "global bundle.pem") // a space, as paths have
	caPEM := testCAPEM(t)
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(work string, vars ...string) map[string][]byte {
		t.Helper()
		// A copy of the Makefile with two functions, so dist/ lands here.
		for _, f := range []string{"one", "two"} {
			if err := os.MkdirAll(filepath.Join(work, "functions", f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(work, "functions", f, "main.go"), []byte("package main\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "Makefile"), mk, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(makeBin, append([]string{"-s", "build-amd64", "GO=" + fakeGo}, vars...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "MKZIP="+mkzip)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %v: %v\n%s", vars, err, out)
		}
		zips := map[string][]byte{}
		for _, f := range []string{"one", "two"} {
			b, err := os.ReadFile(filepath.Join(work, "dist", "amd64", f+".zip"))
			if err != nil {
				t.Fatal(err)
			}
			zips[f] = b
		}
		return zips
	}
	first := build(filepath.Join(dir, "w1"), "CA_BUNDLE="+ca)
	second := build(filepath.Join(dir, "w2"), "CA_BUNDLE="+ca)
	for f, z := range first {
		got := zipEntries(t, z)
		if len(got) != 2 || !bytes.Equal(got[CABundleName].data, caPEM) || got[CABundleName].mode != 0o644 || got[BootstrapName].mode != 0o755 {
			t.Errorf("%s.zip with CA_BUNDLE: entries %v", f, got)
		}
		if !bytes.Contains(got[BootstrapName].data, []byte("dist/amd64/"+f+"/bootstrap")) {
			t.Errorf("%s.zip holds another function's bootstrap", f)
		}
		if !bytes.Equal(z, second[f]) {
			t.Errorf("%s.zip differs between two builds", f)
		}
	}
	for f, z := range build(filepath.Join(dir, "w3")) {
		if got := zipEntries(t, z); len(got) != 1 {
			t.Errorf("%s.zip without CA_BUNDLE: entries %v", f, got)
		}
	}
}
