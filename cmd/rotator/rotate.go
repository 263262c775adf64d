package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotatorkit/rotator/rotator"
)

var steps = []rotator.Step{rotator.StepCreate, rotator.StepSet, rotator.StepTest, rotator.StepFinish}

func (c *cli) rotate(ctx context.Context, args []string) int {
	fs := c.flags("rotate")
	secretID := fs.String("secret-id", "", "the secret to rotate: a name or an ARN (required)")
	function := fs.String("function", "", "the rotation function: "+strings.Join(functionNames(), ", ")+" (required)")
	var where awsFlags
	where.register(fs)
	output := fs.registerOutput("text: each step as it finishes, then a summary; json: one JSON object, the result, when the run ends (messages stay on stderr)", false)
	dryRun := fs.Bool("dry-run", false, "perform every check, change neither the target (database, vendor) nor the secret ($"+rotator.EnvDryRun+" too)")
	token := fs.String("token", "", "the new version's id (ClientRequestToken); pass the token of a failed run to resume it (default: a new UUID)")
	abandon := fs.Bool("abandon-pending", false, "start a new rotation although an unfinished one left a value at AWSPENDING. "+
		"That value may be the only password the database accepts (single user, once its setSecret ran): it then stays in a version without a label, "+
		"AWSCURRENT no longer logs in, this rotation cannot log in either, and the password must be reset by hand. Resume with --token instead")
	emf := fs.Bool("emf", false, "also print the CloudWatch Embedded Metric Format lines a Lambda function writes ($"+rotator.EnvMetrics+"=true too; on stderr with --output json)")
	verbose := fs.Bool("v", false, "log each step's details to stderr ($"+rotator.EnvLogLevel+" sets the level)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *secretID == "" {
		c.errorf("rotate: --secret-id is required")
		return exitUsage
	}
	fn, ok := c.function("rotate", *function)
	if !ok {
		return exitUsage
	}
	if *token != "" && (len(*token) < 32 || len(*token) > 64) {
		c.errorf("rotate: --token must be 32 to 64 characters (a UUID)")
		return exitUsage
	}
	envDry, err := rotator.ParseBool(c.getenv(rotator.EnvDryRun))
	if err != nil {
		c.errorf("rotate: $%s: %v", rotator.EnvDryRun, err)
		return exitUsage
	}
	envEMF, err := rotator.ParseBool(c.getenv(rotator.EnvMetrics))
	if err != nil {
		c.errorf("rotate: $%s: %v", rotator.EnvMetrics, err)
		return exitUsage
	}
	logger, err := c.stepLogger(*verbose)
	if err != nil {
		c.errorf("rotate: %v", err)
		return exitUsage
	}
	// With --output json, stdout holds the result and nothing else, so
	// that `rotator rotate --output json | jq` always parses.
	asJSON := *output == "json"
	text, emfOut := c.stdout, c.stdout
	if asJSON {
		text, emfOut = io.Discard, c.stderr
	}
	jsonError := func(err error) {
		if asJSON {
			writeJSON(c.stdout, rotateJSON{Status: "error", Function: fn.Name, SecretID: *secretID, DryRun: *dryRun || envDry, Error: err.Error()})
		}
	}

	sm, err := c.secretsManager(ctx, where)
	if err != nil {
		c.errorf("rotate: %v", err)
		jsonError(err)
		return exitFailed
	}
	var strategy rotator.Strategy
	var boot *runningBootstrap
	if fn.Bootstrap != "" {
		boot, err = startBootstrap(ctx, fn, sm, c.getenv, *dryRun || envDry)
		if err == nil {
			defer boot.stop()
		}
	} else {
		strategy, err = fn.New(ctx)
	}
	if err != nil {
		c.errorf("rotate: %s: %v", fn.Name, err)
		jsonError(err)
		return exitFailed
	}
	rot := &rotation{
		bootstrap: boot,
		sm:        sm,
		function:  fn.Name,
		strategy:  strategy,
		secretID:  *secretID,
		token:     *token,
		abandon:   *abandon,
		dryRun:    *dryRun || envDry,
		getenv:    c.getenv,
		logger:    logger,
	}
	if !asJSON {
		rot.progress = c.stdout
	}
	if *emf || envEMF {
		rot.observers = append(rot.observers, rotator.NewEMF(emfOut))
	}
	res, err := rot.run(ctx)
	if err != nil {
		c.errorf("rotate: %v", err)
		jsonError(err)
		var ip *inProgressError
		if errors.As(err, &ip) {
			c.errorf("resume it: rotator rotate%s --secret-id %s --function %s --token %s", where.args(), res.ARN, fn.Name, ip.Version)
			c.errorf("or, knowing what it costs (see rotator rotate -h), start over with --abandon-pending")
			return exitFailed
		}
		if res.ARN == "" {
			c.errorf("fix: %s", apiFix(err, "--secret-id"))
		}
		return exitFailed
	}
	fmt.Fprintln(text)
	res.printMetrics(text)
	code := c.rotateVerdict(text, res, fn.Name, where.args())
	if asJSON {
		writeJSON(c.stdout, res.toJSON(*secretID, fn.Name, code))
	}
	return code
}

// rotateJSON is `rotator rotate --output json`'s result. It holds no
// secret value: step errors are the handler's, which are scrubbed.
type rotateJSON struct {
	// Status is rotated, dry-run-passed, failed, cleanup-failed (AWSCURRENT
	// moved, the clean-up after it failed: exit status 3) or error (the
	// run did not start: no such secret, no credentials).
	Status   string `json:"status"`
	Function string `json:"function"`
	// SecretID is --secret-id as given; ARN and Name are the secret's.
	SecretID string `json:"secret_id"`
	ARN      string `json:"arn,omitempty"`
	Name     string `json:"name,omitempty"`
	Token    string `json:"token,omitempty"`
	DryRun   bool   `json:"dry_run"`
	// OldVersion was AWSCURRENT before the run, CurrentVersion is after it.
	OldVersion     string `json:"old_version,omitempty"`
	CurrentVersion string `json:"current_version,omitempty"`
	// PendingStored: the token's version holds a value, and --token
	// resumes the rotation with it.
	PendingStored bool       `json:"pending_stored"`
	Steps         []stepJSON `json:"steps,omitempty"`
	FailedStep    string     `json:"failed_step,omitempty"`
	Error         string     `json:"error,omitempty"`
	DurationMS    float64    `json:"duration_ms"`
	ExitStatus    int        `json:"exit_status"`
}

type stepJSON struct {
	Step       string  `json:"step"`
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

func (res *rotationResult) toJSON(secretID, function string, code int) rotateJSON {
	out := rotateJSON{
		Function: function, SecretID: secretID, ARN: res.ARN, Name: res.Name, Token: res.Token, DryRun: res.DryRun,
		OldVersion: res.OldVersion, CurrentVersion: res.CurrentVersion, PendingStored: res.PendingStored,
		DurationMS: msFloat(res.Duration), ExitStatus: code,
	}
	for _, r := range res.Reports {
		s := stepJSON{Step: string(r.Step), Outcome: r.Outcome, DurationMS: msFloat(r.Duration)}
		if r.Err != nil {
			s.Error = r.Err.Error()
		}
		out.Steps = append(out.Steps, s)
	}
	if res.Failed != nil {
		out.FailedStep = string(res.Failed.Step)
		out.Error = res.Failed.Err.Error()
	}
	switch {
	case code == exitCleanup:
		out.Status = "cleanup-failed"
	case code != exitOK:
		out.Status = "failed"
		if out.Error == "" {
			out.Error = "AWSCURRENT is not at the new version"
		}
	case res.DryRun:
		out.Status = "dry-run-passed"
	default:
		out.Status = "rotated"
	}
	return out
}

func msFloat(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeJSON prints v as indented JSON, as `aws --output json` does.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// rotateVerdict prints the outcome (on out; failures on stderr) and
// returns the exit status. The commands it suggests name function and
// end with where.
func (c *cli) rotateVerdict(out io.Writer, res *rotationResult, function, where string) int {
	old := short(res.OldVersion)
	switch {
	case res.Failed == nil && res.DryRun:
		if !res.Unchanged {
			c.errorf("dry run: the secret's versions changed during the run (another writer?)")
			return exitFailed
		}
		fmt.Fprintf(out, "\nDry run passed: every check passed and nothing was written (AWSCURRENT is still version %s).\n", old)
		return exitOK
	case res.Failed == nil && res.Promoted:
		fmt.Fprintf(out, "\nRotated %s: AWSCURRENT moved from version %s to %s (the old value is AWSPREVIOUS).\n", res.Name, old, short(res.Token))
		return exitOK
	case res.Failed == nil:
		c.errorf("every step succeeded but AWSCURRENT is not at version %s: another rotation may have run at the same time", res.Token)
		return exitFailed
	}
	f := res.Failed
	c.errorf("rotation failed at %s: %v", f.Step, f.Err)
	if res.Promoted {
		c.errorf("AWSCURRENT moved to version %s, but the clean-up after the promotion failed.", res.Token)
		c.errorf("retry the clean-up: rotator rotate%s --secret-id %s --function %s --token %s", where, res.ARN, function, res.Token)
		return exitCleanup
	}
	switch {
	case res.DryRun:
		c.errorf("dry run: nothing was written; AWSCURRENT is still version %s.", old)
	case res.CurrentVersion == res.OldVersion:
		c.errorf("AWSCURRENT is untouched (still version %s).", old)
	default:
		c.errorf("AWSCURRENT is now version %s (it was %s when the run started).", short(res.CurrentVersion), old)
	}
	if !res.DryRun && f.Step != rotator.StepCreate && res.PendingStored {
		c.errorf("the pending value stays at version %s (AWSPENDING); to resume this rotation with it:", res.Token)
		c.errorf("  rotator rotate%s --secret-id %s --function %s --token %s", where, res.ARN, function, res.Token)
	}
	c.errorf("to diagnose: rotator preflight%s --secret-id %s --function %s", where, res.ARN, function)
	return exitFailed
}

// stepLogger is the handler's logger: silent unless -v or
// $ROTATOR_LOG_LEVEL asks, text on stderr then.
func (c *cli) stepLogger(verbose bool) (*slog.Logger, error) {
	v := strings.TrimSpace(c.getenv(rotator.EnvLogLevel))
	if v == "" && !verbose {
		return slog.New(slog.DiscardHandler), nil
	}
	level := slog.LevelInfo
	if v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("$%s=%q: %w", rotator.EnvLogLevel, v, err)
		}
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level})), nil
}

// rotation plays Secrets Manager's part in one rotation: a token, then the
// four steps in order through the real handler (built with the local
// driver, since the public API cannot create a version without a value),
// stopping at the first failure. rotate and demo share it.
type rotation struct {
	sm        *secretsmanager.Client
	function  string
	strategy  rotator.Strategy
	bootstrap *runningBootstrap // a user's bootstrap runs the steps instead of strategy
	secretID  string
	token     string // "" : a new UUID
	abandon   bool   // take AWSPENDING over even when its version holds a value
	dryRun    bool
	getenv    func(string) string
	logger    *slog.Logger
	progress  io.Writer // step lines; nil for none
	observers []rotator.Observer
	options   []rotator.Option
}

// rotationResult is what a rotation did. It holds no secret value.
type rotationResult struct {
	ARN, Name string
	Token     string
	DryRun    bool
	// OldVersion was AWSCURRENT before the run, CurrentVersion after it.
	OldVersion, CurrentVersion string
	Reports                    []rotator.StepReport
	// Failed is the failed step's report, nil when every step passed.
	Failed *rotator.StepReport
	// Promoted: AWSCURRENT is at Token after the run.
	Promoted bool
	// PendingStored: the token's version holds a value after the run.
	PendingStored bool
	// Unchanged: the version stages are the same as before the run.
	Unchanged bool
	Duration  time.Duration
}

// run rotates. Its error is for what happens before the first step (the
// secret cannot be described, the handler cannot be built); a failed step
// is in the result.
func (r *rotation) run(ctx context.Context) (*rotationResult, error) {
	before, err := describeSecret(ctx, r.sm, r.secretID)
	if err != nil {
		return &rotationResult{}, err
	}
	res := &rotationResult{
		ARN:        aws.ToString(before.ARN),
		Name:       aws.ToString(before.Name),
		Token:      r.token,
		DryRun:     r.dryRun,
		OldVersion: versionWith(before.VersionIdsToStages, "AWSCURRENT"),
	}
	if res.Token == "" {
		res.Token = newUUID()
	}
	if err := r.checkInProgress(ctx, res, before.VersionIdsToStages); err != nil {
		return res, err
	}
	rec := &recorder{w: r.progress, dryRun: r.dryRun}
	runStep, err := r.stepRunner(rec)
	if err != nil {
		return res, err
	}

	if r.progress != nil {
		mode := ""
		if r.dryRun {
			mode = " (dry run: nothing will be written)"
		}
		fmt.Fprintf(r.progress, "Rotating %s with %s%s\n", res.Name, r.function, mode)
		fmt.Fprintf(r.progress, "  secret  %s\n  token   %s (AWSCURRENT is %s)\n", res.ARN, res.Token, short(res.OldVersion))
		if p := versionWith(before.VersionIdsToStages, "AWSPENDING"); p != "" && p != res.OldVersion && p != res.Token {
			fmt.Fprintf(r.progress, "  note    an unfinished rotation left AWSPENDING on version %s; this rotation takes the label over\n", short(p))
		}
	}
	start := time.Now()
	for _, step := range steps {
		err := runStep(ctx, events.SecretsManagerSecretRotationEvent{
			Step:               string(step),
			SecretID:           res.ARN,
			ClientRequestToken: res.Token,
		})
		if err != nil {
			break
		}
	}
	res.Duration = time.Since(start)
	res.Reports = rec.reports()
	for i := range res.Reports {
		if res.Reports[i].Outcome == "failure" {
			res.Failed = &res.Reports[i]
			break
		}
	}
	if res.Failed == nil && !r.dryRun {
		// Secrets Manager itself takes AWSPENDING off the new AWSCURRENT
		// version once a rotation it ran has succeeded; this command plays
		// its part, so it does the same (a label left there makes some
		// implementations refuse the next RotateSecret).
		_, err := r.sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:            aws.String(res.ARN),
			VersionStage:        aws.String("AWSPENDING"),
			RemoveFromVersionId: aws.String(res.Token),
		})
		if err != nil && r.progress != nil {
			fmt.Fprintf(r.progress, "  note    could not remove AWSPENDING from the new version: %v\n", err)
		}
	}

	// What Secrets Manager holds now, with a context that an interrupt
	// did not cancel: the user needs to know where things stand.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	after, err := describeSecret(actx, r.sm, res.ARN)
	if err != nil {
		return res, fmt.Errorf("after the run: %w", err)
	}
	res.CurrentVersion = versionWith(after.VersionIdsToStages, "AWSCURRENT")
	res.Promoted = res.CurrentVersion == res.Token
	_, res.PendingStored = after.VersionIdsToStages[res.Token]
	res.Unchanged = sameStages(before.VersionIdsToStages, after.VersionIdsToStages)
	return res, nil
}

// stepRunner returns what runs one step: the real handler in this
// process (built with the local driver, the environment's password policy,
// rec and the observers), or the user's bootstrap, whose steps rec hears
// of from here.
func (r *rotation) stepRunner(rec *recorder) (func(context.Context, events.SecretsManagerSecretRotationEvent) error, error) {
	if b := r.bootstrap; b != nil {
		return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			start := time.Now()
			err := b.step(ctx, ev)
			rep := rotator.StepReport{Function: r.function, SecretID: ev.SecretID, Token: ev.ClientRequestToken, Step: rotator.Step(ev.Step), Duration: time.Since(start), Outcome: "success", Err: err}
			if err != nil {
				rep.Outcome = "failure"
			}
			rec.StepDone(ctx, rep)
			for _, o := range r.observers {
				o.StepDone(ctx, rep)
			}
			return err
		}, nil
	}
	getenv := r.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	// The environment's password policy and source; this command decides
	// the logger, the metrics and the dry run itself.
	base, err := rotator.EnvOptionsFor(func(k string) string {
		switch k {
		case rotator.EnvMetrics, "AWS_LAMBDA_FUNCTION_NAME", rotator.EnvDryRun, rotator.EnvLogLevel, rotator.EnvLocalDriver:
			return ""
		}
		return getenv(k)
	}, r.sm, r.strategy)
	if err != nil {
		return nil, err
	}
	logger := r.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := append(base,
		rotator.WithLogger(logger),
		rotator.WithFunctionName(r.function),
		rotator.WithLocalDriver(true),
		rotator.WithDryRun(r.dryRun),
		rotator.WithObserver(rec),
	)
	for _, o := range r.observers {
		opts = append(opts, rotator.WithObserver(o))
	}
	opts = append(opts, r.options...)
	h, err := rotator.New(r.sm, r.strategy, opts...)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// inProgressError: another version holds AWSPENDING with a value, from a
// rotation that did not finish.
type inProgressError struct{ Version string }

func (e *inProgressError) Error() string {
	return fmt.Sprintf("an unfinished rotation holds AWSPENDING at version %s with a value; "+
		"a new token would take the label over, and with single user the only working password may be that value", e.Version)
}

// checkInProgress refuses to start a rotation with a new token while
// another version holds AWSPENDING with a value: for single user after its
// setSecret ran, that value is the only password the database accepts,
// and taking the label over would leave it in a version nobody reads. A
// label on a version without a value (RotateSecret made it, createSecret
// never ran) is harmless and taken over. A dry run writes nothing and is
// never refused.
func (r *rotation) checkInProgress(ctx context.Context, res *rotationResult, stages map[string][]string) error {
	p := versionWith(stages, "AWSPENDING")
	if p == "" || p == res.Token || p == res.OldVersion || r.dryRun || r.abandon {
		return nil
	}
	_, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(res.ARN), VersionId: aws.String(p)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return fmt.Errorf("reading the pending version %s left by an unfinished rotation: %w", p, err)
	}
	return &inProgressError{Version: p}
}

func sameStages(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for id, sa := range a {
		sb, ok := b[id]
		if !ok || len(sa) != len(sb) {
			return false
		}
		seen := map[string]bool{}
		for _, s := range sa {
			seen[s] = true
		}
		for _, s := range sb {
			if !seen[s] {
				return false
			}
		}
	}
	return true
}

// recorder is the observer that prints each step as it finishes and keeps
// the reports for the summary.
type recorder struct {
	mu     sync.Mutex
	w      io.Writer
	dryRun bool
	list   []rotator.StepReport
}

func (r *recorder) StepDone(_ context.Context, rep rotator.StepReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rep)
	if r.w == nil {
		return
	}
	fmt.Fprintf(r.w, "  %-13s %-9s %s%s\n", rep.Step, label(rep.Outcome), fmtMS(rep.Duration), r.note(rep))
	if rep.Err != nil {
		fmt.Fprintf(r.w, "      %v\n", rep.Err)
	}
}

func (r *recorder) note(rep rotator.StepReport) string {
	if !r.dryRun || rep.Outcome == "failure" {
		return ""
	}
	switch rep.Step {
	case rotator.StepCreate:
		return "  pending value built, not stored"
	case rotator.StepSet:
		return "  checks passed, nothing changed"
	case rotator.StepTest:
		return "  nothing was set, nothing to test"
	case rotator.StepFinish:
		return "  AWSCURRENT not moved"
	}
	return ""
}

func (r *recorder) reports() []rotator.StepReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rotator.StepReport(nil), r.list...)
}

func label(outcome string) string {
	switch outcome {
	case "success":
		return "ok"
	case "noop":
		return "no-op"
	case "failure":
		return "FAILED"
	}
	return outcome
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%7.1f ms", float64(d.Microseconds())/1000)
}

// printMetrics prints what the EMF observer sends CloudWatch from Lambda:
// namespace Rotator, dimensions function and step, metrics Duration
// (milliseconds), Success and Failure (counts).
func (res *rotationResult) printMetrics(w io.Writer) {
	fmt.Fprintf(w, "Metrics (CloudWatch namespace %s, dimensions function and step):\n", rotator.MetricsNamespace)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  function\tstep\tDuration (ms)\tSuccess\tFailure\toutcome")
	var total time.Duration
	for _, r := range res.Reports {
		s, f := 1, 0
		if r.Outcome == "failure" {
			s, f = 0, 1
		}
		total += r.Duration
		fmt.Fprintf(tw, "  %s\t%s\t%.1f\t%d\t%d\t%s\n", r.Function, r.Step, float64(r.Duration.Microseconds())/1000, s, f, r.Outcome)
	}
	fmt.Fprintf(tw, "  \ttotal\t%.1f\n", float64(total.Microseconds())/1000)
	_ = tw.Flush()
}

// newUUID returns a random (version 4) UUID, the form of token Secrets
// Manager makes.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// short abbreviates a version id for messages.
func short(id string) string {
	if id == "" {
		return "(none)"
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
