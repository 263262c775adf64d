package mysql

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMySQLShippedCABundle: the bundle next to bootstrap, then the layer's,
// makes verify-full the default; $ROTATOR_MYSQL_CA_BUNDLE wins; a file that
// holds no certificate fails start-up.
func TestMySQLShippedCABundle(t *testing.T) {
	ca := mustCA(t)
	tests := []struct {
		name               string
		task, layer, env   []byte // nil: no such file
		wantSource, errSub string
	}{
		{name: "none", wantSource: ""},
		{name: "in the zip", task: ca, wantSource: "shipped in the function's zip"},
		{name: "in a layer", layer: ca, wantSource: "from a layer"},
		{name: "the zip before the layer", task: ca, layer: []byte("junk"), wantSource: "shipped in the function's zip"},
		{name: "the variable wins", task: []byte("junk"), env: ca, wantSource: "$" + EnvCABundle},
		{name: "a shipped file without certificates", task: []byte("junk"), errSub: "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if b != nil {
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return p
			}
			write("task/"+CABundleFile, tt.task)
			old := layerCABundlePath
			layerCABundlePath = write("opt/rotator/"+CABundleFile, tt.layer)
			t.Cleanup(func() { layerCABundlePath = old })
			t.Setenv("LAMBDA_TASK_ROOT", filepath.Join(dir, "task"))
			t.Setenv(EnvCABundle, "")
			if tt.env != nil {
				t.Setenv(EnvCABundle, write("env.pem", tt.env))
			}
			e, err := NewFromEnv()
			if tt.errSub != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("want a configuration error %q, got %v", tt.errSub, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.cfg.TLS.BundleSource, tt.wantSource) || (tt.wantSource == "") != (e.cfg.TLS.Bundle == nil) {
				t.Fatalf("bundle from %q, want %q", e.cfg.TLS.BundleSource, tt.wantSource)
			}
			tg, err := e.parse(secretOf(t, map[string]any{"host": "h", "username": "u", "password": "p"}))
			if err != nil {
				t.Fatal(err)
			}
			want := SSLRequire
			if tt.wantSource != "" {
				want = SSLVerifyFull
			}
			if tg.tls.Mode != want {
				t.Fatalf("default mode %s, want %s", tg.tls.Mode, want)
			}
		})
	}
}
