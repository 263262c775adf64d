package integration

import (
	"context"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
	"github.com/rotatorkit/rotator/strategies/single"
)

// preflight runs the alternating strategy's preflight, built as the
// function builds it, on the rig's secret.
func (r *myRig) preflight() []rotator.Check {
	r.t.Helper()
	e := mysql.New(r.engOpts...)
	strat := alternating.New(e, append([]alternating.Option{alternating.WithMaxUsernameLength(mysql.MaxUserNameLength)}, r.altOpts...)...)
	return strat.Preflight(context.Background(), rotator.PreflightInput{Current: r.stage("AWSCURRENT"), ARN: r.arn, GetSecret: r.getSecret})
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

// TestMySQLSingleAndDualPasswordPreflight runs the single-user and the
// dual-password strategies' preflight on a MariaDB account: the first
// passes, the second fails naming what MariaDB lacks.
func TestMySQLSingleAndDualPasswordPreflight(t *testing.T) {
	db := myShared(t)
	s := myUser(t, db, "pfsingle")
	e := mysql.New(mysql.WithCABundle(db.CAPEM))
	in := rotator.PreflightInput{Current: s}
	for _, c := range single.New(e).Preflight(context.Background(), in) {
		if c.Status != rotator.CheckPass {
			t.Errorf("single user: %s: %s %s (%s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	checks := dualpassword.New(e).Preflight(context.Background(), in)
	last := checks[len(checks)-1]
	if last.Name != "dual password" || last.Status != rotator.CheckFail || !containsFold(last.Detail, "no dual passwords") || last.Fix == "" {
		t.Fatalf("dual password on MariaDB: %+v", checks)
	}
}
