package rotatortest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

const (
	tokA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

func newServer(t *testing.T, opts ...rotatortest.Option) (*rotatortest.Server, *secretsmanager.Client) {
	t.Helper()
	srv := rotatortest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

// errAs returns err as a *T, failing the test if it is not one.
func errAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("got no error, want %T", target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("got error %T %v, want %T", err, err, target)
	}
	return target
}

// must returns v, panicking (which fails the test) if err is not nil.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// createWithVersion makes a secret whose first version has id tok.
func createWithVersion(t *testing.T, c *secretsmanager.Client, name, value, tok string) string {
	t.Helper()
	out := must(c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), ClientRequestToken: aws.String(tok),
	}))
	return aws.ToString(out.ARN)
}

func put(t *testing.T, c *secretsmanager.Client, id, value, tok string, stages ...string) (*secretsmanager.PutSecretValueOutput, error) {
	t.Helper()
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value), ClientRequestToken: aws.String(tok)}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	return c.PutSecretValue(t.Context(), in)
}

func stagesEqual(t *testing.T, got map[string][]string, want map[string][]string) {
	t.Helper()
	norm := func(m map[string][]string) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			v := slices.Clone(m[k])
			slices.Sort(v)
			fmt.Fprintf(&b, "%s=%v ", k, v)
		}
		return b.String()
	}
	if norm(got) != norm(want) {
		t.Fatalf("stages:\n got  %s\n want %s", norm(got), norm(want))
	}
}

func TestCreateAndGetSecretValue(t *testing.T) {
	srv, c := newServer(t)
	ctx := t.Context()
	arn := createWithVersion(t, c, "app/db", `{"password":"one"}`, tokA)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-")+6 {
		t.Fatalf("ARN = %q, want the name and a 6-character suffix", arn)
	}
	// SecretId as name, full ARN and partial ARN (ARN without the suffix).
	for _, id := range []string{"app/db", arn, strings.TrimSuffix(arn, arn[len(arn)-7:])} {
		got := must(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}))
		if aws.ToString(got.SecretString) != `{"password":"one"}` || aws.ToString(got.VersionId) != tokA ||
			aws.ToString(got.ARN) != arn || aws.ToString(got.Name) != "app/db" ||
			!slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) || got.CreatedDate == nil || got.CreatedDate.IsZero() {
			t.Fatalf("GetSecretValue(%s) = %+v", id, got)
		}
	}
	// Binary values round-trip.
	must(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 255}}))
	got := must(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")}))
	if !bytes.Equal(got.SecretBinary, []byte{0, 1, 2, 255}) || got.SecretString != nil {
		t.Fatalf("binary secret = %v %v", got.SecretBinary, got.SecretString)
	}
	// Creating the same name again: ResourceExistsException; the same
	// token and value again is ignored (CreateSecret, ClientRequestToken).
	_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("x")})
	errAs[*types.ResourceExistsException](t, err)
	again := must(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(`{"password":"one"}`), ClientRequestToken: aws.String(tokA)}))
	if aws.ToString(again.ARN) != arn || aws.ToString(again.VersionId) != tokA {
		t.Fatalf("idempotent CreateSecret = %+v", again)
	}
	if n := len(srv.StagesOf(arn)); n != 1 {
		t.Fatalf("secret has %d versions, want 1", n)
	}
}

func TestErrorsAreTypedSDKErrors(t *testing.T) {
	srv, c := newServer(t)
	ctx := t.Context()
	arn := createWithVersion(t, c, "s", "v1", tokA)
	_ = srv

	tests := []struct {
		name    string
		call    func() error
		check   func(t *testing.T, err error)
		message string
	}{
		{
			name: "unknown secret",
			call: func() error {
				_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.ResourceNotFoundException](t, err) },
			message: "Secrets Manager can't find the specified secret.",
		},
		{
			name: "unknown staging label",
			call: func() error {
				_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPENDING")})
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.ResourceNotFoundException](t, err) },
			message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
		},
		{
			name: "VersionId and VersionStage of different versions",
			call: func() error {
				_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(tokA), VersionStage: aws.String("AWSPREVIOUS")})
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.ResourceNotFoundException](t, err) },
			message: "Secrets Manager can't find the specified secret value for VersionId: " + tokA,
		},
		{
			name: "same token, other value",
			call: func() error {
				_, err := put(t, c, arn, "v2", tokA)
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.ResourceExistsException](t, err) },
			message: "You can't use ClientRequestToken " + tokA + " because that value is already in use for a version of secret " + arn + ".",
		},
		{
			name: "label moved without RemoveFromVersionId",
			call: func() error {
				must(put(t, c, arn, "v2", tokB, "AWSPENDING"))
				_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokB),
				})
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.InvalidParameterException](t, err) },
			message: "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version " + tokA + ", so you must explicitly reference that version in RemoveFromVersionId.",
		},
		{
			name: "both ForceDeleteWithoutRecovery and RecoveryWindowInDays",
			call: func() error {
				_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true), RecoveryWindowInDays: aws.Int64(7)})
				return err
			},
			check:   func(t *testing.T, err error) { errAs[*types.InvalidParameterException](t, err) },
			message: "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			tt.check(t, err)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorMessage() != tt.message {
				t.Fatalf("message = %q, want %q", api.ErrorMessage(), tt.message)
			}
		})
	}
}

func TestPutSecretValueIdempotentOnToken(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	first := must(put(t, c, arn, "v2", tokB))
	second := must(put(t, c, arn, "v2", tokB)) // same token, same value: ignored
	if aws.ToString(first.VersionId) != tokB || aws.ToString(second.VersionId) != tokB {
		t.Fatalf("VersionIds = %s, %s", aws.ToString(first.VersionId), aws.ToString(second.VersionId))
	}
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
	// Same token, other value: ResourceExistsException and nothing changes.
	_, err := put(t, c, arn, "v3", tokB)
	errAs[*types.ResourceExistsException](t, err)
	if v, _ := srv.ValueOf(arn, tokB); v != "v2" {
		t.Fatalf("value of %s = %q, want v2", tokB, v)
	}
	// A repeated Put with other stages is ignored too: labels do not move.
	must(put(t, c, arn, "v2", tokB, "AWSPENDING"))
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
	// The RotationToken is recorded in the call log.
	must(c.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String("v4"), ClientRequestToken: aws.String(tokC),
		VersionStages: []string{"AWSPENDING"}, RotationToken: aws.String("rot-token-1"),
	}))
	calls := srv.Calls()
	last := calls[len(calls)-1]
	if last.Operation != "PutSecretValue" || last.RotationToken != "rot-token-1" || last.VersionID != tokC || last.ARN != arn {
		t.Fatalf("last call = %+v", last)
	}
}

func TestPutSecretValueMovesLabels(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, c *secretsmanager.Client, arn string)
		want   map[string][]string
		reads  string // value GetSecretValue returns by default afterwards
		listed []string
	}{
		{
			name:  "no VersionStages moves AWSCURRENT and AWSPREVIOUS follows",
			setup: func(t *testing.T, c *secretsmanager.Client, arn string) { must(put(t, c, arn, "v2", tokB)) },
			want:  map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}},
			reads: "v2",
		},
		{
			name: "AWSPREVIOUS leaves the older version, which becomes deprecated",
			setup: func(t *testing.T, c *secretsmanager.Client, arn string) {
				must(put(t, c, arn, "v2", tokB))
				must(put(t, c, arn, "v3", tokC))
			},
			want:   map[string][]string{tokA: {}, tokB: {"AWSPREVIOUS"}, tokC: {"AWSCURRENT"}},
			reads:  "v3",
			listed: []string{tokB, tokC},
		},
		{
			name: "AWSPENDING only: AWSCURRENT stays",
			setup: func(t *testing.T, c *secretsmanager.Client, arn string) {
				must(put(t, c, arn, "v2", tokB, "AWSPENDING"))
			},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}},
			reads: "v1",
		},
		{
			name: "a listed label moves from the version that had it",
			setup: func(t *testing.T, c *secretsmanager.Client, arn string) {
				must(put(t, c, arn, "v2", tokB, "AWSPENDING", "MINE"))
				must(put(t, c, arn, "v3", tokC, "AWSPENDING"))
			},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"MINE"}, tokC: {"AWSPENDING"}},
			reads: "v1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newServer(t)
			arn := createWithVersion(t, c, "s", "v1", tokA)
			tt.setup(t, c, arn)
			stagesEqual(t, srv.StagesOf(arn), tt.want)
			got := must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
			if aws.ToString(got.SecretString) != tt.reads {
				t.Fatalf("AWSCURRENT value = %q, want %q", aws.ToString(got.SecretString), tt.reads)
			}
			if tt.listed != nil {
				lst := must(c.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)}))
				var ids []string
				for _, v := range lst.Versions {
					ids = append(ids, aws.ToString(v.VersionId))
				}
				if !slices.Equal(ids, tt.listed) {
					t.Fatalf("ListSecretVersionIds = %v, want %v (deprecated versions left out)", ids, tt.listed)
				}
				all := must(c.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)}))
				if len(all.Versions) != len(tt.want) {
					t.Fatalf("IncludeDeprecated listed %d versions, want %d", len(all.Versions), len(tt.want))
				}
			}
		})
	}
}

func TestUpdateSecretVersionStage(t *testing.T) {
	type step struct {
		stage, moveTo, removeFrom string
		wantErr                   bool
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string][]string
	}{
		{
			name:  "RemoveFromVersionId required when the label is elsewhere",
			steps: []step{{stage: "AWSCURRENT", moveTo: tokB, wantErr: true}},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}},
		},
		{
			name:  "RemoveFromVersionId must be the version holding the label",
			steps: []step{{stage: "AWSCURRENT", moveTo: tokB, removeFrom: tokB, wantErr: true}},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}},
		},
		{
			name:  "moving AWSCURRENT moves AWSPREVIOUS to the old current",
			steps: []step{{stage: "AWSCURRENT", moveTo: tokB, removeFrom: tokA}},
			want:  map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT", "AWSPENDING"}},
		},
		{
			name: "rolling back takes AWSPREVIOUS off the version AWSCURRENT returns to",
			steps: []step{
				{stage: "AWSCURRENT", moveTo: tokB, removeFrom: tokA},
				{stage: "AWSCURRENT", moveTo: tokA, removeFrom: tokB},
			},
			want: map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING", "AWSPREVIOUS"}},
		},
		{
			name:  "removing a label",
			steps: []step{{stage: "AWSPENDING", removeFrom: tokB}},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {}},
		},
		{
			name:  "a label nobody holds needs no RemoveFromVersionId",
			steps: []step{{stage: "MINE", moveTo: tokB}},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING", "MINE"}},
		},
		{
			name:  "unknown version",
			steps: []step{{stage: "MINE", moveTo: tokC, wantErr: true}},
			want:  map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newServer(t)
			arn := createWithVersion(t, c, "s", "v1", tokA)
			must(put(t, c, arn, "v2", tokB, "AWSPENDING"))
			for _, st := range tt.steps {
				in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(arn), VersionStage: aws.String(st.stage)}
				if st.moveTo != "" {
					in.MoveToVersionId = aws.String(st.moveTo)
				}
				if st.removeFrom != "" {
					in.RemoveFromVersionId = aws.String(st.removeFrom)
				}
				_, err := c.UpdateSecretVersionStage(t.Context(), in)
				if st.wantErr && err == nil {
					t.Fatalf("UpdateSecretVersionStage(%+v) succeeded, want an error", st)
				}
				if !st.wantErr && err != nil {
					t.Fatalf("UpdateSecretVersionStage(%+v): %v", st, err)
				}
				if st.wantErr && st.moveTo != tokC {
					errAs[*types.InvalidParameterException](t, err)
				}
			}
			stagesEqual(t, srv.StagesOf(arn), tt.want)
			d := must(c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}))
			want := map[string][]string{}
			for id, st := range tt.want {
				if len(st) > 0 {
					want[id] = st
				}
			}
			stagesEqual(t, d.VersionIdsToStages, want)
		})
	}
}

// templateRotator is a rotation function written as AWS's rotation
// templates are, against the real SDK client.
type templateRotator struct {
	c        *secretsmanager.Client
	newValue string

	mu     sync.Mutex
	events []events.SecretsManagerSecretRotationEvent
	failAt map[string]int // step -> number of invocations still to fail
}

var errInjected = errors.New("injected failure")

func (r *templateRotator) fn(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	if r.failAt[ev.Step] > 0 {
		r.failAt[ev.Step]--
		r.mu.Unlock()
		return errInjected
	}
	r.mu.Unlock()

	d, err := r.c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return err
	}
	if !aws.ToBool(d.RotationEnabled) {
		return fmt.Errorf("rotation not enabled")
	}
	stages, ok := d.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return fmt.Errorf("version %s has no stage", ev.ClientRequestToken)
	}
	if slices.Contains(stages, "AWSCURRENT") {
		return nil
	}
	if !slices.Contains(stages, "AWSPENDING") {
		return fmt.Errorf("version %s not AWSPENDING", ev.ClientRequestToken)
	}
	switch ev.Step {
	case "createSecret":
		if _, err := r.c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT")}); err != nil {
			return err
		}
		_, err := r.c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING")})
		var nf *types.ResourceNotFoundException
		if err == nil {
			return nil
		} else if !errors.As(err, &nf) {
			return err
		}
		_, err = r.c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(ev.SecretID), ClientRequestToken: aws.String(ev.ClientRequestToken),
			SecretString: aws.String(r.newValue), VersionStages: []string{"AWSPENDING"}, RotationToken: aws.String(ev.RotationToken),
		})
		return err
	case "setSecret", "testSecret":
		_, err := r.c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING")})
		return err
	case "finishSecret":
		var current string
		for id, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSCURRENT") {
				current = id
			}
		}
		_, err := r.c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
		})
		return err
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

func TestRotateSecretRunsTheFourSteps(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	srv, c := newServer(t, rotatortest.WithClock(func() time.Time { return now }))
	arn := createWithVersion(t, c, "app/db", "old", tokA)
	r := &templateRotator{c: c, newValue: "new"}

	o, calls := rotatortest.Rotate(t, srv, "app/db", r.fn, rotatortest.WithToken(tokB),
		rotatortest.WithRotationRules(types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}))

	if !o.Succeeded || o.Err != nil || o.Attempts != 1 || o.Token != tokB || o.SecretID != arn {
		t.Fatalf("outcome = %+v", o)
	}
	if !slices.Equal(o.Steps, rotatortest.Steps) {
		t.Fatalf("steps = %v, want %v", o.Steps, rotatortest.Steps)
	}
	if len(r.events) != 4 {
		t.Fatalf("function saw %d events, want 4", len(r.events))
	}
	for i, ev := range r.events {
		if ev.Step != rotatortest.Steps[i] || ev.SecretID != arn || ev.ClientRequestToken != tokB ||
			ev.RotationToken == "" || ev.RotationToken != r.events[0].RotationToken || ev.RotationToken == tokB {
			t.Fatalf("event %d = %+v", i, ev)
		}
	}
	// The new value is AWSCURRENT, the old one AWSPREVIOUS, and Secrets
	// Manager took AWSPENDING off after the successful rotation.
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
	if v, _ := srv.ValueOf(arn, ""); v != "new" {
		t.Fatalf("AWSCURRENT value = %q", v)
	}
	d := must(c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}))
	if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != o.LambdaARN ||
		d.RotationRules == nil || aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 30 ||
		d.LastRotatedDate == nil || !d.LastRotatedDate.Equal(now) ||
		d.NextRotationDate == nil || !d.NextRotationDate.Equal(now.Add(30*24*time.Hour)) {
		t.Fatalf("DescribeSecret = %+v", d)
	}
	// The call log: RotateSecret first, then the function's calls, the Put
	// carrying the event's RotationToken.
	if len(calls) == 0 || calls[0].Operation != "RotateSecret" || calls[0].VersionID != tokB || calls[0].ARN != arn {
		t.Fatalf("first call = %+v", calls[0])
	}
	var putCall *rotatortest.Call
	for i := range calls {
		if calls[i].Operation == "PutSecretValue" {
			putCall = &calls[i]
		}
	}
	if putCall == nil || putCall.RotationToken != o.RotationToken || putCall.ClientRequestToken != tokB {
		t.Fatalf("PutSecretValue call = %+v, rotation token %q", putCall, o.RotationToken)
	}
	counts := srv.CallCounts()
	if counts["RotateSecret"] != 1 || counts["DescribeSecret"] != 5 || counts["UpdateSecretVersionStage"] != 1 {
		t.Fatalf("call counts = %v", counts)
	}
	// Nothing in the log holds a secret value.
	if s := fmt.Sprintf("%+v", srv.Calls()); strings.Contains(s, "new") || strings.Contains(s, "old") {
		t.Fatalf("call log holds a secret value: %s", s)
	}
}

func TestRotateSecretCreatesPendingVersionWithoutValue(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	var seen []string
	probe := func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		// What the function sees at createSecret, before it puts a value.
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		seen = d.VersionIdsToStages[ev.ClientRequestToken]
		var nf *types.ResourceNotFoundException
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSPENDING")})
		if !errors.As(err, &nf) {
			return fmt.Errorf("GetSecretValue(AWSPENDING) = %v, want ResourceNotFoundException", err)
		}
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken)})
		if !errors.As(err, &nf) {
			return fmt.Errorf("GetSecretValue(VersionId) = %v, want ResourceNotFoundException", err)
		}
		return errors.New("stop here")
	}
	o, _ := rotatortest.Rotate(t, srv, arn, probe, rotatortest.WithToken(tokB))
	if !slices.Equal(seen, []string{"AWSPENDING"}) {
		t.Fatalf("new version's stages at createSecret = %v", seen)
	}
	if o.Succeeded || !strings.Contains(o.Err.Error(), "stop here") {
		t.Fatalf("outcome = %+v", o)
	}
	// A failed rotation leaves AWSPENDING on the empty version.
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}})
	if _, ok := srv.ValueOf(arn, tokB); ok {
		t.Fatal("the pending version has a value")
	}
	lst := must(c.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)}))
	if len(lst.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds = %d versions, want 2", len(lst.Versions))
	}
}

func TestFailedRotationIsRetriedFromCreateSecret(t *testing.T) {
	tests := []struct {
		name         string
		opts         []rotatortest.Option
		failAt       map[string]int
		wantOK       bool
		wantAttempts int
		wantSteps    []string
	}{
		{
			name:         "setSecret fails once",
			failAt:       map[string]int{"setSecret": 1},
			wantOK:       true,
			wantAttempts: 2,
			wantSteps:    []string{"createSecret", "setSecret", "createSecret", "setSecret", "testSecret", "finishSecret"},
		},
		{
			name:         "finishSecret fails twice",
			failAt:       map[string]int{"finishSecret": 2},
			wantOK:       true,
			wantAttempts: 3,
			wantSteps:    slices.Concat(rotatortest.Steps, rotatortest.Steps, rotatortest.Steps),
		},
		{
			name:         "testSecret always fails: 3 attempts by default",
			failAt:       map[string]int{"testSecret": 99},
			wantAttempts: 3,
			wantSteps:    slices.Concat(rotatortest.Steps[:3], rotatortest.Steps[:3], rotatortest.Steps[:3]),
		},
		{
			name:         "WithRotationAttempts(1)",
			opts:         []rotatortest.Option{rotatortest.WithRotationAttempts(1)},
			failAt:       map[string]int{"createSecret": 1},
			wantAttempts: 1,
			wantSteps:    []string{"createSecret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newServer(t, tt.opts...)
			arn := createWithVersion(t, c, "s", "v1", tokA)
			r := &templateRotator{c: c, newValue: "v2", failAt: tt.failAt}
			o, _ := rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
			if o.Succeeded != tt.wantOK || o.Attempts != tt.wantAttempts || !slices.Equal(o.Steps, tt.wantSteps) {
				t.Fatalf("outcome = %+v, want ok=%v attempts=%d steps=%v", o, tt.wantOK, tt.wantAttempts, tt.wantSteps)
			}
			for _, ev := range r.events {
				if ev.ClientRequestToken != tokB || ev.RotationToken != r.events[0].RotationToken {
					t.Fatalf("a retry changed the token: %+v", ev)
				}
			}
			got, _ := srv.LastRotation("s")
			if got.Attempts != o.Attempts || got.Succeeded != o.Succeeded {
				t.Fatalf("LastRotation = %+v, Rotate returned %+v", got, o)
			}
			if tt.wantOK {
				if o.Err != nil {
					t.Fatalf("Err = %v", o.Err)
				}
				stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
				return
			}
			if !errors.Is(o.Err, errInjected) {
				t.Fatalf("Err = %v, want the function's error", o.Err)
			}
			var se *rotatortest.StepError
			if !errors.As(o.Err, &se) || se.Step != tt.wantSteps[len(tt.wantSteps)-1] {
				t.Fatalf("Err = %#v, want a StepError of the last step", o.Err)
			}
			if v := srv.VersionOf(arn, "AWSCURRENT"); v != tokA {
				t.Fatalf("AWSCURRENT moved to %s after a failed rotation", v)
			}
			if v := srv.VersionOf(arn, "AWSPENDING"); v != tokB {
				t.Fatalf("AWSPENDING on %q after a failed rotation, want %s", v, tokB)
			}
		})
	}
}

func TestRotateSecretWhilePreviousRotationIncomplete(t *testing.T) {
	srv, c := newServer(t, rotatortest.WithRotationAttempts(1))
	arn := createWithVersion(t, c, "s", "v1", tokA)
	r := &templateRotator{c: c, newValue: "v2", failAt: map[string]int{"setSecret": 1}}
	o, _ := rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
	if o.Succeeded {
		t.Fatal("first rotation succeeded, want a failure")
	}
	// RotateSecret: AWSPENDING on a version that is not AWSCURRENT means a
	// previous rotation is in progress: another rotation is refused.
	o2, calls := rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokC))
	e := errAs[*types.InvalidRequestException](t, o2.Err)
	if e.ErrorMessage() != "A previous rotation isn't complete. That rotation will be reattempted." || o2.Attempts != 0 {
		t.Fatalf("got %v, %+v", e, o2)
	}
	if len(calls) != 1 || calls[0].ErrorType != "InvalidRequestException" {
		t.Fatalf("calls = %+v", calls)
	}
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}})
	// The same token again is the same rotation: it runs again and, the
	// fault gone, completes.
	o3, _ := rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokB))
	if !o3.Succeeded || o3.Token != tokB {
		t.Fatalf("retried rotation = %+v", o3)
	}
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
	// With AWSPENDING gone, a new rotation may start.
	r.newValue = "v3"
	o4, _ := rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokC))
	if !o4.Succeeded {
		t.Fatalf("next rotation = %+v", o4)
	}
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {}, tokB: {"AWSPREVIOUS"}, tokC: {"AWSCURRENT"}})
}

func TestResumeRotation(t *testing.T) {
	srv, c := newServer(t, rotatortest.WithRotationAttempts(1))
	arn := createWithVersion(t, c, "s", "v1", tokA)
	r := &templateRotator{c: c, newValue: "v2", failAt: map[string]int{"testSecret": 1}}
	if o, _ := rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB)); o.Succeeded {
		t.Fatal("first rotation succeeded")
	}
	o, ok := srv.ResumeRotation(arn)
	if !ok || !o.Succeeded || o.Token != tokB || !slices.Equal(o.Steps, rotatortest.Steps) {
		t.Fatalf("ResumeRotation = %+v, %v", o, ok)
	}
	if v, _ := srv.ValueOf(arn, ""); v != "v2" {
		t.Fatalf("value = %q", v)
	}
	if _, ok := srv.ResumeRotation(arn); ok {
		t.Fatal("ResumeRotation found a rotation to resume after success")
	}
	// After CancelRotateSecret there is nothing to reattempt.
	r.failAt = map[string]int{"createSecret": 1}
	rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokC))
	must(c.CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)}))
	if o, ok := srv.ResumeRotation(arn); !ok || !errors.Is(o.Err, rotatortest.ErrRotationCancelled) || len(o.Steps) != 0 {
		t.Fatalf("ResumeRotation after cancel = %+v, %v", o, ok)
	}
}

func TestPendingLabelAfterSuccess(t *testing.T) {
	t.Run("removed by default", func(t *testing.T) {
		srv, c := newServer(t)
		arn := createWithVersion(t, c, "s", "v1", tokA)
		r := &templateRotator{c: c, newValue: "v2"}
		rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
		stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT"}})
	})
	t.Run("kept with WithoutPendingCleanup, and a new rotation may start", func(t *testing.T) {
		srv, c := newServer(t, rotatortest.WithoutPendingCleanup())
		arn := createWithVersion(t, c, "s", "v1", tokA)
		r := &templateRotator{c: c, newValue: "v2"}
		rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
		stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {"AWSCURRENT", "AWSPENDING"}})
		r.newValue = "v3"
		o, _ := rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokC))
		if !o.Succeeded {
			t.Fatalf("rotation after AWSPENDING on AWSCURRENT = %+v", o)
		}
		stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {}, tokB: {"AWSPREVIOUS"}, tokC: {"AWSCURRENT", "AWSPENDING"}})
	})
}

func TestRotationMustPromoteTheNewVersion(t *testing.T) {
	srv, c := newServer(t, rotatortest.WithRotationAttempts(2))
	arn := createWithVersion(t, c, "s", "v1", tokA)
	lazy := func(context.Context, events.SecretsManagerSecretRotationEvent) error { return nil }
	o, _ := rotatortest.Rotate(t, srv, arn, lazy, rotatortest.WithToken(tokB))
	if o.Succeeded || !errors.Is(o.Err, rotatortest.ErrNotPromoted) || o.Attempts != 2 {
		t.Fatalf("outcome = %+v", o)
	}
}

func TestRotateWithoutRegisteredFunction(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	must(c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String(arn), RotationLambdaARN: aws.String(rotatortest.FunctionARN("missing")), ClientRequestToken: aws.String(tokB),
	}))
	o, ok := srv.LastRotation(arn)
	if !ok || o.Succeeded || !errors.Is(o.Err, rotatortest.ErrNoFunction) {
		t.Fatalf("outcome = %+v", o)
	}
	// This is the state Secrets Manager leaves before createSecret.
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}})
	// No function and no ARN: refused.
	arn2 := createWithVersion(t, c, "s2", "v1", tokA)
	_, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn2)})
	errAs[*types.InvalidRequestException](t, err)
}

func TestRotateImmediatelyFalseRunsTestSecretOnly(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	var pendingValue string
	fn := func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSPENDING")})
		if err != nil {
			return err
		}
		pendingValue = aws.ToString(out.SecretString)
		return nil
	}
	o, _ := rotatortest.Rotate(t, srv, arn, fn, rotatortest.WithToken(tokB), rotatortest.WithRotateImmediately(false))
	if !o.Succeeded || !slices.Equal(o.Steps, []string{"testSecret"}) {
		t.Fatalf("outcome = %+v", o)
	}
	if pendingValue != "v1" {
		t.Fatalf("testSecret read AWSPENDING = %q, want a copy of the current value", pendingValue)
	}
	// "The test creates an AWSPENDING version of the secret and then removes it."
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSCURRENT"}})
	d := must(c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}))
	if !aws.ToBool(d.RotationEnabled) || d.LastRotatedDate != nil {
		t.Fatalf("DescribeSecret = %+v", d)
	}
}

func TestCancelRotateSecret(t *testing.T) {
	srv, c := newServer(t, rotatortest.WithRotationAttempts(1))
	arn := createWithVersion(t, c, "s", "v1", tokA)
	r := &templateRotator{c: c, newValue: "v2", failAt: map[string]int{"setSecret": 1}}
	rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))

	out := must(c.CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)}))
	if aws.ToString(out.VersionId) != tokB || aws.ToString(out.ARN) != arn {
		t.Fatalf("CancelRotateSecret = %+v", out)
	}
	d := must(c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}))
	if aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) == "" || d.NextRotationDate != nil {
		t.Fatalf("DescribeSecret after cancel = %+v", d)
	}
	// The pending version keeps its label (it is for the caller to remove).
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSCURRENT"}, tokB: {"AWSPENDING"}})
	must(c.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(tokB),
	}))
	if o, _ := rotatortest.Rotate(t, srv, arn, nil, rotatortest.WithToken(tokC)); !o.Succeeded {
		t.Fatalf("rotation after clean-up = %+v", o)
	}
}

func TestCancelDuringRotationStopsIt(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	var steps []string
	fn := func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		steps = append(steps, ev.Step)
		if ev.Step == "setSecret" {
			_, err := c.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(ev.SecretID)})
			return err
		}
		return nil
	}
	o, _ := rotatortest.Rotate(t, srv, arn, fn, rotatortest.WithToken(tokB))
	if o.Succeeded || !errors.Is(o.Err, rotatortest.ErrRotationCancelled) || !slices.Equal(steps, []string{"createSecret", "setSecret"}) {
		t.Fatalf("outcome = %+v, steps %v", o, steps)
	}
}

func TestPutSecretValueAbandonsRotation(t *testing.T) {
	srv, c := newServer(t, rotatortest.WithRotationAttempts(1))
	arn := createWithVersion(t, c, "s", "v1", tokA)
	r := &templateRotator{c: c, newValue: "v2", failAt: map[string]int{"setSecret": 1}}
	rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
	// A new AWSCURRENT version written by hand abandons the rotation.
	must(put(t, c, arn, "manual", tokC))
	stagesEqual(t, srv.StagesOf(arn), map[string][]string{tokA: {"AWSPREVIOUS"}, tokB: {}, tokC: {"AWSCURRENT"}})
	if o, _ := rotatortest.Rotate(t, srv, arn, nil); !o.Succeeded {
		t.Fatalf("rotation after abandonment = %+v", o)
	}
}

func TestGetRandomPassword(t *testing.T) {
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	classes := []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", punct}
	tests := []struct {
		name    string
		in      secretsmanager.GetRandomPasswordInput
		wantLen int
		allowed string   // every character is in here
		each    []string // at least one character of each
		wantErr bool
	}{
		{name: "defaults", wantLen: 32, allowed: strings.Join(classes, ""), each: classes},
		{name: "length 4 still has each type", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4)}, wantLen: 4, allowed: strings.Join(classes, ""), each: classes},
		{name: "exclude characters", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(200), ExcludeCharacters: aws.String("abcABC012!\"#")}, wantLen: 200,
			allowed: "defghijklmnopqrstuvwxyzDEFGHIJKLMNOPQRSTUVWXYZ3456789" + punct[3:]},
		{name: "exclude numbers and punctuation", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(100), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, wantLen: 100,
			allowed: classes[0] + classes[1], each: classes[:2]},
		{name: "exclude letters", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(100), ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true)}, wantLen: 100,
			allowed: classes[2] + punct, each: classes[2:]},
		{name: "only space", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(5), IncludeSpace: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, wantLen: 5,
			allowed: " ", each: []string{" "}},
		{name: "too short for the required types", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, wantErr: true},
		{name: "too short is fine when types are not required", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3), RequireEachIncludedType: aws.Bool(false)}, wantLen: 3, allowed: strings.Join(classes, "")},
		{name: "length 0", in: secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(0)}, wantErr: true},
		{name: "everything excluded", in: secretsmanager.GetRandomPasswordInput{ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, wantErr: true},
	}
	_, c := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 5 {
				out, err := c.GetRandomPassword(t.Context(), &tt.in)
				if tt.wantErr {
					if err == nil {
						t.Fatalf("got password %q, want an error", aws.ToString(out.RandomPassword))
					}
					return
				}
				pw := aws.ToString(must(out, err).RandomPassword)
				if len(pw) != tt.wantLen {
					t.Fatalf("len(%q) = %d, want %d", pw, len(pw), tt.wantLen)
				}
				for _, r := range pw {
					if !strings.ContainsRune(tt.allowed, r) {
						t.Fatalf("password %q has %q", pw, r)
					}
				}
				for _, cl := range tt.each {
					if !strings.ContainsAny(pw, cl) {
						t.Fatalf("password %q has no character of %q", pw, cl)
					}
				}
				seen[pw] = true
			}
			if tt.allowed != " " && len(seen) < 2 {
				t.Fatalf("5 passwords, %d distinct", len(seen))
			}
		})
	}
}

func TestDeleteSecret(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, c := newServer(t, rotatortest.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	arn := createWithVersion(t, c, "s", "v1", tokA)
	out := must(c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7)}))
	if !out.DeletionDate.Equal(now.Add(7 * 24 * time.Hour)) {
		t.Fatalf("DeletionDate = %v", out.DeletionDate)
	}
	// Scheduled for deletion: the value and most operations are refused.
	refused := map[string]func() error{
		"GetSecretValue": func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
			return err
		},
		"PutSecretValue": func() error { _, err := put(t, c, arn, "v2", tokB); return err },
		"RotateSecret": func() error {
			_, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(rotatortest.FunctionARN("f"))})
			return err
		},
		"DeleteSecret again": func() error {
			_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn)})
			return err
		},
		"CreateSecret same name": func() error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("x")})
			return err
		},
	}
	for name, call := range refused {
		t.Run(name, func(t *testing.T) { errAs[*types.InvalidRequestException](t, call()) })
	}
	d := must(c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}))
	if d.DeletedDate == nil || !d.DeletedDate.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("DeletedDate = %v", d.DeletedDate)
	}
	must(c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(arn)}))
	must(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
	// Force deletion: gone at once.
	must(c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}))
	_, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	errAs[*types.ResourceNotFoundException](t, err)
}

func TestFaults(t *testing.T) {
	t.Run("throttling is retried by the SDK", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("GetSecretValue", rotatortest.Fault{ErrorType: "ThrottlingException", Times: 2})
		out := must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
		if aws.ToString(out.SecretString) != "v1" {
			t.Fatalf("value = %q", aws.ToString(out.SecretString))
		}
		calls := srv.Calls()
		if len(calls) != 3 || !calls[0].Fault || !calls[1].Fault || calls[2].Fault || calls[0].ErrorType != "ThrottlingException" || calls[2].ErrorType != "" {
			t.Fatalf("calls = %+v", calls)
		}
	})
	t.Run("persistent throttling surfaces as a throttling error", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("GetSecretValue", rotatortest.Fault{ErrorType: "ThrottlingException"})
		_, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
			t.Fatalf("err = %v", err)
		}
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
			t.Fatalf("the SDK does not see %v as throttling", err)
		}
		if n := srv.CallCounts()["GetSecretValue"]; n != 3 {
			t.Fatalf("%d attempts, want 3 (the standard retryer's)", n)
		}
		srv.ClearFaults()
		must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
	})
	t.Run("InternalServiceError is a 500 and retried", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("DescribeSecret", rotatortest.Fault{ErrorType: "InternalServiceError"})
		_, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
		errAs[*types.InternalServiceError](t, err)
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
			t.Fatalf("err = %v, want HTTP status 500", err)
		}
		if n := srv.CallCounts()["DescribeSecret"]; n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
	})
	t.Run("a modelled client error is not retried", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("*", rotatortest.Fault{ErrorType: "ResourceNotFoundException", Message: "gone", Times: 1})
		_, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if e := errAs[*types.ResourceNotFoundException](t, err); e.ErrorMessage() != "gone" {
			t.Fatalf("message = %q", e.ErrorMessage())
		}
		must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
		if n := srv.CallCounts()["GetSecretValue"]; n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("latency", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("GetSecretValue", rotatortest.Fault{Latency: 80 * time.Millisecond, Times: 1})
		start := time.Now()
		must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}))
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("call took %v, want at least the injected 80ms", d)
		}
		// A deadline shorter than the latency fails the call.
		srv.InjectFault("GetSecretValue", rotatortest.Fault{Latency: time.Second, Times: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline error", err)
		}
	})
	t.Run("after apply: the change is made, the answer is an error", func(t *testing.T) {
		srv, c := newServer(t)
		arn := srv.MustCreateSecret(t, "s", "v1")
		srv.InjectFault("PutSecretValue", rotatortest.Fault{ErrorType: "InternalServiceError", AfterApply: true, Times: 1})
		in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tokA)}
		_, err := c.PutSecretValue(t.Context(), in)
		if err != nil {
			// The SDK retried the 500 with the same token: AWS's
			// idempotence makes the retry a success.
			t.Fatalf("err = %v, want the retry with the same token to succeed", err)
		}
		if v, ok := srv.ValueOf(arn, tokA); !ok || v != "v2" {
			t.Fatalf("value at the token = %q, %v", v, ok)
		}
		calls := srv.Calls()
		if len(calls) != 2 || !calls[0].Fault || calls[0].ErrorType != "InternalServiceError" || calls[1].Fault {
			t.Fatalf("calls = %+v", calls)
		}
		// With a deadline shorter than the latency, the caller gives up,
		// and the change was made all the same.
		srv.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{Latency: time.Second, AfterApply: true, Times: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(arn), VersionStage: aws.String("TEST"), MoveToVersionId: aws.String(tokA),
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline error", err)
		}
		if got := srv.StagesOf(arn)[tokA]; !slices.Contains(got, "TEST") {
			t.Fatalf("stages at the token = %v, want the label moved although the caller gave up", got)
		}
	})
	t.Run("a fault in a rotation's calls fails the step and the rotation is retried", func(t *testing.T) {
		srv, c := newServer(t)
		arn := createWithVersion(t, c, "s", "v1", tokA)
		srv.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{ErrorType: "InvalidRequestException", Times: 1})
		r := &templateRotator{c: c, newValue: "v2"}
		o, calls := rotatortest.Rotate(t, srv, arn, r.fn, rotatortest.WithToken(tokB))
		if !o.Succeeded || o.Attempts != 2 {
			t.Fatalf("outcome = %+v", o)
		}
		var faults int
		for _, cl := range calls {
			if cl.Fault {
				faults++
			}
		}
		if faults != 1 {
			t.Fatalf("%d faulty calls in the log, want 1", faults)
		}
	})
}

// rieHandler serves the Lambda Invoke API the way aws-lambda-rie does,
// handing each event to fn.
func rieHandler(t *testing.T, name string, fn rotatortest.RotationFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/"+name+"/invocations" {
			http.NotFound(w, r)
			return
		}
		var ev events.SecretsManagerSecretRotationEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("decoding event: %v", err)
		}
		if err := fn(r.Context(), ev); err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_ = json.NewEncoder(w).Encode(map[string]any{"errorMessage": err.Error(), "errorType": "errorString"})
			return
		}
		_, _ = io.WriteString(w, "null")
	})
}

func TestInvokeHTTP(t *testing.T) {
	ev := events.SecretsManagerSecretRotationEvent{Step: "setSecret", SecretID: "arn:x", ClientRequestToken: tokA, RotationToken: "rt"}
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		wantType string // FunctionError.ErrorType, "" for no FunctionError
		wantMsg  string
		wantErr  bool
	}{
		{
			name: "success",
			handler: func(w http.ResponseWriter, r *http.Request) {
				var got events.SecretsManagerSecretRotationEvent
				_ = json.NewDecoder(r.Body).Decode(&got)
				if got != ev || r.URL.Path != "/2015-03-31/functions/my-fn/invocations" || r.Method != http.MethodPost {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				_, _ = io.WriteString(w, "null")
			},
		},
		{
			name: "function error with header",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				_, _ = io.WriteString(w, `{"errorMessage":"db down","errorType":"errorString"}`)
			},
			wantType: "errorString", wantMsg: "db down", wantErr: true,
		},
		{
			name: "function error in the body only",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"errorMessage":"bad step","errorType":"ValueError","stackTrace":[]}`)
			},
			wantType: "ValueError", wantMsg: "bad step", wantErr: true,
		},
		{
			name: "header only",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				_, _ = io.WriteString(w, `timeout`)
			},
			wantType: "Unhandled", wantMsg: "timeout", wantErr: true,
		},
		{
			name:    "HTTP error",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusBadGateway) },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			err := rotatortest.InvokeHTTP(ts.URL, "my-fn")(t.Context(), ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var fe *rotatortest.FunctionError
			isFE := errors.As(err, &fe)
			if tt.wantType == "" {
				if isFE {
					t.Fatalf("got FunctionError %v", fe)
				}
				return
			}
			if !isFE || fe.ErrorType != tt.wantType || fe.ErrorMessage != tt.wantMsg || fe.FunctionName != "my-fn" {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestRotateThroughInvokeHTTP(t *testing.T) {
	srv, c := newServer(t)
	arn := createWithVersion(t, c, "s", "v1", tokA)
	r := &templateRotator{c: c, newValue: "v2", failAt: map[string]int{"testSecret": 1}}
	lambda := httptest.NewServer(rieHandler(t, "rotator", r.fn))
	defer lambda.Close()
	o, _ := rotatortest.Rotate(t, srv, arn, rotatortest.InvokeHTTP(lambda.URL, "rotator"), rotatortest.WithToken(tokB))
	if !o.Succeeded || o.Attempts != 2 {
		t.Fatalf("outcome = %+v", o)
	}
	if v, _ := srv.ValueOf(arn, ""); v != "v2" {
		t.Fatalf("value = %q", v)
	}
}

func TestConcurrentRotations(t *testing.T) {
	srv, c := newServer(t)
	const n = 8
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("s%d", i)
			srv.MustCreateSecret(t, name, "v1")
			r := &templateRotator{c: c, newValue: "v2-" + name}
			o, _ := rotatortest.Rotate(t, srv, name, r.fn)
			if !o.Succeeded {
				failures.Add(1)
				t.Errorf("%s: %+v", name, o)
			}
			if v, _ := srv.ValueOf(name, ""); v != "v2-"+name {
				t.Errorf("%s: value %q", name, v)
			}
		}()
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d rotations failed", failures.Load())
	}
	if got := srv.CallCounts()["RotateSecret"]; got != n {
		t.Fatalf("RotateSecret calls = %d, want %d", got, n)
	}
}

func TestWireFormat(t *testing.T) {
	srv := rotatortest.NewServer(rotatortest.WithoutListener())
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	do := func(op, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "secretsmanager."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Fatalf("Content-Type = %q", ct)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	st, m := do("GetSecretValue", `{"SecretId":"nope"}`)
	if st != 400 || m["__type"] != "ResourceNotFoundException" || m["message"] == "" {
		t.Fatalf("%d %v", st, m)
	}
	st, m = do("CreateSecret", `{"Name":"raw","SecretString":"v"}`)
	if st != 200 || m["VersionId"] == nil || !strings.Contains(m["ARN"].(string), ":secret:raw-") {
		t.Fatalf("%d %v", st, m)
	}
	// Without the SDK no ClientRequestToken is sent: RotateSecret makes one.
	srv.RegisterFunction(rotatortest.FunctionARN("f"), func(context.Context, events.SecretsManagerSecretRotationEvent) error { return nil })
	st, m = do("RotateSecret", `{"SecretId":"raw","RotationLambdaARN":"`+rotatortest.FunctionARN("f")+`"}`)
	if id, _ := m["VersionId"].(string); st != 200 || len(id) != 36 {
		t.Fatalf("%d %v", st, m)
	}
	st, m = do("ListSecrets", `{}`)
	if st != 400 || m["__type"] != "UnknownOperationException" {
		t.Fatalf("%d %v", st, m)
	}
	// The SDK reaches a server served elsewhere through EndpointOptions.
	c := secretsmanager.New(secretsmanager.Options{}, rotatortest.EndpointOptions(ts.URL))
	out := must(c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("raw")}))
	if aws.ToString(out.SecretString) != "v" {
		t.Fatalf("value = %q", aws.ToString(out.SecretString))
	}
}
