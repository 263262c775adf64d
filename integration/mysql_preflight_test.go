package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

// myAlternatingPreflight composes the MySQL engine's preflight checks for
// an alternating-users secret the way a function's preflight does for
// PostgreSQL (internal/catalog): the secret's connection, the master
// secret's checks from the alternating strategy, the master's connection,
// the engine's guard and the master's privileges. It changes nothing.
func myAlternatingPreflight(ctx context.Context, e *mysql.Engine, strat *alternating.Strategy, in rotator.PreflightInput) []rotator.Check {
	fail := func(name string, err error, fix string) rotator.Check {
		return rotator.Check{Name: name, Status: rotator.CheckFail, Detail: err.Error(), Fix: fix}
	}
	checks := e.PreflightConnection(ctx, in.Current, "")
	plan, err := strat.Plan(in.Current)
	if err != nil {
		return append(checks, fail("second user", err, "correct \"username\" / \"alternateusername\" in the secret"))
	}
	if err := alternating.CheckMasterARN(in.ARN, plan.MasterARN); err != nil {
		return append(checks, fail("field masterarn", err, "set \"masterarn\" to the master secret's ARN, not this secret's"))
	}
	master, masterARN, err := in.GetSecret(ctx, plan.MasterARN)
	if err != nil {
		return append(checks, fail("master secret readable", err, "allow secretsmanager:GetSecretValue on the master secret"))
	}
	if err := alternating.CheckMasterARN(in.ARN, masterARN); err != nil {
		return append(checks, fail("master secret", err, "set \"masterarn\" to the master secret's ARN, not this secret's"))
	}
	if master, err = alternating.MasterConnection(master, in.Current, plan); err != nil {
		return append(checks, fail("master secret", err, "set \"masterarn\" to the master secret of this secret's own server"))
	}
	checks = append(checks, e.PreflightConnection(ctx, master, "master")...)
	target, err := strat.Target(plan, master)
	if err != nil {
		return append(checks, fail("second user allowed", err, "remove \"alternateusername\" to alternate with the clone, or pair the users in the master secret's \"alternatingpairs\""))
	}
	target.Conn, target.Account = master, in.Current
	if err := e.CheckTarget(ctx, target); err != nil {
		return append(checks, fail("second user allowed", alternating.GuardError(plan, err), "an application's rotation changes only plain application users"))
	}
	checks = append(checks, rotator.Check{Name: "second user allowed", Status: rotator.CheckPass, Detail: fmt.Sprintf("the master may change %q", plan.Next)})
	uh, _ := in.Current.String(mysql.FieldUserHost)
	req := mysql.PreflightMasterRequest{Master: master, Users: plan.Users(), UserHost: uh}
	if plan.Clone {
		req.Template, req.Clone = plan.Base, plan.CloneName
	}
	return append(checks, e.PreflightMaster(ctx, req)...)
}

// preflightOf runs myAlternatingPreflight on a rig's secret.
func (r *myRig) preflight() []rotator.Check {
	r.t.Helper()
	getSecret := func(ctx context.Context, id string) (*rotator.Secret, string, error) {
		out, err := r.sm.Client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			return nil, "", err
		}
		s, err := rotator.ParseSecret(aws.ToString(out.SecretString))
		return s, aws.ToString(out.ARN), err
	}
	e := mysql.New(r.engOpts...)
	strat := alternating.New(e, append([]alternating.Option{alternating.WithMaxUsernameLength(mysql.MaxUserNameLength)}, r.altOpts...)...)
	return myAlternatingPreflight(context.Background(), e, strat, rotator.PreflightInput{Current: r.stage("AWSCURRENT"), ARN: r.arn, GetSecret: getSecret})
}

// assertMyPreflightFails: the preflight agrees with the refused rotation,
// with a FAIL row that names field.
func assertMyPreflightFails(t *testing.T, r *myRig, field string) {
	t.Helper()
	checks := r.preflight()
	for _, c := range checks {
		if c.Status == rotator.CheckFail && containsFold(c.Detail, `"`+field+`"`) && c.Fix != "" {
			return
		}
	}
	t.Errorf("preflight reports no failure naming %q: %+v", field, checks)
}

func TestMySQLAlternatingPreflight(t *testing.T) {
	db := myShared(t)
	r := myAlternatingRig(t, db, mariadbtest.UniqueName("pfalt"), nil, myRigConfig{})
	for _, c := range r.preflight() {
		if c.Status != rotator.CheckPass {
			t.Errorf("%s: %s %s (%s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	if out := r.rotate(); !out.Succeeded {
		t.Fatal(out.Err)
	}
	for _, c := range r.preflight() {
		if c.Status != rotator.CheckPass {
			t.Errorf("after a rotation: %s: %s %s (%s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}

}
