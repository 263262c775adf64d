package lambdabuild

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Flags are the go build flags of a bootstrap. The Makefile's
// GOFLAGS_BUILD says the same (a test checks).
var Flags = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

// Arches are the Lambda architectures `make build` builds for.
var Arches = []string{"arm64", "amd64"}

// BootstrapName is the executable a provided.al2023 function runs.
const BootstrapName = "bootstrap"

// ZipTime is the modification time of every entry of a zip: fixed, so
// that a zip's bytes depend only on its contents.
var ZipTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// HostArch is the GOARCH of this machine, the one a bootstrap must be
// built for to run here.
func HostArch() string { return runtime.GOARCH }

// ModuleRoot returns the directory of the main module's go.mod, found from
// the current directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("lambdabuild: no go.mod above the current directory")
		}
		dir = parent
	}
}

// Functions lists the functions under root/functions: the directories
// that hold a main.go, by name, sorted.
func Functions(root string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("lambdabuild: no functions/*/main.go under %s", root)
	}
	return names, nil
}

// Env is the environment of a bootstrap build for goarch: the caller's,
// with CGO off, GOOS linux, GOARCH goarch, and GOFLAGS cleared so that
// nothing outside Flags changes the output.
func Env(goarch string) []string {
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CGO_ENABLED", "GOOS", "GOARCH", "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=")
}

// Build builds the function called name (functions/<name>) of the module
// at root for goarch into out (the bootstrap's path).
func Build(ctx context.Context, root, name, goarch, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, "./functions/"+name)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	cmd.Env = Env(goarch)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lambdabuild: go %s (GOARCH=%s): %v\n%s", strings.Join(args, " "), goarch, err, stderr.String())
	}
	return nil
}

// File is an entry of a zip.
type File struct {
	// Name is the path inside the zip.
	Name string
	// Mode is the entry's Unix permission bits (0755 for a bootstrap).
	Mode os.FileMode
	// Data is the content.
	Data []byte
}

// WriteZip writes files as a zip to w, deflated, sorted by name, each with
// ZipTime and its mode: the same files always give the same bytes.
func WriteZip(w io.Writer, files []File) error {
	files = append([]File(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	zw := zip.NewWriter(w)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: ZipTime}
		h.SetMode(f.Mode.Perm())
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// CABundleName is the name of the CA bundle in a zip, next to bootstrap:
// engines/postgres reads it from $LAMBDA_TASK_ROOT (postgres.CABundleFile,
// a test keeps the two equal).
const CABundleName = "rds-ca-bundle.pem"

// ZipBootstrap writes the zip Lambda takes for a provided.al2023 function:
// one entry, "bootstrap", mode 0755, with the content of the file at
// bootstrap.
func ZipBootstrap(zipPath, bootstrap string) error {
	return ZipFunction(zipPath, bootstrap, "")
}

// ZipFunction is ZipBootstrap with, when caBundle is not "", the PEM file
// at caBundle as a second entry, CABundleName, mode 0644: the CA bundle
// (AWS's RDS bundle) the function then verifies database servers against
// by default. A file without a PEM certificate is refused, so that a wrong
// path fails the build rather than the first rotation.
func ZipFunction(zipPath, bootstrap, caBundle string) error {
	data, err := os.ReadFile(bootstrap)
	if err != nil {
		return err
	}
	files := []File{{Name: BootstrapName, Mode: 0o755, Data: data}}
	if caBundle != "" {
		pemData, err := os.ReadFile(caBundle)
		if err != nil {
			return fmt.Errorf("lambdabuild: CA bundle: %w", err)
		}
		if !holdsCertificate(pemData) {
			return fmt.Errorf("lambdabuild: CA bundle %s holds no PEM certificate", caBundle)
		}
		files = append(files, File{Name: CABundleName, Mode: 0o644, Data: pemData})
	}
	var buf bytes.Buffer
	if err := WriteZip(&buf, files); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		return err
	}
	tmp := zipPath + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, zipPath)
}

// holdsCertificate: data holds at least one parseable PEM certificate.
func holdsCertificate(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(b.Bytes); err == nil {
				return true
			}
		}
	}
}

// BuildAndZip builds the function for goarch into
// dir/<goarch>/<name>/bootstrap and zips it to dir/<goarch>/<name>.zip,
// the layout of dist/. It returns the bootstrap's path.
func BuildAndZip(ctx context.Context, root, name, goarch, dir string) (string, error) {
	bin := filepath.Join(dir, goarch, name, BootstrapName)
	if err := Build(ctx, root, name, goarch, bin); err != nil {
		return "", err
	}
	if err := ZipBootstrap(filepath.Join(dir, goarch, name+".zip"), bin); err != nil {
		return "", err
	}
	return bin, nil
}
