package strategies

import (
	"context"

	"github.com/rotatorkit/rotator/rotator"
)

// ConnectionPreflighter is the part of an engine that checks a secret's
// connection the way a rotation will use it (fields, DNS, TCP, TLS, login),
// changing nothing. who prefixes the check names ("master"; "" for the
// rotated secret). The login check is named LoginCheck(who).
type ConnectionPreflighter interface {
	PreflightConnection(ctx context.Context, s *rotator.Secret, who string) []rotator.Check
}

// LoginCheck is the name of the login check of ConnectionPreflighter for
// who: "login with AWSCURRENT", or "master login".
func LoginCheck(who string) string {
	if who == "" {
		return "login with AWSCURRENT"
	}
	return who + " login"
}

// PreflightConnection runs the engine's connection checks, or, for an
// engine without them, the two every Checker allows: the fields and a
// login.
func PreflightConnection(ctx context.Context, e Checker, s *rotator.Secret, who string) []rotator.Check {
	if p, ok := e.(ConnectionPreflighter); ok {
		return p.PreflightConnection(ctx, s, who)
	}
	fields := "secret fields"
	if who != "" {
		fields = who + " secret fields"
	}
	if err := e.Validate(s); err != nil {
		return []rotator.Check{
			{Name: fields, Status: rotator.CheckFail, Detail: err.Error(), Fix: "correct the field the message names"},
			{Name: LoginCheck(who), Status: rotator.CheckSkip, Detail: "the secret's fields are invalid"},
		}
	}
	out := []rotator.Check{{Name: fields, Status: rotator.CheckPass, Detail: "valid"}}
	if err := e.Login(ctx, s); err != nil {
		return append(out, rotator.Check{Name: LoginCheck(who), Status: rotator.CheckFail, Detail: err.Error(), Fix: "check the host, the port and the credentials"})
	}
	return append(out, rotator.Check{Name: LoginCheck(who), Status: rotator.CheckPass, Detail: "logged in"})
}

// Passed reports whether the check called name is in checks and passed.
func Passed(checks []rotator.Check, name string) bool {
	for _, c := range checks {
		if c.Name == name {
			return c.Status == rotator.CheckPass
		}
	}
	return false
}
