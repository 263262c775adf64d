package stacks

import (
	"archive/zip"
	"os"
	"path/filepath"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// WritePlaceholderZips writes dir/<arch>/<function>.zip for every built-in
// function, each holding a bootstrap that is not a program: enough to
// synthesize and check the templates, never to deploy.
func WritePlaceholderZips(dir string) error {
	for _, arch := range []string{"arm64", "amd64"} {
		for _, f := range rotator.Functions() {
			if err := writePlaceholderZip(filepath.Join(dir, arch, f.Name+".zip")); err != nil {
				return err
			}
		}
	}
	return nil
}

func writePlaceholderZip(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	z := zip.NewWriter(f)
	w, err := z.Create("bootstrap")
	if err == nil {
		_, err = w.Write([]byte("placeholder written by WritePlaceholderZips: not a program\n"))
	}
	if err == nil {
		err = z.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
