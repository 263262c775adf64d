package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// usageLines returns the usage line of every command as `rotator help`
// prints it, after "rotator ", by command name.
func usageLines(t *testing.T) map[string]string {
	t.Helper()
	code, out, _ := cliRun(t, "help")
	if code != exitOK {
		t.Fatalf("rotator help: exit %d", code)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "  rotator "); ok {
			f := strings.Fields(rest)
			lines[f[0]] = strings.Join(f, " ")
		}
	}
	return lines
}

// synopsisFlags returns the flags a usage line names, with the word that
// follows each (its metavariable, "" for a switch).
func synopsisFlags(line string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?:^|[ \[])(--?[a-z][a-z0-9-]*)(?: ([A-Za-z|]+))?`).FindAllStringSubmatch(line, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// helpFlags returns the flags `-h` lists (lines "  --name [META]") and the
// aliases it names (lines "        --alias: ...").
func helpFlags(help string) (flags map[string]string, aliases []string) {
	flags = map[string]string{}
	for _, l := range strings.Split(help, "\n") {
		if m := regexp.MustCompile(`^  (--?[a-z][a-z0-9-]*)(?: (\S+))?$`).FindStringSubmatch(l); m != nil {
			flags[m[1]] = m[2]
		}
		if m := regexp.MustCompile(`^ {8}(--[a-z][a-z0-9-]*): alias of `).FindStringSubmatch(l); m != nil {
			aliases = append(aliases, m[1])
		}
	}
	return flags, aliases
}

// valueFor is a value that a flag with metavariable meta accepts.
func valueFor(meta string) string {
	switch meta {
	case "":
		return ""
	case "N":
		return "1"
	case "text|json":
		return "json"
	case "URL":
		return "http://127.0.0.1:1"
	}
	return "x"
}

// TestHelpMatchesUsage: for every command, `rotator COMMAND -h` prints on
// stdout the same usage line as `rotator help`, lists exactly the flags
// that line names with the same metavariables, and each of them (and each
// alias it mentions) is accepted.
func TestHelpMatchesUsage(t *testing.T) {
	cleanEnv(t)
	lines := usageLines(t)
	for _, name := range []string{"rotate", "preflight", "local", "demo", "functions", "version"} {
		t.Run(name, func(t *testing.T) {
			line, ok := lines[name]
			if !ok {
				t.Fatalf("rotator help has no usage line for %s", name)
			}
			code, out, errOut := cliRun(t, name, "-h")
			if code != exitOK || errOut != "" {
				t.Fatalf("%s -h: exit %d, stderr %q (want 0, help on stdout)", name, code, errOut)
			}
			first, _, _ := strings.Cut(out, "\n")
			if got := strings.Join(strings.Fields(first), " "); got != "Usage: rotator "+line {
				t.Errorf("%s -h says\n  %s\nrotator help says\n  Usage: rotator %s", name, got, line)
			}
			want := synopsisFlags(line)
			got, aliases := helpFlags(out)
			for f, meta := range want {
				if gm, ok := got[f]; !ok {
					t.Errorf("the usage line names %s, -h does not list it", f)
				} else if gm != meta {
					t.Errorf("%s: -h shows %q, the usage line %q", f, gm, meta)
				}
			}
			for f := range got {
				if _, ok := want[f]; !ok {
					t.Errorf("-h lists %s, the usage line does not name it", f)
				}
			}
			for f, meta := range got {
				args := []string{name, f}
				if v := valueFor(meta); v != "" {
					args = append(args, v)
				}
				if code, _, errOut := cliRun(t, append(args, "-h")...); code != exitOK {
					t.Errorf("%v rejected: %s", args, errOut)
				}
			}
			for _, a := range aliases {
				args := []string{name, a}
				if a == "--endpoint" {
					args = append(args, "http://127.0.0.1:1")
				}
				if code, _, errOut := cliRun(t, append(args, "-h")...); code != exitOK {
					t.Errorf("alias %v rejected: %s", args, errOut)
				}
			}
		})
	}
	// A bad flag: the error and the help go to stderr, exit 2.
	code, out, errOut := cliRun(t, "preflight", "--bogus")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "Usage: rotator preflight") {
		t.Fatalf("bad flag: exit %d, stdout %q", code, out)
	}
}

// TestAWSFlags: the flags that name Secrets Manager as the AWS CLI spells
// them, and what client each combination builds.
func TestAWSFlags(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	config, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := writeFile(config, "[default]\n[profile dev]\nregion = eu-west-3\n[profile noregion]\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(creds, "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\n[noregion]\naws_access_key_id = AKIDNOREGION\naws_secret_access_key = x\n"); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	const local = "http://127.0.0.1:8484"
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		endpoint string // "" : AWS's
		region   string
		key      string // the access key id; "" : not checked
		err      string
	}{
		{name: "endpoint-url", args: []string{"--endpoint-url", local}, endpoint: local, region: "us-east-1", key: "rotator-local"},
		{name: "endpoint alias", args: []string{"--endpoint", local}, endpoint: local, region: "us-east-1", key: "rotator-local"},
		{name: "region", args: []string{"--endpoint-url", local, "--region", "eu-central-1"}, endpoint: local, region: "eu-central-1", key: "rotator-local"},
		{name: "env region", args: []string{"--endpoint-url", local}, env: map[string]string{"AWS_REGION": "sa-east-1"}, endpoint: local, region: "sa-east-1"},
		{name: "env endpoint", env: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": local}, endpoint: local, region: "us-east-1", key: "rotator-local"},
		{name: "profile", args: []string{"--profile", "dev", "--endpoint-url", local}, endpoint: local, region: "eu-west-3", key: "AKIDDEV"},
		{name: "profile and region", args: []string{"--profile", "dev", "--region", "ap-south-1"}, region: "ap-south-1", key: "AKIDDEV"},
		{name: "profile against AWS", args: []string{"--profile", "dev"}, region: "eu-west-3", key: "AKIDDEV"},
		{name: "profile without region, local", args: []string{"--profile", "noregion", "--endpoint-url", local}, endpoint: local, region: "us-east-1", key: "AKIDNOREGION"},
		{name: "profile without region, AWS", args: []string{"--profile", "noregion"}, err: "no AWS region: pass --region"},
		{name: "no such profile", args: []string{"--profile", "nope"}, err: "--profile nope"},
		{name: "bad endpoint", args: []string{"--endpoint-url", "127.0.0.1:8484"}, err: "--endpoint-url \"127.0.0.1:8484\": want a URL"},
		{name: "no region", err: "no AWS region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c := &cli{stdout: &strings.Builder{}, stderr: &strings.Builder{}, getenv: os.Getenv}
			fs := c.flags("rotate")
			var a awsFlags
			a.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			client, err := c.secretsManager(context.Background(), a)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := client.Options()
			if got := deref(o.BaseEndpoint); got != tc.endpoint {
				t.Errorf("endpoint %q, want %q", got, tc.endpoint)
			}
			if o.Region != tc.region {
				t.Errorf("region %q, want %q", o.Region, tc.region)
			}
			if tc.key != "" {
				cr, err := o.Credentials.Retrieve(context.Background())
				if err != nil || cr.AccessKeyID != tc.key {
					t.Errorf("access key %q (%v), want %q", cr.AccessKeyID, err, tc.key)
				}
			}
		})
	}
	// The flags reach a real call: the profile's credentials against a
	// local Secrets Manager.
	srv := newSM(t)
	srv.MustCreateSecret(t, "flags/x", `{"engine":"postgres"}`)
	for _, args := range [][]string{
		{"--endpoint-url", srv.URL(), "--profile", "dev", "--region", "us-west-2"},
		{"--endpoint", srv.URL()},
	} {
		_, out, _ := cliRun(t, append([]string{"preflight", "--secret-id", "flags/x", "--function", "postgres-single-user"}, args...)...)
		if !tableHas(out, "secret exists", "PASS") {
			t.Errorf("preflight %v did not reach the server", args)
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestOutputFormats: --output text|json for preflight (--json its alias)
// and rotate, whose JSON result is the only thing on stdout.
func TestOutputFormats(t *testing.T) {
	cleanEnv(t)
	srv := newSM(t)
	const pw = "0utput-S3cret-Passw0rd"
	srv.MustCreateSecret(t, "out/no-host", `{"engine":"postgres","username":"app","password":"`+pw+`"}`)
	t.Run("preflight", func(t *testing.T) {
		for _, flags := range [][]string{{"--output", "json"}, {"--json"}, {"--output=json"}} {
			code, out, _ := cliRun(t, append([]string{"preflight", "--endpoint-url", srv.URL(), "--secret-id", "out/no-host", "--function", "postgres-single-user"}, flags...)...)
			var checks []jsonCheck
			if err := json.Unmarshal([]byte(out), &checks); err != nil || code != exitFailed {
				t.Fatalf("%v: exit %d, stdout not a JSON array: %v", flags, code, err)
			}
			if !slices.ContainsFunc(checks, func(c jsonCheck) bool { return c.Check == "field host" && c.Result == "FAIL" }) {
				t.Errorf("%v: no FAIL check for the host", flags)
			}
			noSecrets(t, out, pw)
		}
		code, out, _ := cliRun(t, "preflight", "--output", "text", "--endpoint-url", srv.URL(), "--secret-id", "out/no-host", "--function", "postgres-single-user")
		if code != exitFailed || !tableHas(out, "field host", "FAIL") {
			t.Fatalf("--output text: exit %d", code)
		}
	})
	t.Run("bad-value", func(t *testing.T) {
		for _, cmd := range []string{"preflight", "rotate"} {
			code, _, errOut := cliRun(t, cmd, "--output", "yaml", "--secret-id", "x", "--function", "postgres-single-user")
			if code != exitUsage || !strings.Contains(errOut, `want text or json, not "yaml"`) {
				t.Errorf("%s --output yaml: exit %d", cmd, code)
			}
		}
	})
	t.Run("rotate-failed", func(t *testing.T) {
		code, out, errOut := cliRun(t, "rotate", "--output", "json", "--endpoint-url", srv.URL(), "--secret-id", "out/no-host", "--function", "postgres-single-user")
		var res rotateJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("stdout is not one JSON object: %v", err)
		}
		if code != exitFailed || res.Status != "failed" || res.FailedStep != "createSecret" || !strings.Contains(res.Error, `field "host" is missing`) ||
			res.ExitStatus != exitFailed || res.SecretID != "out/no-host" || res.Name != "out/no-host" || !strings.HasPrefix(res.ARN, "arn:aws:secretsmanager:") ||
			res.OldVersion == "" || res.CurrentVersion != res.OldVersion || len(res.Steps) != 1 || res.Steps[0].Outcome != "failure" {
			t.Fatalf("exit %d, result %+v", code, res)
		}
		if !strings.Contains(errOut, "rotation failed at createSecret") {
			t.Error("the messages left stderr")
		}
		noSecrets(t, out+errOut, pw)
	})
	t.Run("readme", func(t *testing.T) {
		// README's example of rotate's result has the fields it prints.
		section := readmeSection(t, "## The rotator command")
		i := strings.Index(section, "`--output json` prints, instead")
		if i < 0 {
			t.Fatal("README does not show rotate --output json")
		}
		dec := json.NewDecoder(strings.NewReader(between(t, section[i:], "```json\n", "```")))
		dec.DisallowUnknownFields()
		var res rotateJSON
		if err := dec.Decode(&res); err != nil || res.Status != "rotated" || len(res.Steps) != 4 {
			t.Fatalf("README's rotate --output json example: %v", err)
		}
	})
	t.Run("rotate-error", func(t *testing.T) {
		code, out, _ := cliRun(t, "rotate", "--output", "json", "--endpoint-url", srv.URL(), "--secret-id", "nope", "--function", "postgres-single-user")
		var res rotateJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitFailed || res.Status != "error" || !strings.Contains(res.Error, "ResourceNotFoundException") {
			t.Fatalf("exit %d, %v, result %+v", code, err, res)
		}
	})
}

// TestVersion: the module version and commit from the build information,
// "(devel)" and "unknown" when the build does not know them.
func TestVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "rotator (devel), commit unknown, "},
		{"checkout without VCS stamp", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "rotator (devel), commit unknown, "},
		{"empty version", &debug.BuildInfo{}, true, "rotator (devel), commit unknown, "},
		{"go install @version", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, true, "rotator v1.4.0, commit unknown, "},
		{"checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "false")}, true,
			"rotator (devel), commit 0123456789ab (2026-01-02T03:04:05Z), "},
		{"modified checkout", &debug.BuildInfo{Main: debug.Module{Version: "v1.5.0-0.20260102030405-0123456789ab"}, Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")}, true,
			"rotator v1.5.0-0.20260102030405-0123456789ab, commit 0123456789ab (with uncommitted changes), "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.bi, tc.ok); !strings.HasPrefix(got, tc.want) || !strings.Contains(got, " go1.") {
				t.Fatalf("%q, want %q followed by the Go version", got, tc.want)
			}
		})
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := cliRun(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "rotator ") || !strings.Contains(out, ", commit ") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// TestMakeHelp: `make help` prints the Makefile's "## target: text"
// comments, and every target a user runs has one.
func TestMakeHelp(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "help")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	var phony []string
	for _, l := range strings.Split(string(mk), "\n") {
		if rest, ok := strings.CutPrefix(l, ".PHONY:"); ok {
			phony = append(phony, strings.Fields(rest)...)
		}
		text, ok := strings.CutPrefix(l, "## ")
		if !ok {
			continue
		}
		// Shown as the shell reads it: make's $$ is the shell's $.
		text = strings.ReplaceAll(strings.TrimSpace(text), "$$", "$")
		want := regexp.MustCompile(`(?m)^ +` + regexp.QuoteMeta(text) + `$`) // a continuation line
		if target, desc, ok := strings.Cut(text, ": "); ok && regexp.MustCompile(`^[a-z-]+$`).MatchString(target) {
			want = regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(target) + ` +` + regexp.QuoteMeta(desc) + `$`)
		}
		if !want.Match(out) {
			t.Errorf("make help lacks %q\n%s", text, out)
		}
	}
	for _, target := range phony {
		if strings.Contains(target, "$") {
			continue // the per-architecture builds, run through build
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(target) + ` +\S`).Match(out) {
			t.Errorf("make help does not describe the target %q", target)
		}
	}
}

// TestLocalPrintsClientSetup: `rotator local` prints the environment that
// the AWS CLI v1 and v2, the SDKs and rotator need, and the commands for
// each CLI; with that environment and nothing else they reach it.
func TestLocalPrintsClientSetup(t *testing.T) {
	cleanEnv(t)
	seed := filepath.Join(t.TempDir(), "seed.json")
	if err := writeFile(seed, `{"secrets":[{"name":"app/db","value":{"engine":"postgres","host":"db","username":"app","password":"l0cal-Setup-Passw0rd"}}]}`); err != nil {
		t.Fatal(err)
	}
	url, out, _ := startLocal(t, "--seed", seed)
	env := map[string]string{}
	var v1, v2 string
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
		if strings.HasPrefix(l, "aws ") && strings.Contains(l, "describe-secret --secret-id app/db") {
			if strings.Contains(l, "--endpoint-url "+url+" ") {
				v1 = l
			} else {
				v2 = l
			}
		}
	}
	for k, want := range map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": url, // AWS CLI v2, the SDKs
		"AWS_REGION":                       "us-east-1",
		"AWS_DEFAULT_REGION":               "us-east-1", // AWS CLI v1 reads only this one
		"AWS_ACCESS_KEY_ID":                "*",
		"AWS_SECRET_ACCESS_KEY":            "*",
	} {
		if got, ok := env[k]; !ok || got == "" || (want != "*" && got != want) {
			t.Errorf("export %s=%q, want %q", k, got, want)
		}
	}
	if v1 == "" || v2 == "" {
		t.Fatalf("no AWS CLI v1 (--endpoint-url) and v2 (environment) commands:\n%s", out.String())
	}

	// rotator (the SDK) with that environment alone.
	for k, v := range env {
		t.Setenv(k, v)
	}
	if _, pout, _ := cliRun(t, "preflight", "--secret-id", "app/db", "--function", "postgres-single-user"); !tableHas(pout, "secret exists", "PASS") {
		t.Fatal("rotator with the printed environment did not reach the server")
	}

	// The AWS CLI, when it is installed: each printed command as a shell
	// runs it, with the printed environment and no configuration files;
	// the --endpoint-url one also without the endpoint variable.
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("no aws on PATH: the AWS CLI commands were not run")
		return
	}
	dir := t.TempDir()
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none")}
	for _, tc := range []struct {
		line string
		skip string // a variable left out
	}{{v2, ""}, {v1, ""}, {v1, "AWS_ENDPOINT_URL_SECRETS_MANAGER"}} {
		cmdEnv := slices.Clone(base)
		for k, v := range env {
			if k != tc.skip {
				cmdEnv = append(cmdEnv, k+"="+v)
			}
		}
		cmd := exec.Command("sh", "-c", tc.line)
		cmd.Env = cmdEnv
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(got), `"Name": "app/db"`) {
			t.Errorf("%s (without %s): %v\n%s", tc.line, tc.skip, err, got)
		}
	}
}
