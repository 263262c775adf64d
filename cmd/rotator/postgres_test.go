package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/pgserver"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// singleUser makes a login role and its secret; it returns the secret's
// ARN and the role's name and password.
func singleUser(t *testing.T, pg *pgtest.Server, srv *rotatortest.Server) (arn, user, pw string) {
	t.Helper()
	user, pw = pgtest.UniqueName("cli"), pgtest.RandomPassword(28)
	pg.CreateRole(t, user, pw, "LOGIN")
	arn = srv.MustCreateSecret(t, "db/"+user, secretJSON(t, pg.Secret(user, pw), map[string]any{"note": "kept"}))
	return arn, user, pw
}

// alternatingUsers makes a role, a master with CREATEROLE (and ADMIN OPTION
// on the role, which PostgreSQL 16+ needs) and their secrets.
func alternatingUsers(t *testing.T, pg *pgtest.Server, srv *rotatortest.Server, masterAttrs ...string) (arn, user, pw, masterPW string) {
	t.Helper()
	user, pw = pgtest.UniqueName("alt"), pgtest.RandomPassword(28)
	master, mpw := user+"_admin", pgtest.RandomPassword(28)
	pg.CreateRole(t, user, pw, "LOGIN")
	pg.CreateRole(t, master, mpw, append([]string{"LOGIN"}, masterAttrs...)...)
	if len(masterAttrs) > 0 {
		var v int
		if err := pg.Admin(t).QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v >= 160000 {
			pg.Exec(t, "GRANT "+user+" TO "+master+" WITH ADMIN OPTION")
		}
	}
	masterARN := srv.MustCreateSecret(t, "db/"+master, secretJSON(t, pg.Secret(master, mpw), nil))
	arn = srv.MustCreateSecret(t, "db/"+user, secretJSON(t, pg.Secret(user, pw), map[string]any{"masterarn": masterARN}))
	return arn, user, pw, mpw
}

func TestPostgresRotateSingleUser(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	before := srv.VersionOf(arn, "AWSCURRENT")

	code, out, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", "db/"+user, "--function", "postgres-single-user", "--emf")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if !progressLine(out, step, "ok") {
			t.Errorf("no progress line for %s", step)
		}
	}
	for _, w := range []string{"Rotated db/" + user, "Metrics (CloudWatch namespace Rotator, dimensions function and step)", "Duration (ms)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	cur := currentValue(t, srv, arn)
	if srv.VersionOf(arn, "AWSCURRENT") == before || srv.VersionOf(arn, "AWSPREVIOUS") != before {
		t.Fatal("AWSCURRENT did not move")
	}
	// As Secrets Manager does after a rotation it ran, the command takes
	// AWSPENDING off the version that is now AWSCURRENT.
	if p := srv.VersionOf(arn, "AWSPENDING"); p != "" {
		t.Fatalf("AWSPENDING left on %s after a successful rotation", p)
	}
	if v, _ := cur.String("note"); v != "kept" {
		t.Fatal("a field was not carried over")
	}
	if !canLogin(t, pg, user, cur.Password()) || canLogin(t, pg, user, pw) {
		t.Fatal("the new password does not log in, or the old one still does")
	}
	noSecrets(t, out+errOut, pw, cur.Password())

	// --emf: one EMF line per step, as a Lambda function writes them.
	var emf int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, `{"_aws"`) {
			continue
		}
		var m struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Function, Step, Outcome string
			Duration                float64
			Success, Failure        int
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("EMF line: %v", err)
		}
		d := m.AWS.CloudWatchMetrics[0]
		if d.Namespace != "Rotator" || strings.Join(d.Dimensions[0], ",") != "function,step" || m.Function != "postgres-single-user" || m.Success != 1 || m.Outcome != "success" {
			t.Fatalf("EMF line %s", line)
		}
		emf++
	}
	if emf != 4 {
		t.Fatalf("%d EMF lines, want 4", emf)
	}
}

// progressLine reports whether a "  step  outcome  N ms" line is there.
func progressLine(out, step, outcome string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == step && f[1] == outcome && f[3] == "ms" {
			return true
		}
	}
	return false
}

func TestPostgresRotateAlternatingUsers(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw, _ := alternatingUsers(t, pg, srv, "CREATEROLE")
	code, _, _ := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-alternating-users")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	cur := currentValue(t, srv, arn)
	if cur.Username() != user+"_clone" || !canLogin(t, pg, cur.Username(), cur.Password()) {
		t.Fatalf("AWSCURRENT is user %q and does not log in", cur.Username())
	}
	if !canLogin(t, pg, user, pw) {
		t.Fatal("the previous user stopped working")
	}
}

// --dry-run and $ROTATOR_DRY_RUN run every step's checks and write
// nothing: no PutSecretValue, no UpdateSecretVersionStage, no password
// change, no clone.
func TestPostgresRotateDryRun(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	altARN, altUser, altPW, _ := alternatingUsers(t, pg, srv, "CREATEROLE")
	for _, tc := range []struct {
		name, arn, function, user, pw string
		env                           bool
	}{
		{"single-flag", arn, "postgres-single-user", user, pw, false},
		{"single-env", arn, "postgres-single-user", user, pw, true},
		{"alternating", altARN, "postgres-alternating-users", altUser, altPW, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"rotate", "--endpoint", srv.URL(), "--secret-id", tc.arn, "--function", tc.function}
			if tc.env {
				t.Setenv(rotator.EnvDryRun, "true")
			} else {
				args = append(args, "--dry-run")
			}
			stages := srv.StagesOf(tc.arn)
			srv.ResetCalls()
			code, out, errOut := cliRun(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			for _, w := range []string{"dry run: nothing will be written", "pending value built, not stored", "checks passed, nothing changed", "AWSCURRENT not moved", "Dry run passed"} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if ops := writes(srv); len(ops) > 0 {
				t.Fatalf("dry run wrote: %v", ops)
			}
			if !sameStages(stages, srv.StagesOf(tc.arn)) {
				t.Fatal("dry run changed the version stages")
			}
			if !canLogin(t, pg, tc.user, tc.pw) {
				t.Fatal("dry run changed the password")
			}
			var clone bool
			if err := pg.Admin(t).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", tc.user+"_clone").Scan(&clone); err != nil || clone {
				t.Fatalf("dry run created the clone (%v)", err)
			}
			noSecrets(t, out+errOut, tc.pw)
		})
	}
	t.Run("checks-fail", func(t *testing.T) {
		// A dry run still logs in: a wrong password fails it.
		bad := srv.MustCreateSecret(t, "db/dry-bad", secretJSON(t, pg.Secret(user, "wrong-"+pw), nil))
		code, out, errOut := cliRun(t, "rotate", "--dry-run", "--endpoint", srv.URL(), "--secret-id", bad, "--function", "postgres-single-user")
		if code != exitFailed || !strings.Contains(errOut, "password authentication failed") || !strings.Contains(errOut, "dry run: nothing was written") {
			t.Fatalf("exit %d", code)
		}
		noSecrets(t, out+errOut, pw)
	})
}

// A wrong password fails setSecret; AWSCURRENT stays, and the message
// holds no password.
func TestPostgresRotateWrongPassword(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	_, user, pw := singleUser(t, pg, srv)
	wrong := "Wr0ng-" + pgtest.RandomPassword(20)
	arn := srv.MustCreateSecret(t, "db/wrong", secretJSON(t, pg.Secret(user, wrong), nil))
	before := srv.VersionOf(arn, "AWSCURRENT")
	code, out, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
	if code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"rotation failed at setSecret", "password authentication failed", "AWSCURRENT is untouched", "rotator preflight"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if srv.VersionOf(arn, "AWSCURRENT") != before || !canLogin(t, pg, user, pw) {
		t.Fatal("the failed rotation changed something")
	}
	noSecrets(t, out+errOut, pw, wrong)
}

// When finishSecret cannot reach Secrets Manager, the password is already
// changed: the run says so, and --token resumes it to completion.
func TestPostgresRotateResume(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	before := srv.VersionOf(arn, "AWSCURRENT")
	srv.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{ErrorType: "InternalServiceError"})
	code, out, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
	if code != exitFailed || !strings.Contains(errOut, "rotation failed at finishSecret") || !strings.Contains(errOut, "--token") {
		t.Fatalf("exit %d", code)
	}
	srv.ClearFaults()
	var token string
	for _, f := range strings.Fields(errOut) {
		if len(f) == 36 && strings.Count(f, "-") == 4 {
			token = f
		}
	}
	if token == "" || srv.VersionOf(arn, "AWSCURRENT") != before {
		t.Fatalf("no token in the message, or AWSCURRENT moved")
	}
	code, out2, errOut2 := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user", "--token", token)
	if code != exitOK || srv.VersionOf(arn, "AWSCURRENT") != token {
		t.Fatalf("resume: exit %d", code)
	}
	cur := currentValue(t, srv, arn)
	if !canLogin(t, pg, user, cur.Password()) {
		t.Fatal("the resumed rotation's password does not log in")
	}
	noSecrets(t, out+errOut+out2+errOut2, pw, cur.Password())
}

func TestPostgresPreflightPass(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	t.Run("single-user-tls", func(t *testing.T) {
		pg := pgtest.Shared(t, pgtest.WithTLS())
		arn, _, pw := singleUser(t, pg, srv)
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
		for _, c := range []string{"secret exists", "secret value is JSON", "secret fields", "DNS resolve", "TCP connect", "TLS handshake", "login with AWSCURRENT", "privilege to change password"} {
			if !tableHas(out, c, "PASS") {
				t.Errorf("no PASS row for %q", c)
			}
		}
		if !strings.Contains(out, "chain and host name verified") || !strings.Contains(out, "0 failed") {
			t.Error("the TLS detail or the summary is missing")
		}
		if strings.Contains(out, "WARN") || strings.Contains(out, "warned") {
			t.Error("a server that checks passwords got a warning")
		}
		noSecrets(t, out+errOut, pw)
		if ops := writes(srv); len(ops) > 0 {
			t.Fatalf("preflight wrote: %v", ops)
		}
	})
	t.Run("alternating-users", func(t *testing.T) {
		pg := pgtest.Shared(t)
		arn, user, pw, mpw := alternatingUsers(t, pg, srv, "CREATEROLE")
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-alternating-users")
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
		for _, c := range []string{"login with AWSCURRENT", "second user", "field masterarn", "master secret readable", "master login", "master CREATEROLE", "user " + user, "user " + user + "_clone", "master admin of " + user} {
			if !tableHas(out, c, "PASS") {
				t.Errorf("no PASS row for %q", c)
			}
		}
		if !tableHas(out, "TLS handshake", "SKIP") {
			t.Error("TLS is not SKIP for a secret with \"ssl\": false")
		}
		noSecrets(t, out+errOut, pw, mpw)
	})
}

// The fail table for secrets that are well formed but do not work.
func TestPostgresPreflightFailTable(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	pg := pgtest.Shared(t)
	t.Run("wrong-password", func(t *testing.T) {
		_, user, pw := singleUser(t, pg, srv)
		wrong := "Wr0ng-" + pgtest.RandomPassword(20)
		arn := srv.MustCreateSecret(t, "pf/wrong-"+user, secretJSON(t, pg.Secret(user, wrong), nil))
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "login with AWSCURRENT", "FAIL") || !strings.Contains(out, "is not the user's current password") {
			t.Fatalf("exit %d", code)
		}
		noSecrets(t, out+errOut, pw, wrong)
	})
	t.Run("master-without-createrole", func(t *testing.T) {
		arn, _, pw, mpw := alternatingUsers(t, pg, srv)
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-alternating-users")
		if code != exitFailed || !tableHas(out, "master CREATEROLE", "FAIL") || !strings.Contains(out, "CREATEROLE") || !tableHas(out, "master login", "PASS") {
			t.Fatalf("exit %d", code)
		}
		noSecrets(t, out+errOut, pw, mpw)
	})
	t.Run("tls-required-server-without", func(t *testing.T) {
		_, user, pw := singleUser(t, pg, srv)
		arn := srv.MustCreateSecret(t, "pf/tls-"+user, secretJSON(t, pg.Secret(user, pw), map[string]any{"ssl": true}))
		code, out, _ := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "TLS handshake", "FAIL") || !strings.Contains(out, "does not support TLS") || !tableHas(out, "login with AWSCURRENT", "SKIP") {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("wrong-ca", func(t *testing.T) {
		tpg := pgtest.Shared(t, pgtest.WithTLS())
		_, user, pw := singleUser(t, tpg, srv)
		arn := srv.MustCreateSecret(t, "pf/ca-"+user, secretJSON(t, tpg.Secret(user, pw), map[string]any{"sslrootcert": string(pgtest.NewCAPEM(t))}))
		code, out, _ := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "TLS handshake", "FAIL") || !strings.Contains(out, "unknown authority") || !strings.Contains(out, "global-bundle.pem") {
			t.Fatalf("exit %d", code)
		}
	})
}

// TestPostgresPreflightWarnsWhenNoPasswordIsChecked: on a server whose
// pg_hba.conf trusts host connections every login passes, whatever the
// password; preflight says so with a WARN row (the user's, and the
// master's) and exits 1, since a rotation there would protect nothing.
func TestPostgresPreflightWarnsWhenNoPasswordIsChecked(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	pg := pgtest.Shared(t, pgtest.WithTLS(), pgtest.WithHostAuth("trust"))
	t.Run("single-user", func(t *testing.T) {
		arn, _, pw := singleUser(t, pg, srv)
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "login with AWSCURRENT", "PASS") || !tableHas(out, "password check", "WARN") {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(out, "0 failed, 1 warned") || !strings.Contains(out, "fix the warnings above before rotating") {
			t.Error("the summary does not count the warning")
		}
		noSecrets(t, out+errOut, pw)
		code, out, _ = cliRun(t, "preflight", "--json", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
		if code != exitFailed || !strings.Contains(out, `"result": "WARN"`) {
			t.Fatalf("--json: exit %d", code)
		}
	})
	t.Run("alternating-users", func(t *testing.T) {
		arn, user, pw, mpw := alternatingUsers(t, pg, srv, "CREATEROLE")
		code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-alternating-users")
		if code != exitFailed || !tableHas(out, "password check", "WARN") || !tableHas(out, "master password check", "WARN") || !tableHas(out, "user "+user, "PASS") {
			t.Fatalf("exit %d", code)
		}
		noSecrets(t, out+errOut, pw, mpw)
	})
}

// `rotator local` registers the built-in functions: RotateSecret through
// the API runs the real Lambda handler against a real database.
func TestPostgresLocalRotateSecret(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	user, pw := pgtest.UniqueName("loc"), pgtest.RandomPassword(28)
	pg.CreateRole(t, user, pw, "LOGIN")
	seed := t.TempDir() + "/seed.json"
	value, _ := json.Marshal(map[string]any{"secrets": []any{map[string]any{"name": "app/db", "value": json.RawMessage(secretJSON(t, pg.Secret(user, pw), nil))}}})
	if err := writeFile(seed, string(value)); err != nil {
		t.Fatal(err)
	}
	url, out, stop := startLocal(t, "--seed", seed)
	ctx := context.Background()
	client := secretsmanager.New(secretsmanager.Options{}, rotatortest.EndpointOptions(url))
	if _, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String("app/db"),
		RotationLambdaARN: aws.String(rotatortest.FunctionARN("postgres-single-user")),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := rotator.ParseSecret(aws.ToString(got.SecretString))
	if err != nil {
		t.Fatal(err)
	}
	if cur.Password() == pw || !canLogin(t, pg, user, cur.Password()) {
		t.Fatal("RotateSecret did not rotate the password")
	}
	for _, step := range []string{"createSecret: ok", "setSecret: ok", "testSecret: ok", "finishSecret: ok"} {
		if !strings.Contains(out.String(), "postgres-single-user "+step) {
			t.Errorf("local did not print %q", step)
		}
	}
	stop()
	noSecrets(t, out.String(), pw, cur.Password())
}

// TestPostgresDemo runs what `make demo` runs.
func TestPostgresDemo(t *testing.T) {
	cleanEnv(t)
	pgtest.SetServerEnv(t) // the demo's server from the tests' backend
	code, out, errOut := cliRun(t, "demo")
	if code != exitOK && strings.Contains(errOut, pgserver.ErrUnavailable.Error()) && !pgtest.Required() {
		t.Skip("no PostgreSQL for the demo: " + errOut)
	}
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{
		"single-user        demo_single rotated in",
		"old password rejected ✓, new password accepted ✓",
		"alternating-users  demo_app -> demo_app_clone (created)",
		"demo_app still logs in ✓",
		"alternating-users  demo_app_clone -> demo_app",
		"demo_app_clone still logs in ✓",
		"Demo passed.",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("demo output lacks %q", w)
		}
	}
	if strings.Contains(out, "✗") {
		t.Fatal("a demo check failed")
	}
	if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines > 10 {
		t.Errorf("the demo printed %d lines; it should be a few", lines)
	}
}

// A new token must not take AWSPENDING over from an unfinished single-user
// rotation whose setSecret ran: that version holds the only password the
// database accepts. The run is refused with the command that resumes it;
// --abandon-pending is the explicit way to start over.
func TestPostgresRotateRefusesToTakeOverPending(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	srv.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{ErrorType: "InternalServiceError"})
	if code, _, _ := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user"); code != exitFailed {
		t.Fatalf("first run: exit %d, want a failure at finishSecret", code)
	}
	srv.ClearFaults()
	pending := srv.VersionOf(arn, "AWSPENDING")
	value, ok := srv.ValueOf(arn, pending)
	if pending == "" || !ok {
		t.Fatal("the failed run left no pending value")
	}
	pendingSecret, err := rotator.ParseSecret(value)
	if err != nil {
		t.Fatal(err)
	}
	if !canLogin(t, pg, user, pendingSecret.Password()) {
		t.Fatal("setSecret did not put the pending password in force")
	}
	before := srv.StagesOf(arn)

	code, out, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
	if code != exitFailed {
		t.Fatalf("a new token over a pending value: exit %d, want %d", code, exitFailed)
	}
	for _, w := range []string{"unfinished rotation", "--token " + pending, "--abandon-pending"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if after := srv.StagesOf(arn); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the refused run changed the stages: %v -> %v", before, after)
	}
	if !canLogin(t, pg, user, pendingSecret.Password()) {
		t.Fatal("the refused run changed the password")
	}

	// A dry run writes nothing and is allowed.
	if code, _, errOut := cliRun(t, "rotate", "--dry-run", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user"); code == exitUsage || strings.Contains(errOut, "unfinished rotation holds") {
		t.Fatalf("dry run refused: exit %d\n%s", code, errOut)
	}

	// Resuming finishes the rotation with the password in force.
	code, out2, errOut2 := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user", "--token", pending)
	if code != exitOK || srv.VersionOf(arn, "AWSCURRENT") != pending {
		t.Fatalf("resume: exit %d\n%s", code, errOut2)
	}
	if !canLogin(t, pg, user, currentValue(t, srv, arn).Password()) {
		t.Fatal("AWSCURRENT does not log in after the resume")
	}
	noSecrets(t, out+errOut+out2+errOut2, pw, pendingSecret.Password())
}

// --abandon-pending starts over as asked, after a rotation whose pending
// value was never put in force.
func TestPostgresRotateAbandonPending(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	// What a run that stopped after createSecret leaves: a value at
	// AWSPENDING that the database never saw.
	stale := currentValue(t, srv, arn)
	stale.SetString(rotator.FieldPassword, "never-set-"+pgtest.RandomPassword(20))
	v, err := stale.Value()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String(v), VersionStages: []string{"AWSPENDING"},
	}); err != nil {
		t.Fatal(err)
	}
	if !canLogin(t, pg, user, pw) {
		t.Fatal("set-up changed the password")
	}
	if code, _, _ := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user"); code != exitFailed {
		t.Fatalf("without --abandon-pending: exit %d, want %d", code, exitFailed)
	}
	code, _, errOut := cliRun(t, "rotate", "--abandon-pending", "--endpoint", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
	if code != exitOK {
		t.Fatalf("--abandon-pending: exit %d\n%s", code, errOut)
	}
	if !canLogin(t, pg, user, currentValue(t, srv, arn).Password()) {
		t.Fatal("AWSCURRENT does not log in")
	}
}

// TestPostgresPreflightMissingRole: a secret whose user does not exist
// fails the login row with a fix that says so and how to create it, not
// one about pg_hba.conf. A server that checks passwords answers as for a
// wrong password (it does not tell names apart); one that asks for none
// names the missing role, and so does the rotation's error.
func TestPostgresPreflightMissingRole(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	for _, tc := range []struct {
		name string
		opts []pgtest.Option
		want []string // in the login row's fix
	}{
		{"password-server", nil, []string{"or the role does not exist"}},
		{"trust-server", []pgtest.Option{pgtest.WithTLS(), pgtest.WithHostAuth("trust")}, []string{"does not exist on this server", "CREATE ROLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := pgtest.Shared(t, tc.opts...)
			user, pw := pgtest.UniqueName("ghost"), pgtest.RandomPassword(28)
			arn := srv.MustCreateSecret(t, "pf/"+user, secretJSON(t, pg.Secret(user, pw), nil))
			code, out, errOut := cliRun(t, "preflight", "--output", "json", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
			var checks []jsonCheck
			if err := json.Unmarshal([]byte(out), &checks); err != nil || code != exitFailed {
				t.Fatalf("exit %d, %v", code, err)
			}
			var login *jsonCheck
			for i := range checks {
				if checks[i].Check == "login with AWSCURRENT" {
					login = &checks[i]
				}
			}
			if login == nil || login.Result != "FAIL" {
				t.Fatalf("login row %+v, want FAIL", login)
			}
			for _, w := range tc.want {
				if !strings.Contains(login.Fix, w) {
					t.Errorf("fix %q lacks %q", login.Fix, w)
				}
			}
			if strings.Contains(login.Fix, "pg_hba") {
				t.Errorf("fix %q blames pg_hba.conf for a missing role", login.Fix)
			}
			noSecrets(t, out+errOut, pw)
			if len(tc.opts) == 0 {
				return
			}
			code, out, errOut = cliRun(t, "rotate", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", "postgres-single-user")
			if code != exitFailed || !strings.Contains(errOut, `role "`+user+`" does not exist`) {
				t.Fatalf("rotate: exit %d, stderr lacks the missing role", code)
			}
			noSecrets(t, out+errOut, pw)
		})
	}
}

// TestPostgresRotateOutputJSON: with --output json, stdout is the result
// and only the result, for a rotation and a dry run; --emf's lines move to
// stderr.
func TestPostgresRotateOutputJSON(t *testing.T) {
	cleanEnv(t)
	pg := pgtest.Shared(t)
	srv := newSM(t)
	arn, user, pw := singleUser(t, pg, srv)
	for _, tc := range []struct {
		name   string
		flags  []string
		status string
	}{
		{"dry-run", []string{"--dry-run"}, "dry-run-passed"},
		{"rotate", []string{"--emf"}, "rotated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.VersionOf(arn, "AWSCURRENT")
			args := append([]string{"rotate", "--output", "json", "--endpoint-url", srv.URL(), "--secret-id", "db/" + user, "--function", "postgres-single-user"}, tc.flags...)
			code, out, errOut := cliRun(t, args...)
			var res rotateJSON
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("stdout is not one JSON object: %v", err)
			}
			if code != exitOK || res.Status != tc.status || res.ExitStatus != exitOK || res.ARN != arn || res.Name != "db/"+user || res.SecretID != "db/"+user ||
				res.OldVersion != before || res.FailedStep != "" || res.Error != "" || len(res.Steps) != 4 || res.DurationMS <= 0 {
				t.Fatalf("exit %d, result %+v", code, res)
			}
			for i, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
				if res.Steps[i].Step != step || res.Steps[i].Outcome == "failure" {
					t.Errorf("step %d: %+v, want %s", i, res.Steps[i], step)
				}
			}
			switch tc.status {
			case "rotated":
				if res.CurrentVersion != res.Token || srv.VersionOf(arn, "AWSCURRENT") != res.Token || !res.PendingStored || res.DryRun {
					t.Fatalf("result %+v does not say where AWSCURRENT is (%s)", res, srv.VersionOf(arn, "AWSCURRENT"))
				}
				if !strings.Contains(errOut, `{"_aws"`) {
					t.Error("--emf's lines are not on stderr")
				}
			case "dry-run-passed":
				if res.CurrentVersion != before || res.PendingStored || !res.DryRun {
					t.Fatalf("result %+v", res)
				}
			}
			noSecrets(t, out+errOut, pw, currentValue(t, srv, arn).Password())
		})
	}
}
