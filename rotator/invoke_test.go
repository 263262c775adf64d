package rotator_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// preflighting is a strategy with preflight checks; its careless check
// quotes the password, which the handler must scrub.
type preflighting struct{ trivial }

func (*preflighting) Preflight(_ context.Context, in rotator.PreflightInput) []rotator.Check {
	return []rotator.Check{{Name: "careless", Status: rotator.CheckPass, Detail: "logged in with " + in.Current.Password() + " as " + in.Current.Username()}}
}

// The Lambda entry point runs rotation events, and answers the rotator
// command's preflight request only with the local driver.
func TestInvoke(t *testing.T) {
	srv := rotatortest.NewServer()
	defer srv.Close()
	const pw = "Invoke-Pw-9f3Kq2!xZ"
	arn := srv.MustCreateSecret(t, "invoke/app", `{"username":"app","password":"`+pw+`"}`)
	preflight := json.RawMessage(`{"rotatorPreflight":{"SecretId":"` + arn + `"}}`)

	h, err := rotator.New(srv.Client(), &preflighting{trivial{t: newTarget("app", pw)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), preflight); err == nil || !strings.Contains(err.Error(), "local driver") {
		t.Fatalf("a preflight request without the local driver: %v", err)
	}
	if _, err := h.Invoke(context.Background(), json.RawMessage(`{"Step":"dropSecret","SecretId":"x","ClientRequestToken":"t"}`)); err == nil {
		t.Fatal("an unknown step was accepted")
	}

	local, err := rotator.New(srv.Client(), &preflighting{trivial{t: newTarget("app", pw)}}, rotator.WithLocalDriver(true))
	if err != nil {
		t.Fatal(err)
	}
	res, err := local.Invoke(context.Background(), preflight)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Checks) != 1 || res.Checks[0].Name != "careless" {
		t.Fatalf("checks = %+v", res.Checks)
	}
	if strings.Contains(res.Checks[0].Detail, pw) || !strings.Contains(res.Checks[0].Detail, rotator.Redacted) {
		t.Fatalf("the check's text was not scrubbed: %q", res.Checks[0].Detail)
	}
}

// The local driver is the rotator command's, never a Lambda function's.
func TestLocalDriverFromEnvironment(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := rotator.EnvOptions(env(map[string]string{rotator.EnvLocalDriver: "true", "AWS_LAMBDA_FUNCTION_NAME": "prod-rotator"}), nil); err == nil || !strings.Contains(err.Error(), rotator.EnvLocalDriver) {
		t.Fatalf("the local driver inside Lambda: %v", err)
	}
	if _, err := rotator.EnvOptions(env(map[string]string{rotator.EnvLocalDriver: "true"}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rotator.EnvOptions(env(map[string]string{rotator.EnvLocalDriver: "perhaps"}), nil); err == nil {
		t.Fatal("a bad value was accepted")
	}
}
