package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

func TestMain(m *testing.M) { pgtest.Main(rotatortest.Hygienic(m)) }

// cleanEnv keeps the machine's settings out of the command's way.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		postgres.EnvCABundle, postgres.EnvSSLMode, postgres.EnvAllowMD5, postgres.EnvAllowCleartext, rotator.EnvEndpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL",
		rotator.EnvDryRun, rotator.EnvMetrics, rotator.EnvLogLevel, "AWS_LAMBDA_FUNCTION_NAME", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
		"PASSWORD_LENGTH", "EXCLUDE_CHARACTERS", "PASSWORD_SOURCE",
	} {
		t.Setenv(k, "")
	}
}

// cli runs the command in-process and returns its exit status and output.
func cliRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	t.Logf("rotator %s -> %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func newSM(t *testing.T) *rotatortest.Server {
	t.Helper()
	srv := rotatortest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func secretJSON(t *testing.T, s *rotator.Secret, extra map[string]any) string {
	t.Helper()
	c := s.Clone()
	for k, v := range extra {
		if v == nil {
			c.Delete(k)
		} else if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.Value()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func currentValue(t *testing.T, srv *rotatortest.Server, arn string) *rotator.Secret {
	t.Helper()
	v, ok := srv.ValueOf(arn, srv.VersionOf(arn, "AWSCURRENT"))
	if !ok {
		t.Fatal("no AWSCURRENT value")
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noSecrets fails when any of the values appears in the output.
func noSecrets(t *testing.T, output string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(output, v) {
			t.Fatalf("the output holds a secret value")
		}
	}
}

func canLogin(t *testing.T, pg *pgtest.Server, user, pw string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pg.Connect(ctx, user, pw, "")
	if err != nil {
		return false
	}
	_ = c.Close(ctx)
	return true
}

// closedPort returns a TCP port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func writes(srv *rotatortest.Server) []string {
	var ops []string
	for _, c := range srv.Calls() {
		if c.Operation == "PutSecretValue" || c.Operation == "UpdateSecretVersionStage" {
			ops = append(ops, c.Operation)
		}
	}
	return ops
}

func TestUsage(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "rotator rotate"},
		{[]string{"rotate", "--function", "postgres-single-user"}, exitUsage, "--secret-id is required"},
		{[]string{"rotate", "--secret-id", "x"}, exitUsage, "--function is required (one of datadog-api-key, mysql-alternating-users, mysql-dual-password, mysql-single-user, okta-client-secret, postgres-alternating-users, postgres-single-user, sendgrid-api-key, twilio-api-key, webhook)"},
		{[]string{"rotate", "--secret-id", "x", "--function", "oracle"}, exitUsage, `unknown function "oracle"`},
		{[]string{"rotate", "--secret-id", "x", "--function", "postgres-single-user", "--token", "short"}, exitUsage, "--token must be"},
		{[]string{"rotate", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"rotate", "-h"}, exitOK, "-dry-run"},
		{[]string{"preflight", "--secret-id", "x"}, exitUsage, "--function is required"},
		{[]string{"local", "--port", "70000"}, exitUsage, "not a TCP port"},
		{[]string{"demo", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"functions"}, exitOK, "postgres-alternating-users"},
	} {
		code, out, errOut := cliRun(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("rotator %v: exit %d (want %d), output lacks %q", tc.args, code, tc.code, tc.want)
		}
	}
}

// A broken secret fails createSecret or setSecret with a message that
// names the field or the cause, leaves AWSCURRENT alone and never prints
// the password. No database is needed: each fails before a login.
func TestRotateBrokenSecret(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	const pw = "Br0ken-S3cret-Passw0rd"
	port := closedPort(t)
	for _, tc := range []struct {
		name, value string
		function    string
		want        []string
		pending     bool // a pending version is stored before the failure
	}{
		{"malformed", `{"engine":"postgres","username":"app","password":"` + pw + `"`, "postgres-single-user",
			[]string{"rotation failed at createSecret", "malformed secret value"}, false},
		{"missing-host", `{"engine":"postgres","username":"app","password":"` + pw + `"}`, "postgres-single-user",
			[]string{"createSecret", `field "host" is missing`}, false},
		{"wrong-engine", `{"engine":"mysql","host":"db","username":"app","password":"` + pw + `"}`, "postgres-single-user",
			[]string{"createSecret", `engine "mysql" is not PostgreSQL`}, false},
		{"no-masterarn", `{"engine":"postgres","host":"db","username":"app","password":"` + pw + `"}`, "postgres-alternating-users",
			[]string{"createSecret", `field "masterarn" is missing`}, false},
		{"unreachable", `{"engine":"postgres","host":"127.0.0.1","port":` + strconv.Itoa(port) + `,"username":"app","password":"` + pw + `","ssl":false}`, "postgres-single-user",
			[]string{"rotation failed at setSecret", "connection refused", "--token"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arn := srv.MustCreateSecret(t, "broken/"+tc.name, tc.value)
			before := srv.VersionOf(arn, "AWSCURRENT")
			code, out, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", "broken/"+tc.name, "--function", tc.function)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d", code, exitFailed)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if !strings.Contains(errOut, "AWSCURRENT is untouched") {
				t.Error("the message does not say AWSCURRENT is untouched")
			}
			noSecrets(t, out+errOut, pw)
			if srv.VersionOf(arn, "AWSCURRENT") != before {
				t.Fatal("AWSCURRENT moved")
			}
			if got := len(srv.StagesOf(arn)) > 1; got != tc.pending {
				t.Fatalf("pending version stored: %v, want %v", got, tc.pending)
			}
		})
	}
	t.Run("no-such-secret", func(t *testing.T) {
		code, _, errOut := cliRun(t, "rotate", "--endpoint", srv.URL(), "--secret-id", "nope", "--function", "postgres-single-user")
		if code != exitFailed || !strings.Contains(errOut, "ResourceNotFoundException") || !strings.Contains(errOut, "check --secret-id") {
			t.Fatalf("exit %d", code)
		}
	})
}

// Preflight of broken secrets: each failure names its field or cause and a
// fix, and the password never appears.
func TestPreflightBrokenSecret(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	const pw = "Pr3flight-S3cret-Passw0rd"
	port := closedPort(t)
	for _, tc := range []struct {
		name, value string
		function    string
		fail        []string // check names that must FAIL
		want        []string
	}{
		{"malformed", `{"username":"app","password":"` + pw + `",}`, "postgres-single-user",
			[]string{"secret value is JSON"}, []string{"malformed secret value", "store a JSON object"}},
		{"missing-fields", `{"engine":"postgres","port":"x","password":""}`, "postgres-single-user",
			[]string{"field host", "field port", "field username", "field password"},
			[]string{`"host" is missing`, `"port" must be a whole number`, `"username" is missing`, `"password" is empty`, `add "host"`}},
		{"wrong-engine", `{"engine":"mysql","host":"127.0.0.1","username":"app","password":"` + pw + `"}`, "postgres-single-user",
			[]string{"field engine"}, []string{`engine "mysql" is not PostgreSQL`}},
		{"unreachable", `{"engine":"postgres","host":"127.0.0.1","port":` + strconv.Itoa(port) + `,"username":"app","password":"` + pw + `"}`, "postgres-single-user",
			[]string{"TCP connect"}, []string{"refused: nothing listens there", "listen_addresses"}},
		{"unresolvable", `{"engine":"postgres","host":"no-such-host.invalid","username":"app","password":"` + pw + `"}`, "postgres-single-user",
			[]string{"DNS resolve"}, []string{`cannot resolve "no-such-host.invalid"`}},
		{"no-masterarn", `{"engine":"postgres","host":"127.0.0.1","port":` + strconv.Itoa(port) + `,"username":"app","password":"` + pw + `"}`, "postgres-alternating-users",
			[]string{"field masterarn"}, []string{`add "masterarn"`}},
		{"master-missing", `{"engine":"postgres","host":"127.0.0.1","port":` + strconv.Itoa(port) + `,"username":"app","password":"` + pw + `","masterarn":"no/such/master"}`, "postgres-alternating-users",
			[]string{"master secret readable"}, []string{"ResourceNotFoundException"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.MustCreateSecret(t, "pf/"+tc.name, tc.value)
			code, out, errOut := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", "pf/"+tc.name, "--function", tc.function)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d", code, exitFailed)
			}
			if !strings.Contains(out, "CHECK") || !strings.Contains(out, "RESULT") || !strings.Contains(out, "DETAIL") || !strings.Contains(out, "FIX") {
				t.Fatal("no table header")
			}
			for _, name := range tc.fail {
				if !tableHas(out, name, "FAIL") {
					t.Errorf("no FAIL row for %q", name)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			noSecrets(t, out+errOut, pw)
			if ops := writes(srv); len(ops) > 0 {
				t.Fatalf("preflight wrote: %v", ops)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, _ := cliRun(t, "preflight", "--json", "--endpoint", srv.URL(), "--secret-id", "pf/missing-fields", "--function", "postgres-single-user")
		var checks []jsonCheck
		if err := json.Unmarshal([]byte(out), &checks); err != nil || code != exitFailed {
			t.Fatalf("exit %d, %v", code, err)
		}
		found := false
		for _, c := range checks {
			if c.Check == "field host" && c.Result == "FAIL" && c.Fix != "" {
				found = true
			}
		}
		if !found {
			t.Fatal("no FAIL check for the host field with a fix")
		}
	})
	t.Run("no-such-secret", func(t *testing.T) {
		code, out, _ := cliRun(t, "preflight", "--endpoint", srv.URL(), "--secret-id", "nope", "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "secret exists", "FAIL") || !strings.Contains(out, "check --secret-id") {
			t.Fatalf("exit %d", code)
		}
	})
}

// tableHas reports whether a table line starts with check and shows result.
func tableHas(out, check, result string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, check+"  ") && strings.Contains(line, "  "+result+"  ") {
			return true
		}
	}
	return false
}

// startLocal runs `rotator local` in the background and returns its URL
// and a function that stops it and returns its exit status.
func startLocal(t *testing.T, args ...string) (url string, out *rotatortest.LogBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &rotatortest.LogBuffer{}, &rotatortest.LogBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"local", "--port", "0"}, args...), out, errb) }()
	deadline := time.Now().Add(20 * time.Second)
	for url == "" {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("local exited %d\n%s%s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("local did not start\n%s%s", out.String(), errb.String())
		}
		first, _, _ := strings.Cut(out.String(), "\n")
		if i := strings.Index(first, "listening on "); i >= 0 && strings.Contains(out.String(), "Ctrl-C") {
			url = strings.TrimSpace(first[i+len("listening on "):])
		}
		time.Sleep(10 * time.Millisecond)
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Error("local did not stop on cancel")
			}
			t.Logf("rotator local output:\n%s%s", out.String(), errb.String())
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return url, out, stop
}

func TestLocalServesAndSeeds(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	seed := dir + "/seed.json"
	doc := `{"secrets":[
		{"name":"app/db","description":"the app","value":{"engine":"postgres","host":"db","port":5432,"username":"app","password":"s33d-pw","x":[1, 2.50]}},
		{"name":"app/master","value":"{\"username\":\"admin\",\"password\":\"m4ster\"}"}
	]}`
	if err := writeFile(seed, doc); err != nil {
		t.Fatal(err)
	}
	url, out, stop := startLocal(t, "--seed", seed)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("url %q", url)
	}
	for _, w := range []string{"seeded app/db", "seeded app/master", "aws --endpoint-url " + url, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + url,
		"rotation function arn:aws:lambda:us-east-1:123456789012:function:postgres-single-user"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
	noSecrets(t, out.String(), "s33d-pw", "m4ster")

	ctx := context.Background()
	client := secretsmanager.New(secretsmanager.Options{}, rotatortest.EndpointOptions(url))
	got, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"engine":"postgres","host":"db","port":5432,"username":"app","password":"s33d-pw","x":[1, 2.50]}`; aws.ToString(got.SecretString) != want {
		t.Fatalf("seeded value %q, want the JSON as written", aws.ToString(got.SecretString))
	}
	m, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/master")})
	if err != nil || aws.ToString(m.SecretString) != `{"username":"admin","password":"m4ster"}` {
		t.Fatalf("string value: %v", err)
	}
	// The rest of the API is there too.
	if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	// And `rotator preflight` talks to it.
	code, pout, _ := cliRun(t, "preflight", "--endpoint", url, "--secret-id", "app/db", "--function", "postgres-single-user")
	if code != exitFailed || !tableHas(pout, "secret value is JSON", "PASS") {
		t.Fatalf("preflight through local: exit %d", code)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("local exit %d after cancel", code)
	}
	if !strings.Contains(out.String(), "stopping") {
		t.Fatal("no stopping message")
	}
}

func TestLocalBadSeed(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct{ doc, want string }{
		{`{"secrets":[{"value":{"password":"hidden-pw-1"}}]}`, `secrets[0]: "name" is missing`},
		{`{"secrets":[{"name":"a","value":42}]}`, `"value" must be a JSON object or a string`},
		{`{"secrets":[{"name":"a","value":{"password":"hidden-pw-2"}}`, "not valid JSON"},
		{`[{"name":"a"}]`, `want {"secrets"`},
		{`{"secrets":[{"name":"a","value":{}},{"name":"a","value":{}}]}`, `"a" appears twice`},
	} {
		p := dir + "/seed.json"
		if err := writeFile(p, tc.doc); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := cliRun(t, "local", "--port", "0", "--seed", p)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("seed %s: exit %d, output lacks %q", tc.doc, code, tc.want)
		}
		noSecrets(t, out+errOut, "hidden-pw-1", "hidden-pw-2")
	}
	if code, _, errOut := cliRun(t, "local", "--seed", dir+"/missing.json"); code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing seed file: exit %d", code)
	}
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// readmeSection returns the README's section under heading (a "## "
// line), up to the next heading of that level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	section := readme[i+len(heading):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	return section
}

// quickStartCommands returns the lines of README's Quick start, the
// commands TestPostgresQuickStart runs. Each must be a plain command (no
// quoting, variables or pipes) so that it runs the same whatever the
// user's shell.
func quickStartCommands(t *testing.T) []string {
	t.Helper()
	block := between(t, readmeSection(t, "## Quick start"), "```sh\n", "```")
	lines := strings.Split(strings.TrimSpace(block), "\n")
	for _, l := range lines {
		if strings.ContainsAny(l, `'"$|&;<>()*?#\`+"`") {
			t.Fatalf("Quick start line %q is not a plain command", l)
		}
	}
	return lines
}

// TestReadmeQuickStart checks README's Quick start without running it
// (TestPostgresQuickStart does): the rotator commands accept their flags,
// the endpoint is where rotator demo --keep listens, make demo is the
// demo, and the seed file the README shows is the one shipped, and valid.
func TestReadmeQuickStart(t *testing.T) {
	cleanEnv(t)
	section := readmeSection(t, "## Quick start")
	lines := quickStartCommands(t)
	var rotators int
	for _, line := range lines {
		args := strings.Fields(line)
		switch {
		case line == "make demo" || line == "go install ./cmd/rotator":
		case args[0] == "rotator":
			rotators++
			// "-h" after the flags stops the command before it does
			// anything, with status 0 when every flag is known.
			if code, _, errOut := cliRun(t, append(args[1:], "-h")...); code != exitOK {
				t.Errorf("%s: flags rejected: %s", line, errOut)
			}
			for i, a := range args {
				if (a == "--endpoint-url" || a == "--endpoint") && i+1 < len(args) && args[i+1] != "http://127.0.0.1:"+strconv.Itoa(DefaultLocalPort) {
					t.Errorf("%s: the endpoint is not where rotator demo --keep listens", line)
				}
			}
		default:
			t.Errorf("Quick start line %q: neither make demo, go install nor rotator", line)
		}
	}
	if rotators < 3 || !slices.Contains(lines, "rotator demo --keep") {
		t.Fatalf("Quick start has no rotator demo --keep, preflight and rotate:\n%s", strings.Join(lines, "\n"))
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "\ndemo:\n\t$(GO) run ./cmd/rotator demo\n") {
		t.Fatal("the Makefile's demo target does not run `go run ./cmd/rotator demo` (the code TestPostgresDemo runs)")
	}

	// The seed the README shows is examples/quickstart/secrets.json, and
	// rotator local reads it.
	shown := between(t, section, "```json\n", "```")
	file, err := os.ReadFile("../../examples/quickstart/secrets.json")
	if err != nil {
		t.Fatal(err)
	}
	if shown != string(file) {
		t.Errorf("README's seed differs from examples/quickstart/secrets.json:\n%s\nfile:\n%s", shown, file)
	}
	if !strings.Contains(section, "examples/quickstart/secrets.json") {
		t.Error("the Quick start does not name examples/quickstart/secrets.json")
	}
	if _, err := readSeed("../../examples/quickstart/secrets.json"); err != nil {
		t.Error(err)
	}
	// So is the --seed format's example.
	command := readmeSection(t, "## The rotator command")
	p := filepath.Join(t.TempDir(), "seed.json")
	if err := writeFile(p, between(t, command[strings.Index(command, "`--seed FILE` creates secrets"):], "```json\n", "```")); err != nil {
		t.Fatal(err)
	}
	if _, err := readSeed(p); err != nil {
		t.Errorf("README's --seed example: %v", err)
	}
	// And rotator local's client settings are shown as printed.
	var want strings.Builder
	printClientSetup(&want, "http://127.0.0.1:"+strconv.Itoa(DefaultLocalPort), "app/db")
	if !strings.Contains(command, "```\n"+want.String()+"```\n") {
		t.Errorf("README's rotator local settings differ from what it prints:\n%s", want.String())
	}
}

func between(t *testing.T, s, begin, end string) string {
	t.Helper()
	i := strings.Index(s, begin)
	if i < 0 {
		t.Fatalf("no %q", begin)
	}
	s = s[i+len(begin):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, begin)
	}
	return s[:j]
}

// The summary line counts warnings, and says what they mean.
func TestPrintChecksSummary(t *testing.T) {
	pass := rotator.Check{Name: "a", Status: rotator.CheckPass}
	warn := rotator.Check{Name: "b", Status: rotator.CheckWarn, Detail: "no password checked", Fix: "scram"}
	fail := rotator.Check{Name: "c", Status: rotator.CheckFail}
	cases := []struct {
		checks []rotator.Check
		want   string
	}{
		{[]rotator.Check{pass}, "1 check: 1 passed, 0 failed, 0 skipped: ready to rotate."},
		{[]rotator.Check{pass, warn}, "2 checks: 1 passed, 0 failed, 1 warned, 0 skipped: a rotation would work and protect nothing: fix the warnings above before rotating."},
		{[]rotator.Check{warn, fail}, "2 checks: 0 passed, 1 failed, 1 warned, 0 skipped: fix the failures above before rotating."},
	}
	for _, c := range cases {
		var b bytes.Buffer
		printChecks(&b, c.checks)
		if !strings.Contains(b.String(), "\n"+c.want+"\n") {
			t.Errorf("summary of %v:\n%s\nwant %q", c.checks, b.String(), c.want)
		}
		if len(c.checks) > 1 && !tableHas(b.String(), "b", "WARN") {
			t.Errorf("no WARN row:\n%s", b.String())
		}
	}
}
