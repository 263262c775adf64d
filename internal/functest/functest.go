package functest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/lambdabuild"
	"github.com/rotatorkit/rotator/internal/lambdaruntime"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The functions under functions/.
const (
	SingleUser       = "postgres-single-user"
	AlternatingUsers = "postgres-alternating-users"
)

// Build builds the named functions for goarch (the host's when "") into
// dir/<goarch>/<name>/bootstrap, with their zips beside them, and returns
// the bootstraps' paths by name.
func Build(tb testing.TB, dir, goarch string, names ...string) map[string]string {
	tb.Helper()
	if goarch == "" {
		goarch = lambdabuild.HostArch()
	}
	root, err := lambdabuild.ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := map[string]string{}
	for _, n := range names {
		bin, err := lambdabuild.BuildAndZip(ctx, root, n, goarch, dir)
		if err != nil {
			tb.Fatal(err)
		}
		out[n] = bin
	}
	return out
}

// Function is a bootstrap running under a local Runtime API.
type Function struct {
	Name    string
	ARN     string
	Runtime *lambdaruntime.Server
	Process *lambdaruntime.Process
	// StartToReady is the time from exec to the first GET .../next.
	StartToReady time.Duration
}

// Options for Start.
type Options struct {
	// Env is added to Lambda's environment (NAME=value); it wins.
	Env []string
	// Timeout is the function's timeout (default 30 s).
	Timeout time.Duration
	// NoWait returns as soon as the process started, without waiting for
	// it to be ready (for a function expected to fail at init).
	NoWait bool
}

// Start runs the bootstrap at bin as the Lambda function name, with
// SECRETS_MANAGER_ENDPOINT pointing at sm, waits until it asks for its
// first invocation and registers it with sm under its ARN. The process is
// stopped when the test ends.
func Start(tb testing.TB, bin, name string, sm *rotatortest.Server, opt Options) *Function {
	tb.Helper()
	rt, err := lambdaruntime.New(lambdaruntime.Config{
		FunctionName: name,
		Region:       rotatortest.Region,
		AccountID:    rotatortest.AccountID,
		Timeout:      opt.Timeout,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rt.Close() })
	env := append([]string{"SECRETS_MANAGER_ENDPOINT=" + sm.URL()}, opt.Env...)
	p, err := lambdaruntime.Start(context.Background(), rt, bin, env...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	f := &Function{Name: name, ARN: rt.Config().FunctionARN(), Runtime: rt, Process: p}
	if !opt.NoWait {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := p.WaitReady(ctx)
		if err != nil {
			tb.Fatalf("%s: %v", filepath.Base(filepath.Dir(bin)), err)
		}
		f.StartToReady = d
	}
	sm.RegisterFunction(f.ARN, f.Runtime.RotationFunc())
	return f
}

// Rotate runs a rotation of secretID through the function, as Secrets
// Manager does when RotateSecret names it.
func (f *Function) Rotate(tb testing.TB, sm *rotatortest.Server, secretID string, opts ...rotatortest.RotateOption) (rotatortest.RotationOutcome, []rotatortest.Call) {
	tb.Helper()
	opts = append([]rotatortest.RotateOption{rotatortest.WithLambdaARN(f.ARN)}, opts...)
	return rotatortest.Rotate(tb, sm, secretID, nil, opts...)
}

// FunctionCalls returns the calls the rotation function made: those of
// calls but RotateSecret, which is the caller's.
func FunctionCalls(calls []rotatortest.Call) []rotatortest.Call {
	var out []rotatortest.Call
	for _, c := range calls {
		if c.Operation != "RotateSecret" {
			out = append(out, c)
		}
	}
	return out
}

// CountByOperation counts calls by operation.
func CountByOperation(calls []rotatortest.Call) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		m[c.Operation]++
	}
	return m
}

// AssertNoSecrets fails the test when text holds any of the values (the
// passwords of a secret), naming where the text came from but never the
// value.
func AssertNoSecrets(tb testing.TB, where, text string, values ...string) {
	tb.Helper()
	for i, v := range values {
		if v != "" && strings.Contains(text, v) {
			tb.Errorf("%s holds secret value #%d", where, i+1)
		}
	}
}
