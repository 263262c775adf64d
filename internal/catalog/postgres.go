package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

// newPostgres builds the engine as the Lambda functions do: from the
// environment ($ROTATOR_PG_CA_BUNDLE, $ROTATOR_PG_SSLMODE,
// $ROTATOR_PG_ALLOW_MD5, $ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD).
// The PostgreSQL engine provides what both strategies ask of an engine.
var (
	_ single.Engine      = (*postgres.Engine)(nil)
	_ alternating.Engine = (*postgres.Engine)(nil)
)

func newPostgres() (*postgres.Engine, error) {
	return postgres.NewFromEnv()
}

// newAlternating builds the alternating-users strategy as the Lambda
// function does, with the pre-created pairs $ROTATOR_ALTERNATING_PAIRS
// allows.
func newAlternating(e *postgres.Engine) (*alternating.Strategy, error) {
	pairs, err := alternating.AllowedPairsFromEnv()
	if err != nil {
		return nil, err
	}
	return alternating.New(e, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength), pairs), nil
}

func fromPG(checks []postgres.PreflightCheck) []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		out[i] = Check{Name: c.Name, Status: Status(c.Status), Detail: c.Detail, Fix: c.Fix}
	}
	return out
}

func engineFailure(err error) []Check {
	return []Check{{Name: "engine configuration", Status: Fail, Detail: err.Error(),
		Fix: "correct $" + postgres.EnvCABundle + " / $" + postgres.EnvSSLMode + " / $" + postgres.EnvAllowMD5 + " / $" + postgres.EnvAllowCleartext}}
}

func postgresSinglePreflight(ctx context.Context, in PreflightInput) []Check {
	e, err := newPostgres()
	if err != nil {
		return engineFailure(err)
	}
	checks := fromPG(e.PreflightConnection(ctx, in.Current, ""))
	priv := Check{Name: "privilege to change password", Status: Skip, Detail: "the user could not log in"}
	if loggedIn(checks) {
		priv = Check{Name: "privilege to change password", Status: Pass,
			Detail: "a PostgreSQL role may always change its own password (ALTER ROLE ... PASSWORD)"}
	}
	return append(checks, priv)
}

func loggedIn(checks []Check) bool {
	for _, c := range checks {
		if c.Name == "login with AWSCURRENT" {
			return c.Status == Pass
		}
	}
	return false
}

func postgresAlternatingPreflight(ctx context.Context, in PreflightInput) []Check {
	e, err := newPostgres()
	if err != nil {
		return engineFailure(err)
	}
	checks := fromPG(e.PreflightConnection(ctx, in.Current, ""))
	strat, err := newAlternating(e)
	if err != nil {
		return append(checks, Check{Name: "function configuration", Status: Fail, Detail: err.Error(),
			Fix: "write $" + alternating.EnvAllowedPairs + " as user pairs joined by ':' and separated by ',': app_a:app_b,app_c:app_d"})
	}

	// The master secret.
	arn, err := in.Current.Require(rotator.FieldMasterARN)
	if err != nil {
		return append(checks, Check{Name: "field masterarn", Status: Fail, Detail: err.Error(),
			Fix: "add \"masterarn\": the ARN of the secret holding the master (admin) user's credentials, which creates the second user and sets passwords"},
			Check{Name: "master secret", Status: Skip, Detail: "no \"masterarn\""})
	}
	plan, planErr := strat.Plan(in.Current)
	if planErr != nil && (fieldsOK(checks) || !isFieldError(planErr)) {
		checks = append(checks, Check{Name: "second user", Status: Fail, Detail: planErr.Error(),
			Fix: "correct \"username\" / \"alternateusername\" in the secret"})
	} else if planErr == nil {
		detail := fmt.Sprintf("next rotation: %q gets a new password and becomes current", plan.Next)
		if plan.Clone && plan.Next != plan.Base {
			detail += fmt.Sprintf(" (a clone of %q)", plan.Base)
		}
		checks = append(checks, Check{Name: "second user", Status: Pass, Detail: detail})
	}
	if planErr != nil {
		// The master checks below still run, with the users known so far.
		plan = alternating.Plan{Current: in.Current.Username(), MasterARN: arn}
	}
	const selfFix = "set \"masterarn\" to the ARN of the master secret (the admin user's, which RDS keeps for the instance), not to this secret's"
	if err := alternating.CheckMasterARN(in.ARN, arn); err != nil {
		return append(checks, Check{Name: "field masterarn", Status: Fail, Detail: err.Error(), Fix: selfFix},
			Check{Name: "master secret", Status: Skip, Detail: "\"masterarn\" names this secret"})
	}
	checks = append(checks, Check{Name: "field masterarn", Status: Pass, Detail: arn})

	master, masterARN, err := in.GetSecret(ctx, arn)
	if err != nil {
		return append(checks, Check{Name: "master secret readable", Status: Fail, Detail: err.Error(),
			Fix: "check \"masterarn\", and allow secretsmanager:GetSecretValue on the master secret (and kms:Decrypt on its key) to whoever runs the rotation"})
	}
	checks = append(checks, Check{Name: "master secret readable", Status: Pass, Detail: "AWSCURRENT read"})
	if err := alternating.CheckMasterARN(in.ARN, masterARN); err != nil {
		return append(checks, Check{Name: "master secret", Status: Fail, Detail: err.Error(), Fix: selfFix})
	}
	master, err = alternating.MasterConnection(master, in.Current, plan)
	if err != nil {
		var fe *rotator.FieldError
		if errors.As(err, &fe) && fe.Field == alternating.FieldAlternateUsername {
			return append(checks, Check{Name: "second user allowed", Status: Fail, Detail: err.Error(),
				Fix: "\"alternateusername\" must name the application's second user, never the master's: remove it to alternate with the clone"})
		}
		return append(checks, Check{Name: "master secret", Status: Fail, Detail: err.Error(),
			Fix: "set \"masterarn\" to the master secret of this secret's own server (the same host and port): the admin user's secret, not an application's"})
	}
	checks = append(checks, Check{Name: "master secret", Status: Pass, Detail: "a master secret for this secret's server"})
	mchecks := fromPG(e.PreflightConnection(ctx, master, "master"))
	checks = append(checks, mchecks...)
	if planErr != nil {
		return append(checks, Check{Name: "second user allowed", Status: Skip, Detail: "the users are unknown"},
			Check{Name: "master privileges", Status: Skip, Detail: "the users are unknown"})
	}
	target, err := strat.Target(plan, master)
	if err != nil {
		fix := fmt.Sprintf("remove \"alternateusername\" to alternate with the clone, or let whoever controls the master secret pair the users in its %q field ([[%q,%q]]), or list them in the function's $%s (%s:%s)",
			alternating.FieldAlternatingPairs, plan.Current, plan.Next, alternating.EnvAllowedPairs, plan.Current, plan.Next)
		if !errors.Is(err, rotator.ErrNotAllowed) {
			fix = fmt.Sprintf("correct the master secret's %q: a JSON array of two-element arrays of user names", alternating.FieldAlternatingPairs)
		}
		return append(checks, Check{Name: "second user allowed", Status: Fail, Detail: err.Error(), Fix: fix},
			Check{Name: "master privileges", Status: Skip, Detail: "the second user is not allowed"})
	}
	if !masterLoggedIn(mchecks) {
		return append(checks, Check{Name: "second user allowed", Status: Skip, Detail: "the master could not log in"},
			Check{Name: "master privileges", Status: Skip, Detail: "the master could not log in"})
	}
	target.Conn = master
	if err := e.CheckTarget(ctx, target); err != nil {
		fix := ""
		if errors.Is(err, rotator.ErrNotAllowed) {
			fix = "an application's rotation changes only plain application users: use users without SUPERUSER, REPLICATION, BYPASSRLS or CREATEROLE, that are members neither of such a role nor of the master's; a role with the clone's name must already be a member of its base"
		}
		return append(checks, Check{Name: "second user allowed", Status: Fail, Detail: alternating.GuardError(plan, err).Error(), Fix: fix},
			Check{Name: "master privileges", Status: Skip, Detail: "the users may not be changed"})
	}
	detail := fmt.Sprintf("the master may change %q", plan.Next)
	if target.Clone != "" {
		detail += fmt.Sprintf("; %q and %q are a base user and its clone", target.Base, target.Clone)
	} else {
		detail += fmt.Sprintf(": %q and %q are a pre-created pair that is allowed", plan.Current, plan.Next)
	}
	checks = append(checks, Check{Name: "second user allowed", Status: Pass, Detail: detail})
	req := postgres.PreflightMasterRequest{Master: master, Users: plan.Users()}
	if plan.Clone {
		req.Template = plan.Base
		req.Clone = plan.CloneName
	}
	return append(checks, fromPG(e.PreflightMaster(ctx, req))...)
}

func masterLoggedIn(checks []Check) bool {
	for _, c := range checks {
		if c.Name == "master login" {
			return c.Status == Pass
		}
	}
	return false
}

// fieldsOK: the connection fields of the current secret passed.
func fieldsOK(checks []Check) bool {
	for _, c := range checks {
		if c.Name == "secret fields" {
			return c.Status == Pass
		}
	}
	return false
}

// isFieldError: a problem of the secret's fields, which the field checks
// report when the fields did not pass.
func isFieldError(err error) bool {
	return errors.Is(err, rotator.ErrMissingField) || errors.Is(err, rotator.ErrInvalidField) || errors.Is(err, rotator.ErrWrongEngine)
}
