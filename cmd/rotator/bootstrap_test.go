package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A user's own rotator, built as a Lambda bootstrap, is preflighted and
// rotated by the command as the built-in functions are: --function names
// its path, the command runs it under a local Lambda Runtime API.
func TestCustomBootstrap(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyfile-rotator", "bootstrap")
	build := exec.Command("go", "build", "-o", bin, "./testdata/keyfile-rotator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keyfile := filepath.Join(dir, "keys")
	const first = "first-key-Zq8rT2kL9mW3"
	if err := os.WriteFile(keyfile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYFILE", keyfile)
	srv := newSM(t)
	arn := srv.MustCreateSecret(t, "vendor/api", `{"api_key":"`+first+`","account":"42"}`)

	code, out, errOut := cliRun(t, "preflight", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", bin)
	if code != exitOK || !tableHas(out, "bootstrap starts", "PASS") || !tableHas(out, "current key accepted", "PASS") {
		t.Fatalf("preflight of a custom bootstrap: exit %d\n%s\n%s", code, out, errOut)
	}
	before := srv.VersionOf(arn, "AWSCURRENT")
	code, out2, errOut2 := cliRun(t, "rotate", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", bin)
	if code != exitOK || srv.VersionOf(arn, "AWSCURRENT") == before {
		t.Fatalf("rotate with a custom bootstrap: exit %d\n%s\n%s", code, out2, errOut2)
	}
	cur := currentValue(t, srv, arn)
	key, _ := cur.String("api_key")
	keys, _ := os.ReadFile(keyfile)
	if key == first || !strings.Contains(string(keys), key) {
		t.Fatalf("the service does not know the new key (%d keys)", len(strings.Fields(string(keys))))
	}
	if account, _ := cur.String("account"); account != "42" {
		t.Fatal("fields not carried over")
	}
	noSecrets(t, out+errOut+out2+errOut2, key)

	// A path that is not an executable is a usage error that says so.
	if code, _, errOut := cliRun(t, "rotate", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", keyfile); code != exitUsage || !strings.Contains(errOut, "not executable") {
		t.Fatalf("a non-executable --function: exit %d\n%s", code, errOut)
	}
}
