package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
)

func (c *cli) preflight(ctx context.Context, args []string) int {
	fs := c.flags("preflight")
	secretID := fs.String("secret-id", "", "the secret to check: a name or an ARN (required)")
	function := fs.String("function", "", "the rotation function: "+strings.Join(functionNames(), ", ")+" (required)")
	var where awsFlags
	where.register(fs)
	output := fs.registerOutput("text: a table of the checks; json: the checks as a JSON array", true)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *secretID == "" {
		c.errorf("preflight: --secret-id is required")
		return exitUsage
	}
	fn, ok := c.function("preflight", *function)
	if !ok {
		return exitUsage
	}
	var checks []rotator.Check
	sm, err := c.secretsManager(ctx, where)
	if err != nil {
		checks = []rotator.Check{{Name: "AWS configuration", Status: rotator.CheckFail, Detail: err.Error(), Fix: "pass --region or --profile, or configure the AWS SDK (AWS_REGION, AWS_PROFILE)"}}
	} else {
		checks = runPreflight(ctx, sm, fn, *secretID)
	}
	if *output == "json" {
		printChecksJSON(c.stdout, checks)
	} else {
		fmt.Fprintf(c.stdout, "Preflight of %s for %s (nothing is changed)\n\n", *secretID, fn.Name)
		printChecks(c.stdout, checks)
	}
	// A warning fails the command too: it means the rotation would change
	// a password that nothing checks.
	for _, ch := range checks {
		if ch.Status == rotator.CheckFail || ch.Status == rotator.CheckWarn {
			return exitFailed
		}
	}
	return exitOK
}

// runPreflight checks the secret in Secrets Manager, then runs the
// function's own checks on its AWSCURRENT value. Every text is scrubbed of
// the values of the secrets it read.
func runPreflight(ctx context.Context, sm *secretsmanager.Client, fn function, secretID string) []rotator.Check {
	scrub := rotator.NewScrubber()
	var checks []rotator.Check
	add := func(cs ...rotator.Check) {
		for _, ch := range cs {
			ch.Detail, ch.Fix = scrub.Scrub(ch.Detail), scrub.Scrub(ch.Fix)
			checks = append(checks, ch)
		}
	}
	finish := func() []rotator.Check { return checks }

	desc, err := describeSecret(ctx, sm, secretID)
	if err != nil {
		add(rotator.Check{Name: "secret exists", Status: rotator.CheckFail, Detail: err.Error(), Fix: apiFix(err, "--secret-id")})
		return finish()
	}
	arn := aws.ToString(desc.ARN)
	detail := arn
	if aws.ToBool(desc.RotationEnabled) {
		detail += "; rotation enabled"
		if f := aws.ToString(desc.RotationLambdaARN); f != "" {
			detail += " with " + f
		}
	} else {
		detail += "; rotation not enabled (rotator rotate does not need it)"
	}
	add(rotator.Check{Name: "secret exists", Status: rotator.CheckPass, Detail: detail})

	current := versionWith(desc.VersionIdsToStages, "AWSCURRENT")
	pending := versionWith(desc.VersionIdsToStages, "AWSPENDING")
	switch {
	case current == "":
		add(rotator.Check{Name: "versions", Status: rotator.CheckFail, Detail: "no version is labelled AWSCURRENT", Fix: "store a value: aws secretsmanager put-secret-value --secret-id " + arn + " --secret-string file://value.json"})
		return finish()
	case pending != "" && pending != current:
		add(rotator.Check{Name: "versions", Status: rotator.CheckPass, Detail: fmt.Sprintf("AWSCURRENT is %s; an unfinished rotation left AWSPENDING on %s: Secrets Manager reattempts it, rotator rotate takes the label over", current, pending)})
	default:
		add(rotator.Check{Name: "versions", Status: rotator.CheckPass, Detail: fmt.Sprintf("AWSCURRENT is %s; no rotation in progress", current)})
	}

	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		add(rotator.Check{Name: "secret value readable", Status: rotator.CheckFail, Detail: (&smError{op: "GetSecretValue", id: arn, err: err}).Error(), Fix: apiFix(err, "--secret-id")})
		return finish()
	}
	if out.SecretString == nil {
		add(rotator.Check{Name: "secret value readable", Status: rotator.CheckFail, Detail: "the secret holds binary data (SecretBinary)", Fix: "store the credentials as a JSON string (SecretString)"})
		return finish()
	}
	scrub.Add(*out.SecretString)
	add(rotator.Check{Name: "secret value readable", Status: rotator.CheckPass, Detail: "AWSCURRENT read"})
	cur, err := rotator.ParseSecret(*out.SecretString)
	if err != nil {
		example := fn.Example
		if example == "" {
			example = `{"engine":"postgres","host":"db.example.com","port":5432,"username":"app","password":"...","dbname":"app"}`
		}
		add(rotator.Check{Name: "secret value is JSON", Status: rotator.CheckFail, Detail: err.Error(), Fix: "store a JSON object, e.g. " + example})
		return finish()
	}
	scrub.AddSecret(cur)
	add(rotator.Check{Name: "secret value is JSON", Status: rotator.CheckPass, Detail: "fields: " + strings.Join(cur.Fields(), ", ")})

	getSecret := func(ctx context.Context, id string) (*rotator.Secret, string, error) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			return nil, "", &smError{op: "GetSecretValue", id: id, err: err}
		}
		if out.SecretString == nil {
			return nil, "", errors.New("the secret holds binary data, not a JSON string")
		}
		scrub.Add(*out.SecretString)
		s, err := rotator.ParseSecret(*out.SecretString)
		if err != nil {
			return nil, "", err
		}
		scrub.AddSecret(s)
		return s, aws.ToString(out.ARN), nil
	}
	if fn.Bootstrap != "" {
		add(bootstrapPreflight(ctx, fn, sm, aws.ToString(out.ARN))...)
		return finish()
	}
	add(fn.Preflight(ctx, rotator.PreflightInput{Current: cur, ARN: aws.ToString(out.ARN), GetSecret: getSecret})...)
	return finish()
}

// printChecks prints the table: check, result, detail, fix.
func printChecks(w io.Writer, checks []rotator.Check) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL\tFIX")
	counts := map[rotator.CheckStatus]int{}
	for _, ch := range checks {
		counts[ch.Status]++
		fix := ch.Fix
		if fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(ch.Name), ch.Status, oneLine(ch.Detail), oneLine(fix))
	}
	_ = tw.Flush()
	verdict := "ready to rotate"
	switch {
	case counts[rotator.CheckFail] > 0:
		verdict = "fix the failures above before rotating"
	case counts[rotator.CheckWarn] > 0:
		verdict = "a rotation would work and protect nothing: fix the warnings above before rotating"
	}
	plural := "s"
	if len(checks) == 1 {
		plural = ""
	}
	warned := ""
	if counts[rotator.CheckWarn] > 0 {
		warned = fmt.Sprintf(", %d warned", counts[rotator.CheckWarn])
	}
	fmt.Fprintf(w, "\n%d check%s: %d passed, %d failed%s, %d skipped: %s.\n", len(checks), plural, counts[rotator.CheckPass], counts[rotator.CheckFail], warned, counts[rotator.CheckSkip], verdict)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\t", " ")), " ")
}

type jsonCheck struct {
	Check  string `json:"check"`
	Result string `json:"result"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func printChecksJSON(w io.Writer, checks []rotator.Check) {
	out := make([]jsonCheck, len(checks))
	for i, ch := range checks {
		out[i] = jsonCheck{Check: ch.Name, Result: string(ch.Status), Detail: ch.Detail, Fix: ch.Fix}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
