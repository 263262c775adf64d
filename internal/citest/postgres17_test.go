package citest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// .ci/test-postgres17 fails when PostgreSQL 17 cannot be installed and the
// database tests are required, and only warns otherwise; when it can, it
// runs make test-postgres with that bin directory.
func TestPostgres17Script(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	failing := filepath.Join(dir, "fail.sh")
	working := filepath.Join(dir, "ok.sh")
	fakeMake := filepath.Join(dir, "make.sh")
	mustWrite(t, failing, "echo 'no registry' >&2; exit 1\n")
	mustWrite(t, working, "echo /opt/pg17/bin\n")
	mustWrite(t, fakeMake, "echo \"make $* with $ROTATOR_TEST_POSTGRES_BINDIR\"\n")
	tests := []struct {
		name      string
		installer string
		require   string
		wantOK    bool
		want      string
	}{
		{"required and not installable", failing, "1", false, "ROTATOR_REQUIRE_DB=1 makes that a failure"},
		{"not required and not installable", failing, "", true, "could not be installed"},
		{"installable", working, "1", true, "make test-postgres with /opt/pg17/bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join(root, ".ci", "test-postgres17"))
			cmd.Env = append(os.Environ(), "POSTGRES17_INSTALLER="+tt.installer, "ROTATOR_REQUIRE_DB="+tt.require, "MAKE=bash "+fakeMake)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, want success %v\n%s", err, tt.wantOK, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

func mustWrite(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}
