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

func newAlternating(e *postgres.Engine) *alternating.Strategy {
	return alternating.New(e, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength))
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
	strat := newAlternating(e)

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
	checks = append(checks, Check{Name: "field masterarn", Status: Pass, Detail: arn})

	master, err := in.GetSecret(ctx, arn)
	if err != nil {
		return append(checks, Check{Name: "master secret readable", Status: Fail, Detail: err.Error(),
			Fix: "check \"masterarn\", and allow secretsmanager:GetSecretValue on the master secret (and kms:Decrypt on its key) to whoever runs the rotation"})
	}
	checks = append(checks, Check{Name: "master secret readable", Status: Pass, Detail: "AWSCURRENT read"})
	master = alternating.MasterConnection(master, in.Current)
	mchecks := fromPG(e.PreflightConnection(ctx, master, "master"))
	checks = append(checks, mchecks...)
	if planErr != nil || !masterLoggedIn(mchecks) {
		return append(checks, Check{Name: "master privileges", Status: Skip, Detail: "the master could not log in, or the users are unknown"})
	}
	req := postgres.PreflightMasterRequest{Master: master, Users: plan.Users()}
	if plan.Clone {
		req.Template = plan.Base
		req.Clone = plan.Base + alternating.DefaultCloneSuffix
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
