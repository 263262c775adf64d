package dbengine

import "github.com/rotatorkit/rotator/rotator"

// Pass is a passed preflight check.
func Pass(name, detail string) rotator.Check {
	return rotator.Check{Name: name, Status: rotator.CheckPass, Detail: detail}
}

// Fail is a failed preflight check, with what to do about it.
func Fail(name, detail, fix string) rotator.Check {
	return rotator.Check{Name: name, Status: rotator.CheckFail, Detail: detail, Fix: fix}
}

// Skip is a preflight check that does not apply, or could not run.
func Skip(name, detail string) rotator.Check {
	return rotator.Check{Name: name, Status: rotator.CheckSkip, Detail: detail}
}

// CheckNamer names the checks of a PreflightConnection: who prefixes them
// ("master" for a master secret; "" for the rotated secret).
type CheckNamer string

// Name is check n's name.
func (who CheckNamer) Name(n string) string {
	if who == "" {
		return n
	}
	return string(who) + " " + n
}

// Login is the login check's name: "login with AWSCURRENT" for the
// rotated secret.
func (who CheckNamer) Login() string {
	if who == "" {
		return "login with AWSCURRENT"
	}
	return who.Name("login")
}
