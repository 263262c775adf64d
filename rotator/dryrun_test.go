package rotator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// dryAware is the trivial strategy made to honour Rotation.DryRun, as the
// real strategies do: in a dry run SetPending checks the current login and
// changes nothing.
type dryAware struct {
	trivial
	checked int
}

func (s *dryAware) SetPending(ctx context.Context, r *rotator.Rotation) error {
	if !r.DryRun {
		return s.trivial.SetPending(ctx, r)
	}
	if _, err := r.Pending(ctx); err != nil {
		return err
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return err
	}
	if err := s.t.login(cur); err != nil {
		return err
	}
	s.checked++
	return nil
}

// A dry run goes through all four steps, with Secrets Manager's pending
// version (Lambda) and with the local driver's fresh token (the rotator
// command), runs the strategy's checks, and writes nothing anywhere.
func TestDryRunAllStepsWriteNothing(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local=%v", local), func(t *testing.T) {
			f := newFixture(t, rotator.WithDryRun(true), rotator.WithLocalDriver(local))
			strat := &dryAware{trivial: trivial{t: f.target}}
			h, err := rotator.New(f.srv.Client(), strat, rotator.WithDryRun(true), rotator.WithLocalDriver(local), rotator.WithLogger((&rotatortest.LogBuffer{}).Logger()))
			if err != nil {
				t.Fatal(err)
			}
			f.h = h
			token := "13131313-0000-0000-0000-000000000013"
			if !local {
				f.beginRotation(token)
			}
			before := fmt.Sprint(f.srv.StagesOf(f.arn))
			f.srv.ResetCalls()
			for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
				if err := f.step(step, token); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			for _, c := range f.srv.Calls() {
				if c.Operation == "PutSecretValue" || c.Operation == "UpdateSecretVersionStage" {
					t.Fatalf("dry run wrote: %s", c.Operation)
				}
			}
			if got := fmt.Sprint(f.srv.StagesOf(f.arn)); got != before {
				t.Fatalf("dry run changed the stages: %s -> %s", before, got)
			}
			if strat.checked != 1 {
				t.Fatalf("setSecret ran the strategy's checks %d times, want 1", strat.checked)
			}
			if f.target.password("app") != initialPW || f.target.sets != 0 {
				t.Fatal("dry run changed the target")
			}
		})
	}
}
