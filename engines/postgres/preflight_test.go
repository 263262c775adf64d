package postgres

import (
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/pgtest"
)

// findCheck returns the check called name.
func findCheck(checks []PreflightCheck, name string) (PreflightCheck, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return PreflightCheck{}, false
}

// TestPostgresPreflightWrongPassword: after a login, preflight logs in once
// more with a random wrong password. A server whose pg_hba.conf trusts
// host connections lets it in, and preflight warns (the login proves
// nothing); a server that checks passwords gives no warning. Without a
// verified certificate the engine refuses a trust server outright (no
// authentication is not SCRAM), so the login itself fails.
func TestPostgresPreflightWrongPassword(t *testing.T) {
	trust := pgtest.Shared(t, pgtest.WithTLS(), pgtest.WithHostAuth("trust"))
	normal := pgtest.Shared(t, pgtest.WithTLS())
	cases := []struct {
		name      string
		s         *pgtest.Server
		who       string
		fields    map[string]any // nil: verify-full with the server's CA
		wantLogin PreflightStatus
		wantWarn  bool
	}{
		{name: "trust, verify-full", s: trust, wantLogin: PreflightPass, wantWarn: true},
		{name: "trust, master", s: trust, who: "master", wantLogin: PreflightPass, wantWarn: true},
		{name: "trust, require", s: trust, fields: map[string]any{"sslmode": "require"}, wantLogin: PreflightFail},
		{name: "scram, verify-full", s: normal, wantLogin: PreflightPass},
		{name: "scram, master", s: normal, who: "master", wantLogin: PreflightPass},
		{name: "scram, require", s: normal, fields: map[string]any{"sslmode": "require"}, wantLogin: PreflightPass},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newEngine(t)
			user, pw := pgtest.UniqueName("pf"), pgtest.RandomPassword(24)
			c.s.CreateRole(t, user, pw, "LOGIN")
			sec := c.s.Secret(user, pw)
			if c.fields != nil {
				sec = tlsSecret(t, c.s, user, pw, c.fields)
			}
			checks := e.PreflightConnection(ctxT(t), sec, c.who)
			for _, ch := range checks {
				t.Logf("%-22s %s  %s  %s", ch.Name, ch.Status, ch.Detail, ch.Fix)
				if strings.Contains(ch.Detail+ch.Fix, pw) {
					t.Fatal("a check holds the password")
				}
			}
			loginName, warnName := "login with AWSCURRENT", "password check"
			if c.who != "" {
				loginName, warnName = c.who+" login", c.who+" password check"
			}
			login, _ := findCheck(checks, loginName)
			if login.Status != c.wantLogin {
				t.Fatalf("%s: %s, want %s", loginName, login.Status, c.wantLogin)
			}
			warn, warned := findCheck(checks, warnName)
			if warned != c.wantWarn {
				t.Fatalf("%q present: %v, want %v", warnName, warned, c.wantWarn)
			}
			if warned && (warn.Status != PreflightWarn || !strings.Contains(warn.Detail, "random wrong password") || !strings.Contains(warn.Fix, "scram-sha-256")) {
				t.Fatalf("warning %+v", warn)
			}
			if c.wantLogin == PreflightFail && !strings.Contains(login.Detail, "no authentication") {
				t.Fatalf("the login failure does not say the server asked for no authentication: %s", login.Detail)
			}
		})
	}
}
