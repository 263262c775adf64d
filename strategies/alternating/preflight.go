package alternating

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies"
)

// MasterPreflighter is implemented by engines that can check, as the
// master, the privileges an alternating-users rotation needs (creating the
// clone, setting both users' passwords).
type MasterPreflighter interface {
	PreflightMaster(ctx context.Context, req rotator.PreflightMasterRequest) []rotator.Check
}

var _ rotator.Preflighter = (*Strategy)(nil)

// Preflight checks, changing nothing, what a rotation of in.Current would
// do and need, with the same functions the rotation uses: the current
// secret's connection and login, the second user, "masterarn" and the
// master secret (readable, not the secret itself nor an application's, for
// the same server), the master's login, the engine's guard on the second
// user, and the master's privileges.
func (s *Strategy) Preflight(ctx context.Context, in rotator.PreflightInput) []rotator.Check {
	checks := strategies.PreflightConnection(ctx, s.engine, in.Current, "")
	fieldsOK := strategies.Passed(checks, "secret fields")
	check := func(name string, st rotator.CheckStatus, detail, fix string) {
		checks = append(checks, rotator.Check{Name: name, Status: st, Detail: detail, Fix: fix})
	}

	arn, err := in.Current.Require(rotator.FieldMasterARN)
	if err != nil {
		check("field masterarn", rotator.CheckFail, err.Error(),
			"add \"masterarn\": the ARN of the secret holding the master (admin) user's credentials, which creates the second user and sets passwords")
		check("master secret", rotator.CheckSkip, "no \"masterarn\"", "")
		return checks
	}
	plan, planErr := s.Plan(in.Current)
	switch {
	case planErr != nil && (fieldsOK || !isFieldError(planErr)):
		check("second user", rotator.CheckFail, planErr.Error(), "correct \"username\" / \"alternateusername\" in the secret")
	case planErr == nil:
		detail := fmt.Sprintf("next rotation: %q gets a new password and becomes current", plan.Next)
		if plan.Clone && plan.Next != plan.Base {
			detail += fmt.Sprintf(" (a clone of %q)", plan.Base)
		}
		check("second user", rotator.CheckPass, detail, "")
	}
	if planErr != nil {
		// The master checks below still run, with the users known so far.
		plan = Plan{Current: in.Current.Username(), MasterARN: arn}
	}
	const selfFix = "set \"masterarn\" to the ARN of the master secret (the admin user's, which RDS keeps for the instance), not to this secret's"
	if err := CheckMasterARN(in.ARN, arn); err != nil {
		check("field masterarn", rotator.CheckFail, err.Error(), selfFix)
		check("master secret", rotator.CheckSkip, "\"masterarn\" names this secret", "")
		return checks
	}
	check("field masterarn", rotator.CheckPass, arn, "")

	master, masterARN, err := in.GetSecret(ctx, arn)
	if err != nil {
		check("master secret readable", rotator.CheckFail, err.Error(),
			"check \"masterarn\", and allow secretsmanager:GetSecretValue on the master secret (and kms:Decrypt on its key) to whoever runs the rotation")
		return checks
	}
	check("master secret readable", rotator.CheckPass, "AWSCURRENT read", "")
	if err := CheckMasterARN(in.ARN, masterARN); err != nil {
		check("master secret", rotator.CheckFail, err.Error(), selfFix)
		return checks
	}
	master, err = MasterConnection(master, in.Current, plan)
	if err != nil {
		var fe *rotator.FieldError
		if errors.As(err, &fe) && fe.Field == FieldAlternateUsername {
			check("second user allowed", rotator.CheckFail, err.Error(),
				"\"alternateusername\" must name the application's second user, never the master's: remove it to alternate with the clone")
			return checks
		}
		check("master secret", rotator.CheckFail, err.Error(),
			"set \"masterarn\" to the master secret of this secret's own server (the same host and port): the admin user's secret, not an application's")
		return checks
	}
	check("master secret", rotator.CheckPass, "a master secret for this secret's server", "")
	mchecks := strategies.PreflightConnection(ctx, s.engine, master, "master")
	checks = append(checks, mchecks...)
	if planErr != nil {
		check("second user allowed", rotator.CheckSkip, "the users are unknown", "")
		check("master privileges", rotator.CheckSkip, "the users are unknown", "")
		return checks
	}
	target, err := s.Target(plan, master)
	if err != nil {
		fix := fmt.Sprintf("remove \"alternateusername\" to alternate with the clone, or let whoever controls the master secret pair the users in its %q field ([[%q,%q]]), or list them in the function's $%s (%s:%s)",
			FieldAlternatingPairs, plan.Current, plan.Next, EnvAllowedPairs, plan.Current, plan.Next)
		if !errors.Is(err, rotator.ErrNotAllowed) {
			fix = fmt.Sprintf("correct the master secret's %q: a JSON array of two-element arrays of user names", FieldAlternatingPairs)
		}
		check("second user allowed", rotator.CheckFail, err.Error(), fix)
		check("master privileges", rotator.CheckSkip, "the second user is not allowed", "")
		return checks
	}
	if !strategies.Passed(mchecks, strategies.LoginCheck("master")) {
		check("second user allowed", rotator.CheckSkip, "the master could not log in", "")
		check("master privileges", rotator.CheckSkip, "the master could not log in", "")
		return checks
	}
	// Without the password: the guard's proof of a stranded clone is
	// made with the pending password at setSecret, never the current one.
	acct := in.Current.Clone()
	acct.Delete(rotator.FieldPassword)
	target.Conn, target.Account = master, acct
	if err := s.engine.CheckTarget(ctx, target); err != nil {
		fix := ""
		if errors.Is(err, rotator.ErrNotAllowed) {
			fix = "an application's rotation changes only plain application users: no user with more power than an application needs (the error names what), none that is a member of such a user or of the master; a user with the clone's name must already be a clone of its base"
		}
		check("second user allowed", rotator.CheckFail, GuardError(plan, err).Error(), fix)
		check("master privileges", rotator.CheckSkip, "the users may not be changed", "")
		return checks
	}
	detail := fmt.Sprintf("the master may change %q", plan.Next)
	if target.Clone != "" {
		detail += fmt.Sprintf("; %q and %q are a base user and its clone", target.Base, target.Clone)
	} else {
		detail += fmt.Sprintf(": %q and %q are a pre-created pair that is allowed", plan.Current, plan.Next)
	}
	check("second user allowed", rotator.CheckPass, detail, "")
	mp, ok := s.engine.(MasterPreflighter)
	if !ok {
		check("master privileges", rotator.CheckSkip, "the engine has no check for them; the rotation's setSecret will tell", "")
		return checks
	}
	req := rotator.PreflightMasterRequest{Master: master, Users: plan.Users(), Account: in.Current}
	if plan.Clone {
		req.Template = plan.Base
		req.Clone = plan.CloneName
	}
	return append(checks, mp.PreflightMaster(ctx, req)...)
}

// isFieldError: a problem of the secret's fields, which the field checks
// report when the fields did not pass.
func isFieldError(err error) bool {
	return errors.Is(err, rotator.ErrMissingField) || errors.Is(err, rotator.ErrInvalidField) || errors.Is(err, rotator.ErrWrongEngine)
}
