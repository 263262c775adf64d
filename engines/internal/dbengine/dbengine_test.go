package dbengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
	"github.com/rotatorkit/rotator/rotator"
)

var errTestConfig = errors.New("invalid test engine configuration")

func TestErrorText(t *testing.T) {
	tests := []struct {
		name, user, host string
		port             int
		code, want       string
	}{
		{"all", "app", "db.example", 3306, "error 1045", `mysql: login as "app" on db.example:3306: denied (error 1045)`},
		{"ipv6", "", "::1", 5432, "", "mysql: login on [::1]:5432: denied"},
		{"none", "", "", 0, "", "mysql: login: denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorText("mysql", "login", tt.user, tt.host, tt.port, "denied", tt.code); got != tt.want {
				t.Fatalf("ErrorText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnwrap(t *testing.T) {
	cause := errors.New("cause")
	got := Unwrap([]error{rotator.ErrUnreachable}, cause)
	if len(got) != 2 || got[0] != rotator.ErrUnreachable || got[1] != cause {
		t.Fatalf("Unwrap = %v", got)
	}
	if got := Unwrap([]error{rotator.ErrLoginFailed}, nil); len(got) != 1 {
		t.Fatalf("Unwrap without cause = %v", got)
	}
}

func TestConfig(t *testing.T) {
	t.Setenv("TEST_CA", "")
	t.Setenv("TEST_SSLMODE", "")
	t.Setenv("TEST_BOOL", "true")
	c := NewConfig(errTestConfig, tlsplan.Settings{EnvCABundle: "TEST_CA"}, "TEST_SSLMODE", 5*time.Second)
	var b bool
	c.EnvBool("TEST_BOOL", &b)
	if c.Err != nil || !b || c.ConnectTimeout != 5*time.Second {
		t.Fatalf("config = %+v, bool %v", c, b)
	}
	c.SetConnectTimeout(time.Second)
	if c.ConnectTimeout != time.Second || c.Err != nil {
		t.Fatalf("SetConnectTimeout(1s): %v, %v", c.ConnectTimeout, c.Err)
	}
	c.SetConnectTimeout(0)
	if !errors.Is(c.Err, errTestConfig) || c.ConnectTimeout != time.Second {
		t.Fatalf("SetConnectTimeout(0): %v, %v", c.ConnectTimeout, c.Err)
	}

	t.Setenv("TEST_BOOL", "maybe")
	c = NewConfig(errTestConfig, tlsplan.Settings{EnvCABundle: "TEST_CA"}, "TEST_SSLMODE", time.Second)
	c.EnvBool("TEST_BOOL", &b)
	if !errors.Is(c.Err, errTestConfig) || !strings.Contains(c.Err.Error(), "$TEST_BOOL") {
		t.Fatalf("EnvBool(maybe): %v", c.Err)
	}
	if e, err := Ready(&struct{}{}, c.Err); e != nil || err != c.Err {
		t.Fatalf("Ready with an error = %v, %v", e, err)
	}

	t.Setenv("TEST_SSLMODE", "bogus")
	c = NewConfig(errTestConfig, tlsplan.Settings{EnvCABundle: "TEST_CA"}, "TEST_SSLMODE", time.Second)
	if !errors.Is(c.Err, errTestConfig) || !strings.Contains(c.Err.Error(), "bogus") {
		t.Fatalf("unknown sslmode: %v", c.Err)
	}
}

func TestLogger(t *testing.T) {
	var c Config
	own := slog.New(slog.DiscardHandler)
	c.SetLogger(own)
	c.SetLogger(nil)
	if c.Logger(context.Background()) != own {
		t.Fatal("outside a step, Logger is not the engine's own logger")
	}
}

func TestChecks(t *testing.T) {
	for _, tt := range []struct {
		got  rotator.Check
		want rotator.CheckStatus
	}{{Pass("a", "d"), rotator.CheckPass}, {Fail("a", "d", "fix"), rotator.CheckFail}, {Skip("a", "d"), rotator.CheckSkip}} {
		if tt.got.Status != tt.want || tt.got.Name != "a" || tt.got.Detail != "d" {
			t.Errorf("check %+v, want status %v", tt.got, tt.want)
		}
	}
	if Fail("a", "d", "fix").Fix != "fix" {
		t.Error("Fail drops the fix")
	}
}

func TestCheckTemplate(t *testing.T) {
	errName := errors.New("bad name")
	errPassword := errors.New("bad password")
	n := Names{
		Check: func(field, name string) error {
			if name == "bad" {
				return fmt.Errorf("%s: %w", field, errName)
			}
			return nil
		},
		NewPassword: func(pw string) error {
			if pw == "" {
				return errPassword
			}
			return nil
		},
		Quote: func(s string) string { return "`" + s + "`" },
		Noun:  "user",
	}
	invalid := func(reason string) error { return errors.New("invalid: " + reason) }
	tests := []struct {
		name string
		req  rotator.EnsureUserRequest
		want string // "": nil
	}{
		{"no template", rotator.EnsureUserRequest{Username: "app"}, ""},
		{"clone", rotator.EnsureUserRequest{Username: "app_clone", Template: "app", Password: "pw"}, ""},
		{"bad template", rotator.EnsureUserRequest{Username: "app", Template: "bad", Password: "pw"}, "template: bad name"},
		{"same", rotator.EnsureUserRequest{Username: "app", Template: "app", Password: "pw"}, "invalid: the user and its template are the same user `app`"},
		{"master", rotator.EnsureUserRequest{Username: "admin", Template: "app", Password: "pw"}, "invalid: the user to clone into is the master user itself"},
		{"password", rotator.EnsureUserRequest{Username: "app_clone", Template: "app"}, "bad password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.CheckTemplate(tt.req, "admin", invalid)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("CheckTemplate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAuthRefusal(t *testing.T) {
	errMethod := errors.New("authentication method refused")
	var err error = &AuthRefusal{Method: "md5 password authentication", OptIn: "X", Kind: errMethod}
	if !errors.Is(err, errMethod) || err.Error() != "refused before sending any credential: the server asked for md5 password authentication" {
		t.Fatalf("AuthRefusal: %v (Is %v)", err, errors.Is(err, errMethod))
	}
}

func TestCheckNamer(t *testing.T) {
	for _, tt := range []struct{ who, name, login string }{
		{"", "TCP connect", "login with AWSCURRENT"},
		{"master", "master TCP connect", "master login"},
	} {
		if got := CheckNamer(tt.who).Name("TCP connect"); got != tt.name {
			t.Errorf("Name(%q) = %q, want %q", tt.who, got, tt.name)
		}
		if got := CheckNamer(tt.who).Login(); got != tt.login {
			t.Errorf("Login(%q) = %q, want %q", tt.who, got, tt.login)
		}
	}
}
