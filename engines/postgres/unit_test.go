package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// Vectors computed independently (Python's hashlib.pbkdf2_hmac and hmac).
func TestPostgresVerifierVectors(t *testing.T) {
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = byte(i)
	}
	got, err := scramVerifier("pencil", salt)
	if err != nil {
		t.Fatal(err)
	}
	const want = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE="
	if got != want {
		t.Fatalf("scram verifier\n got %s\nwant %s", got, want)
	}
	if got := md5Verifier("user", "pencil"); got != "md520c46e3762c864548e296b33c3406aa9" {
		t.Fatalf("md5 verifier %s", got)
	}
	// Random salts: every verifier has the literal-safe shape.
	for range 50 {
		v, err := verifierFor("scram-sha-256", "u", pgtest.RandomPassword(30))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := passwordLiteral(v); err != nil {
			t.Fatalf("verifier %q rejected", v)
		}
	}
	if _, err := verifierFor("password", "u", "p"); err == nil {
		t.Fatal("plaintext password_encryption accepted")
	}
}

func TestPostgresPasswordLiteralRejectsAnythingElse(t *testing.T) {
	good := "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE="
	if lit, err := passwordLiteral(good); err != nil || lit != "'"+good+"'" {
		t.Fatalf("good verifier: %q %v", lit, err)
	}
	for _, bad := range []string{
		"",
		"secret",
		"md5' OR '1'='1",
		"md5" + strings.Repeat("A", 32), // uppercase hex
		strings.Replace(good, "AAEC", "AA'C", 1),
		strings.Replace(good, "AAEC", `AA\C`, 1),
		good + "'",
		good + "\n",
		strings.Replace(good, "4096", "1", 1),
	} {
		if _, err := passwordLiteral(bad); err == nil {
			t.Errorf("accepted %q", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error quotes the value: %v", err)
		}
	}
	if got := quoteLiteral(`it's \ odd`); got != `E'it''s \\ odd'` {
		t.Fatalf("quoteLiteral: %s", got)
	}
}

func TestPostgresNewPasswordChecks(t *testing.T) {
	if err := checkNewPassword(pgtest.RandomPassword(64)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "a\x00b", "pässword"} {
		var fe *rotator.FieldError
		if err := checkNewPassword(p); !errors.As(err, &fe) {
			t.Errorf("%q: %v", p, err)
		} else if p != "" && strings.Contains(err.Error(), p) {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

func TestPostgresSplitGUCList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`public`, []string{"public"}},
		{`"$user", public`, []string{"$user", "public"}},
		{`"My Schema", public, "a""b", "x,y"`, []string{"My Schema", "public", `a"b`, "x,y"}},
		{`""`, []string{""}},
		{`ISO, MDY`, []string{"ISO", "MDY"}},
	} {
		if got := splitGUCList(c.in); !slices.Equal(got, c.want) {
			t.Errorf("splitGUCList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := gucValue("search_path", `"$user", public`); got != `E'$user', E'public'` {
		t.Errorf("gucValue list: %s", got)
	}
	if got := gucValue("application_name", `a, b`); got != `E'a, b'` {
		t.Errorf("gucValue scalar: %s", got)
	}
	if got := gucName("myext.Setting"); got != `"myext"."Setting"` {
		t.Errorf("gucName: %s", got)
	}
}

func TestPostgresValidate(t *testing.T) {
	caPEM := string(pgtest.NewCAPEM(t))
	base := map[string]any{
		"engine": "postgres", "host": "db.example.com", "port": 5432,
		"username": "app", "password": "pw", "dbname": "app",
	}
	secret := func(over map[string]any) *rotator.Secret {
		return with(t, with(t, rotator.NewSecret(nil), base), over)
	}
	cases := []struct {
		name      string
		over      map[string]any
		want      error  // sentinel, nil for valid
		field     string // FieldError's field, when want is a field error
		inMessage string
		mode      string // resolved sslmode, for valid secrets
	}{
		{name: "rds secret", over: nil, mode: SSLRequire},
		{name: "engine postgresql", over: map[string]any{"engine": "postgresql"}, mode: SSLRequire},
		{name: "engine aurora-postgresql", over: map[string]any{"engine": "aurora-postgresql"}, mode: SSLRequire},
		{name: "no engine field", over: map[string]any{"engine": del}, mode: SSLRequire},
		{name: "mysql engine", over: map[string]any{"engine": "mysql"}, want: rotator.ErrWrongEngine, inMessage: `"mysql"`},
		{name: "engine not a string", over: map[string]any{"engine": 5}, want: rotator.ErrInvalidField, field: "engine"},
		{name: "port as string", over: map[string]any{"port": "6543"}, mode: SSLRequire},
		{name: "no port", over: map[string]any{"port": del}, mode: SSLRequire},
		{name: "port not a number", over: map[string]any{"port": "fivefour"}, want: rotator.ErrInvalidField, field: "port"},
		{name: "port out of range", over: map[string]any{"port": 70000}, want: rotator.ErrInvalidField, field: "port"},
		{name: "port zero", over: map[string]any{"port": 0}, want: rotator.ErrInvalidField, field: "port"},
		{name: "missing host", over: map[string]any{"host": del}, want: rotator.ErrMissingField, field: "host"},
		{name: "empty host", over: map[string]any{"host": ""}, want: rotator.ErrMissingField, field: "host"},
		{name: "two hosts", over: map[string]any{"host": "a,b"}, want: rotator.ErrInvalidField, field: "host"},
		{name: "unix socket", over: map[string]any{"host": "/var/run/postgresql"}, want: rotator.ErrInvalidField, field: "host"},
		{name: "missing username", over: map[string]any{"username": del}, want: rotator.ErrMissingField, field: "username"},
		{name: "username too long", over: map[string]any{"username": strings.Repeat("u", 64)}, want: rotator.ErrInvalidField, field: "username"},
		{name: "username 63 bytes", over: map[string]any{"username": strings.Repeat("u", 63)}, mode: SSLRequire},
		{name: "username with NUL", over: map[string]any{"username": "a\x00b"}, want: rotator.ErrInvalidField, field: "username"},
		{name: "missing password", over: map[string]any{"password": del}, want: rotator.ErrMissingField, field: "password"},
		{name: "password not a string", over: map[string]any{"password": 12}, want: rotator.ErrInvalidField, field: "password"},
		{name: "dbname not a string", over: map[string]any{"dbname": 1}, want: rotator.ErrInvalidField, field: "dbname"},
		{name: "no dbname", over: map[string]any{"dbname": del}, mode: SSLRequire},
		{name: "ssl true", over: map[string]any{"ssl": true}, mode: SSLVerifyFull},
		{name: "ssl false", over: map[string]any{"ssl": false}, mode: SSLDisable},
		{name: "ssl string true", over: map[string]any{"ssl": "true"}, mode: SSLVerifyFull},
		{name: "ssl junk", over: map[string]any{"ssl": "maybe"}, want: rotator.ErrInvalidField, field: "ssl"},
		{name: "sslmode verify-full", over: map[string]any{"sslmode": "verify-full"}, mode: SSLVerifyFull},
		{name: "sslmode upper case", over: map[string]any{"sslmode": "VERIFY-CA"}, mode: SSLVerifyCA},
		{name: "sslmode prefer", over: map[string]any{"sslmode": "prefer"}, mode: SSLPrefer},
		{name: "sslmode disable", over: map[string]any{"sslmode": "disable"}, mode: SSLDisable},
		{name: "sslmode allow unsupported", over: map[string]any{"sslmode": "allow"}, want: rotator.ErrInvalidField, field: "sslmode"},
		{name: "sslmode not a string", over: map[string]any{"sslmode": true}, want: rotator.ErrInvalidField, field: "sslmode"},
		{name: "ssl true and require agree", over: map[string]any{"ssl": true, "sslmode": "require"}, mode: SSLRequire},
		{name: "ssl false and disable agree", over: map[string]any{"ssl": false, "sslmode": "disable"}, mode: SSLDisable},
		{name: "ssl true but disable", over: map[string]any{"ssl": true, "sslmode": "disable"}, want: rotator.ErrInvalidField, field: "ssl"},
		{name: "ssl true but prefer", over: map[string]any{"ssl": true, "sslmode": "prefer"}, want: rotator.ErrInvalidField, field: "ssl"},
		{name: "ssl false but require", over: map[string]any{"ssl": false, "sslmode": "require"}, want: rotator.ErrInvalidField, field: "ssl"},
		{name: "root cert makes default verify-full", over: map[string]any{"sslrootcert": caPEM}, mode: SSLVerifyFull},
		{name: "root cert turns require into verify-ca", over: map[string]any{"sslmode": "require", "sslrootcert": caPEM}, mode: SSLVerifyCA},
		{name: "root cert system", over: map[string]any{"sslrootcert": "system"}, mode: SSLVerifyFull},
		{name: "root cert is a file name", over: map[string]any{"sslrootcert": "/etc/ssl/ca.pem"}, want: rotator.ErrInvalidField, field: "sslrootcert"},
	}
	e, _ := newEngine(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := secret(c.over)
			err := e.Validate(s)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				tg, err := e.parse(s)
				if err != nil {
					t.Fatal(err)
				}
				if tg.tls.Mode != c.mode {
					t.Fatalf("sslmode %s, want %s", tg.tls.Mode, c.mode)
				}
				return
			}
			wantErr(t, err, c.want)
			noSecrets(t, err, "pw")
			if c.field != "" {
				var fe *rotator.FieldError
				if !errors.As(err, &fe) || fe.Field != c.field {
					t.Fatalf("error %v is not a FieldError for %q", err, c.field)
				}
			}
			if c.inMessage != "" && !strings.Contains(err.Error(), c.inMessage) {
				t.Fatalf("error %q does not mention %s", err, c.inMessage)
			}
		})
	}
}

func TestPostgresEngineConfiguration(t *testing.T) {
	caPEM := pgtest.NewCAPEM(t)
	s := with(t, rotator.NewSecret(nil), map[string]any{"host": "h", "username": "u", "password": "p"})

	e, _ := newEngine(t, WithCABundle(caPEM))
	if tg, err := e.parse(s); err != nil || tg.tls.Mode != SSLVerifyFull || tg.tls.Roots == nil {
		t.Fatalf("CA bundle should make the default verify-full: %+v %v", tg, err)
	}
	e, _ = newEngine(t, WithDefaultSSLMode("disable"))
	if tg, err := e.parse(s); err != nil || tg.tls.Mode != SSLDisable {
		t.Fatalf("default mode: %+v %v", tg, err)
	}
	for _, bad := range []Option{WithCABundle([]byte("junk")), WithDefaultSSLMode("sometimes"), WithConnectTimeout(0), WithCABundleFile("/nonexistent/ca.pem")} {
		e, _ := newEngine(t, bad)
		wantErr(t, e.Validate(s), ErrConfig)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCABundle, path)
	t.Setenv(EnvSSLMode, "verify-ca")
	e = New()
	if tg, err := e.parse(s); err != nil || tg.tls.Mode != SSLVerifyCA || tg.tls.Roots == nil {
		t.Fatalf("environment: %+v %v", tg, err)
	}
	t.Setenv(EnvSSLMode, "bogus")
	wantErr(t, New().Validate(s), ErrConfig)
}
