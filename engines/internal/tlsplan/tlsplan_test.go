package tlsplan

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/dbrig"
	"github.com/rotatorkit/rotator/rotator"
)

func secret(t *testing.T, js string) *rotator.Secret {
	t.Helper()
	s, err := rotator.ParseSecret(js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func caPEM(t *testing.T) []byte {
	t.Helper()
	b, err := dbrig.NewCAPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlan(t *testing.T) {
	ca := caPEM(t)
	withBundle := Settings{EnvCABundle: "X_CA"}
	if err := withBundle.SetBundle(ca, "test"); err != nil {
		t.Fatal(err)
	}
	bindingNeedsBundle := withBundle
	bindingNeedsBundle.BindingNeedsBundle = true
	cases := []struct {
		name       string
		settings   Settings
		js         string
		mode       string
		rootsFrom  string
		binding    bool
		errField   string
		verifiedCA bool
	}{
		{name: "no fields, no bundle", js: `{}`, mode: Require, rootsFrom: "system roots"},
		{name: "no fields, bundle", settings: withBundle, js: `{}`, mode: VerifyFull, rootsFrom: "CA bundle from test"},
		{name: "default mode", settings: Settings{DefaultMode: Disable}, js: `{}`, mode: Disable},
		{name: "ssl true", js: `{"ssl": true}`, mode: VerifyFull},
		{name: "ssl false", settings: withBundle, js: `{"ssl": false}`, mode: Disable},
		{name: "ssl as a string", js: `{"ssl": "true"}`, mode: VerifyFull},
		{name: "sslmode", js: `{"sslmode": " Verify-CA "}`, mode: VerifyCA},
		{name: "require with a root verifies the chain", js: `{"sslmode": "require", "sslrootcert": ` + jsonString(string(ca)) + `}`, mode: VerifyCA, rootsFrom: `"sslrootcert"`},
		{name: "sslrootcert system", settings: withBundle, js: `{"sslrootcert": "system"}`, mode: VerifyFull, rootsFrom: "system roots"},
		{name: "disagreeing ssl", js: `{"ssl": true, "sslmode": "disable"}`, errField: FieldSSL},
		{name: "unknown mode", js: `{"sslmode": "allow"}`, errField: FieldSSLMode},
		{name: "sslmode not a string", js: `{"sslmode": 1}`, errField: FieldSSLMode},
		{name: "sslrootcert a file name", js: `{"sslrootcert": "/etc/ca.pem"}`, errField: FieldSSLRootCert},
		{name: "channel binding odd", js: `{"channel_binding": "maybe"}`, errField: FieldChannelBinding},
		{name: "channel binding recorded", js: `{"channel_binding": "require", "sslmode": "require"}`, mode: Require, binding: true},
		{name: "channel binding without channel binding: bundle only", settings: bindingNeedsBundle, js: `{"channel_binding": "require", "sslmode": "disable", "sslrootcert": "system"}`, mode: VerifyFull, rootsFrom: "function's CA bundle from test", binding: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.settings.Plan(secret(t, c.js))
			if c.errField != "" {
				var fe *rotator.FieldError
				if !errors.As(err, &fe) || fe.Field != c.errField || !errors.Is(err, rotator.ErrInvalidField) {
					t.Fatalf("error %v, want a field error naming %q", err, c.errField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != c.mode || p.RequireBinding != c.binding || !strings.Contains(p.RootsFrom, c.rootsFrom) || p.Source == "" {
				t.Fatalf("plan %+v, want mode %s, roots from %q, binding %v", p, c.mode, c.rootsFrom, c.binding)
			}
			if p.Verified() != (c.mode == VerifyCA || c.mode == VerifyFull) {
				t.Fatalf("Verified() %v for %s", p.Verified(), p.Mode)
			}
		})
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestSettingsConfiguration(t *testing.T) {
	var s Settings
	if err := s.SetBundle([]byte("not pem"), "here"); err == nil || !strings.Contains(err.Error(), "here") {
		t.Fatalf("SetBundle(not pem): %v", err)
	}
	if err := s.SetDefaultMode("sometimes"); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Fatalf("SetDefaultMode: %v", err)
	}
	if err := s.SetDefaultMode(" VERIFY-FULL"); err != nil || s.DefaultMode != VerifyFull {
		t.Fatalf("SetDefaultMode: %v, %q", err, s.DefaultMode)
	}
	t.Setenv("X_CA", filepath.Join(t.TempDir(), "missing.pem"))
	t.Setenv("X_MODE", "bogus")
	s = Settings{EnvCABundle: "X_CA"}
	err := s.FromEnv("X_MODE")
	if err == nil || !strings.Contains(err.Error(), "$X_CA") || !strings.Contains(err.Error(), "$X_MODE") {
		t.Fatalf("FromEnv: %v, want both variables named", err)
	}
}

func TestLoadShipped(t *testing.T) {
	ca := caPEM(t)
	root := t.TempDir()
	layer := filepath.Join(t.TempDir(), CABundleFile)
	t.Setenv("LAMBDA_TASK_ROOT", root)
	t.Setenv("X_CA", "")

	s := Settings{EnvCABundle: "X_CA"}
	if err := s.LoadShipped(layer); err != nil || s.Bundle != nil {
		t.Fatalf("nothing shipped: %v, bundle %v", err, s.Bundle != nil)
	}
	if err := os.WriteFile(layer, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadShipped(layer); err != nil || !strings.Contains(s.BundleSource, "from a layer") {
		t.Fatalf("layer: %v, source %q", err, s.BundleSource)
	}
	// The zip's bundle comes first.
	s = Settings{EnvCABundle: "X_CA"}
	if err := os.WriteFile(filepath.Join(root, CABundleFile), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadShipped(layer); err != nil || !strings.Contains(s.BundleSource, "function's zip") {
		t.Fatalf("zip: %v, source %q", err, s.BundleSource)
	}
	// One that holds no certificate is an error, not silently skipped.
	s = Settings{EnvCABundle: "X_CA"}
	if err := os.WriteFile(filepath.Join(root, CABundleFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadShipped(layer); err == nil {
		t.Fatal("a shipped bundle without certificates was accepted")
	}
}

// A handshake against a real TLS listener: verify-full passes with the
// right CA and the right name, and fails, described, otherwise.
func TestClientConfigAndDiagnose(t *testing.T) {
	b, err := dbrig.NewServerCert([]string{"db.example", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(b.CertPEM, b.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ca := b.CAPEM
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	s := Settings{EnvCABundle: "X_CA"}
	if err := s.SetBundle(ca, "test"); err != nil {
		t.Fatal(err)
	}
	dial := func(p Plan, host string) (tls.ConnectionState, error) {
		c, err := tls.Dial("tcp", ln.Addr().String(), p.ClientConfig(host))
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer c.Close()
		return c.ConnectionState(), nil
	}
	full, _ := s.Plan(secret(t, `{"sslmode": "verify-full"}`))
	cs, err := dial(full, "db.example")
	if err != nil {
		t.Fatalf("verify-full with the right name: %v", err)
	}
	if d := full.Describe(cs, time.Now()); !strings.Contains(d, "host name verified against the CA bundle from test") || !strings.Contains(d, "db.example") {
		t.Fatalf("Describe: %s", d)
	}
	_, err = dial(full, "other.example")
	if detail, ok := CertFailure(err); !ok || !strings.Contains(detail, "other.example") {
		t.Fatalf("wrong name: %v (%q, %v)", err, detail, ok)
	}
	if reason, fix := s.Diagnose(full, "other.example", err, "server fix"); !strings.Contains(reason, "does not name") || strings.Contains(fix, "server fix") {
		t.Fatalf("Diagnose: %q / %q", reason, fix)
	}
	ca2 := Settings{}
	if err := ca2.SetBundle(caPEM(t), "another CA"); err != nil {
		t.Fatal(err)
	}
	vca, _ := ca2.Plan(secret(t, `{"sslmode": "verify-ca"}`))
	_, err = dial(vca, "db.example")
	if _, ok := CertFailure(err); !ok {
		t.Fatalf("verify-ca against another CA: %v", err)
	}
	if reason, fix := s.Diagnose(vca, "db.example", err, ""); !strings.Contains(reason, "unknown authority") && !strings.Contains(reason, "verification failed") || !strings.Contains(fix, "X_CA") {
		t.Fatalf("Diagnose: %q / %q", reason, fix)
	}
	// verify-ca skips the name only.
	vcaRight, _ := s.Plan(secret(t, `{"sslmode": "verify-ca"}`))
	if _, err := dial(vcaRight, "wrong.example"); err != nil {
		t.Fatalf("verify-ca with a name the certificate lacks: %v", err)
	}
	req, _ := s.Plan(secret(t, `{"sslmode": "require"}`))
	if _, err := dial(req, "127.0.0.1"); err != nil {
		t.Fatalf("require: %v", err)
	}
	if p, _ := s.Plan(secret(t, `{"sslmode": "disable"}`)); p.ClientConfig("x") != nil {
		t.Fatal("disable has a TLS configuration")
	}
	if SNIName("10.0.0.1") != "" || SNIName("db.example") != "db.example" {
		t.Fatal("SNIName sends addresses")
	}
}
