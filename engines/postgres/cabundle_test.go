package postgres

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/lambdabuild"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestPostgresShippedCABundle: with no $ROTATOR_PG_CA_BUNDLE, the engine
// reads the CA bundle shipped with the function ($LAMBDA_TASK_ROOT/
// rds-ca-bundle.pem, then the layer's /opt/rotator/rds-ca-bundle.pem), and
// a secret without TLS fields is then verified (verify-full) against it.
// The CAs are made by the test: the right one logs in, a wrong one fails
// verification, which proves the file is what the engine trusts.
func TestPostgresShippedCABundle(t *testing.T) {
	s := pgtest.Shared(t, pgtest.WithTLS())
	ctx := ctxT(t)
	user, pw := pgtest.UniqueName("bundle"), pgtest.RandomPassword(24)
	s.CreateRole(t, user, pw, "LOGIN")
	sec := tlsSecret(t, s, user, pw, nil) // no TLS fields at all
	right, wrong := s.CAPEM, pgtest.NewCAPEM(t)

	write := func(t *testing.T, path string, pem []byte) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pem, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := []struct {
		name      string
		taskRoot  []byte // the bundle in $LAMBDA_TASK_ROOT (nil: none)
		layer     []byte // the bundle in the layer (nil: none)
		env       []byte // the file named by $ROTATOR_PG_CA_BUNDLE (nil: unset)
		opts      []Option
		wantMode  string
		wantFrom  string // in the trust description
		wantLogin []error
	}{
		{name: "none shipped", wantMode: SSLRequire},
		{name: "in the zip", taskRoot: right, wantMode: SSLVerifyFull, wantFrom: "shipped in the function's zip"},
		{name: "in the zip, the wrong CA", taskRoot: wrong, wantMode: SSLVerifyFull, wantLogin: []error{ErrCertificate, rotator.ErrUnreachable}},
		{name: "in a layer", layer: right, wantMode: SSLVerifyFull, wantFrom: "from a layer"},
		{name: "in a layer, the wrong CA", layer: wrong, wantMode: SSLVerifyFull, wantLogin: []error{ErrCertificate}},
		{name: "the zip before the layer", taskRoot: right, layer: wrong, wantMode: SSLVerifyFull, wantFrom: "zip"},
		{name: "the environment before both", env: right, taskRoot: wrong, layer: wrong, wantMode: SSLVerifyFull, wantFrom: "$" + EnvCABundle},
		{name: "an option before both", opts: []Option{WithCABundle(right)}, taskRoot: wrong, layer: wrong, wantMode: SSLVerifyFull, wantFrom: "WithCABundle"},
		{name: "the default sslmode still wins", opts: []Option{WithDefaultSSLMode(SSLRequire)}, taskRoot: wrong, wantMode: SSLRequire},
		{name: "a file without certificates", taskRoot: []byte("not PEM"), wantLogin: []error{ErrConfig}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			newEngine(t) // clears the environment and the layer path
			dir := t.TempDir()
			if c.taskRoot != nil {
				write(t, filepath.Join(dir, "task", CABundleFile), c.taskRoot)
				t.Setenv("LAMBDA_TASK_ROOT", filepath.Join(dir, "task"))
			}
			if c.layer != nil {
				layerCABundlePath = write(t, filepath.Join(dir, "opt", "rotator", CABundleFile), c.layer)
			}
			if c.env != nil {
				t.Setenv(EnvCABundle, write(t, filepath.Join(dir, "env.pem"), c.env))
			}
			e := New(c.opts...)
			err := e.Login(ctx, sec)
			wantErr(t, err, c.wantLogin...)
			if err != nil {
				t.Logf("error: %v", err)
			}
			if c.wantMode == "" {
				return
			}
			tg, err := e.parse(sec)
			if err != nil {
				t.Fatal(err)
			}
			if tg.tls.Mode != c.wantMode || !strings.Contains(tg.tls.RootsFrom, c.wantFrom) {
				t.Fatalf("sslmode %s trusting %s; want %s from %q", tg.tls.Mode, tg.tls.RootsFrom, c.wantMode, c.wantFrom)
			}
		})
	}
}

// `make build CA_BUNDLE=...` names the file in the zip as the engine looks
// for it.
func TestShippedCABundleNameMatchesTheBuild(t *testing.T) {
	if CABundleFile != lambdabuild.CABundleName {
		t.Fatalf("the engine reads %s, the build writes %s", CABundleFile, lambdabuild.CABundleName)
	}
}
