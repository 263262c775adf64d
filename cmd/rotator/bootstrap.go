package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/lambdaruntime"
	"github.com/rotatorkit/rotator/rotator"
)

// A user's own rotator, given as --function ./path/to/bootstrap: the
// command runs that executable under a local Lambda Runtime API (the one
// the tests use), exactly as Lambda would, and sends it the four steps or
// a preflight request. It runs with the local driver
// (rotator.EnvLocalDriver): the command plays Secrets Manager's part and
// creates the token's version itself. Any rotator built with
// rotator.StartLambda answers; its strategy's rotator.Preflighter gives the
// preflight checks.

// isBootstrapPath says whether --function names a file rather than a
// built-in function.
func isBootstrapPath(name string) bool {
	return strings.ContainsRune(name, os.PathSeparator) || strings.ContainsRune(name, '/')
}

// bootstrapFunction is the function entry for a user's bootstrap.
func bootstrapFunction(path string) (function, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return function{}, err
	}
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		return function{}, fmt.Errorf("--function %s: %w", path, err)
	case st.IsDir():
		return function{}, fmt.Errorf("--function %s: a directory; name the bootstrap executable in it", path)
	case st.Mode()&0o111 == 0:
		return function{}, fmt.Errorf("--function %s: not executable (chmod +x, or build it with go build)", path)
	}
	name := filepath.Base(abs)
	if name == "bootstrap" {
		name = filepath.Base(filepath.Dir(abs))
	}
	return function{Name: name, Summary: "your bootstrap " + abs, Bootstrap: abs}, nil
}

// runningBootstrap is a user's bootstrap started for one command.
type runningBootstrap struct {
	rt   *lambdaruntime.Server
	proc *lambdaruntime.Process
}

// passedEnv says which variables of this command's environment a
// bootstrap gets: all of them (its own settings, the password policy,
// Rotator's), but the AWS_ ones, which Lambda or this command decide
// (region and credentials come from the command's configuration), except
// the endpoint switches.
func passedEnv(name string) bool {
	for _, p := range []string{"AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return !strings.HasPrefix(name, "AWS_") && name != "_HANDLER" && !strings.HasPrefix(name, "LAMBDA_")
}

// startBootstrap runs fn's bootstrap with the Secrets Manager that sm
// talks to: its endpoint, region and (resolved) credentials.
func startBootstrap(ctx context.Context, fn function, sm *secretsmanager.Client, getenv func(string) string, dryRun bool) (*runningBootstrap, error) {
	o := sm.Options()
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials for the bootstrap: %w", err)
	}
	rt, err := lambdaruntime.New(lambdaruntime.Config{FunctionName: fn.Name, Region: o.Region, Timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	env := []string{
		"AWS_REGION=" + o.Region, "AWS_DEFAULT_REGION=" + o.Region,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey, "AWS_SESSION_TOKEN=" + creds.SessionToken,
		// Lambda always names the function; the local driver requires
		// that nothing does.
		"AWS_LAMBDA_FUNCTION_NAME=",
		rotator.EnvLocalDriver + "=true",
		rotator.EnvDryRun + "=" + fmt.Sprint(dryRun),
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); passedEnv(k) && k != rotator.EnvLocalDriver && k != rotator.EnvDryRun {
			env = append(env, k+"="+getenv(k))
		}
	}
	if ep := aws.ToString(o.BaseEndpoint); ep != "" {
		env = append(env, rotator.EnvEndpoint+"="+ep)
	}
	proc, err := lambdaruntime.Start(context.WithoutCancel(ctx), rt, fn.Bootstrap, env...)
	if err != nil {
		_ = rt.Close()
		return nil, err
	}
	b := &runningBootstrap{rt: rt, proc: proc}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := proc.WaitReady(wctx); err != nil {
		b.stop()
		return nil, fmt.Errorf("%s did not start as a Lambda function: %w", fn.Bootstrap, err)
	}
	return b, nil
}

func (b *runningBootstrap) stop() {
	_ = b.proc.Stop(5 * time.Second)
	_ = b.rt.Close()
}

// step sends one rotation step; a function error is the step's failure.
func (b *runningBootstrap) step(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	return b.rt.RotationFunc()(ctx, ev)
}

// preflight asks the bootstrap's strategy for its checks.
func (b *runningBootstrap) preflight(ctx context.Context, secretID string) ([]rotator.Check, error) {
	payload, err := json.Marshal(map[string]rotator.PreflightRequest{"rotatorPreflight": {SecretID: secretID}})
	if err != nil {
		return nil, err
	}
	out, ferr, err := b.rt.Invoke(ctx, payload)
	if err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, errors.New(ferr.ErrorMessage)
	}
	var res rotator.PreflightResponse
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("the bootstrap's preflight answer: %w", err)
	}
	return res.Checks, nil
}

// bootstrapPreflight starts the user's bootstrap and asks its strategy for
// its checks; a bootstrap that cannot start, or answer, is a FAIL row.
func bootstrapPreflight(ctx context.Context, fn function, sm *secretsmanager.Client, arn string) []rotator.Check {
	b, err := startBootstrap(ctx, fn, sm, os.Getenv, true)
	if err != nil {
		return []rotator.Check{{Name: "bootstrap starts", Status: rotator.CheckFail, Detail: err.Error(),
			Fix: "build it for this machine (go build -o bootstrap .) with rotator.StartLambda as its main"}}
	}
	defer b.stop()
	checks, err := b.preflight(ctx, arn)
	if err != nil {
		return []rotator.Check{{Name: "bootstrap starts", Status: rotator.CheckPass, Detail: fn.Bootstrap},
			{Name: "strategy checks", Status: rotator.CheckFail, Detail: err.Error(), Fix: "the bootstrap must be built with this module's rotator.StartLambda"}}
	}
	return append([]rotator.Check{{Name: "bootstrap starts", Status: rotator.CheckPass, Detail: fn.Bootstrap}}, checks...)
}
