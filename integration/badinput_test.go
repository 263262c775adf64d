package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

// The bad-input tests feed the real handler, with the real engines against
// real servers, secret values and events that whoever writes a secret or
// forges an invocation could send. Every case must fail with an error
// that names the field (or the cause), is short and printable (hostile
// values arrive quoted and cut, never raw), and change nothing: no
// version or stage of the secret, no account, password hash or privilege
// on the server; the user's AWSCURRENT password keeps logging in.

// maxBadInputError bounds an error's length: the step, the secret's ARN
// (about 100 bytes), the reason and a quoted, cut value. The single-user
// strategy's report of every password it tried (an unknown user) may be
// longer, up to the handler's cap (maxLoginReport).
const (
	maxBadInputError = 400
	maxLoginReport   = rotator.MaxErrorMessage + len("... (10000 bytes)")
)

// longestBadInputError is the longest error text seen, for the log.
var longestBadInputError atomic.Int64

// badInputsTried counts the cases run, for the report.
var badInputsTried atomic.Int64

// badEngine is what the cases need of one engine and its server.
type badEngine struct {
	name     string
	host     string
	base     *rotator.Secret // a valid secret for user, who logs in
	user, pw string
	master   *rotator.Secret // the server's superuser
	login    func(user, pw string) error
	snapshot func(t *testing.T) string
	single   func() rotator.Strategy
	alt      func() rotator.Strategy
}

// badEnv is what a case's value is built from: the base secret's fields,
// the rig's Secrets Manager and the rotated secret's ARN.
type badEnv struct {
	t      *testing.T
	e      *badEngine
	sm     *rotatortest.Server
	arn    string
	fields map[string]json.RawMessage
}

// with returns the base secret with fields set (a nil value deletes).
func (c *badEnv) with(set map[string]any) string {
	c.t.Helper()
	m := map[string]json.RawMessage{}
	for k, v := range c.fields {
		m[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		if raw, ok := v.(json.RawMessage); ok {
			m[k] = raw
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		m[k] = b
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// store stores another secret in the rig's Secrets Manager.
func (c *badEnv) store(s *rotator.Secret) string {
	c.t.Helper()
	v, err := s.Value()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.sm.MustCreateSecret(c.t, pgtest.UniqueName("rds/other"), v)
}

// badSecret is one bad secret value: the rotation of a secret holding it
// at AWSCURRENT must fail with an error naming want.
type badSecret struct {
	name  string
	alt   bool // rotated by the alternating strategy (masterarn cases)
	value func(c *badEnv) string
	want  []string
	// hostile is a value of the case that must never appear raw (a long
	// or control-character value the error may quote only cut).
	hostile string
	// report marks the single-user strategy's login report: the error
	// may be up to maxLoginReport bytes.
	report bool
}

var (
	long200  = strings.Repeat("u", 200)
	long3000 = strings.Repeat("x", 3000)
	ctrl     = "app\x00\x01\x1b[31m\r\n{\"level\":\"ERROR\",\"msg\":\"forged\"}\u202e\u200f"
)

func set(k string, v any) func(c *badEnv) string {
	return func(c *badEnv) string { return c.with(map[string]any{k: v}) }
}

func raw(s string) func(c *badEnv) string { return func(*badEnv) string { return s } }

// nested is a JSON object whose field "deep" nests n arrays.
func nested(n int) string {
	return `{"deep":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
}

// badSecrets are the secret values, for every engine.
func badSecrets() []badSecret {
	missingARN := "arn:aws:secretsmanager:" + rotatortest.Region + ":" + rotatortest.AccountID + ":secret:rds/missing-AbCdEf"
	return []badSecret{
		{name: "not JSON", value: raw("host=db user=app password=x"), want: []string{"current secret", "JSON"}},
		{name: "truncated JSON", value: func(c *badEnv) string { v := c.with(nil); return v[:len(v)/2] }, want: []string{"current secret", "JSON"}},
		{name: "JSON array", value: raw(`[{"username":"app"}]`), want: []string{"current secret", "JSON object"}},
		{name: "JSON string", value: raw(`"postgres"`), want: []string{"current secret", "JSON object"}},
		{name: "JSON null", value: raw(`null`), want: []string{"current secret", "JSON object"}},
		{name: "JSON number", value: raw(`5432`), want: []string{"current secret", "JSON object"}},
		{name: "empty object", value: raw(`{}`), want: []string{"host"}},
		{name: "trailing data", value: func(c *badEnv) string { return c.with(nil) + `{"username":"postgres"}` }, want: []string{"current secret", "trailing"}},
		{name: "nested 10,001 deep", value: raw(nested(10001)), want: []string{"current secret", "JSON"}},
		{name: "nested deep with valid fields", value: func(c *badEnv) string {
			v := c.with(nil)
			return v[:len(v)-1] + `,"deep":` + strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001) + "}"
		}, want: []string{"current secret", "JSON"}},
		{name: "65,536 bytes, pending would be larger", value: func(c *badEnv) string {
			// A one-character password: the pending value's new one is longer.
			v := c.with(map[string]any{"padding": "", rotator.FieldPassword: "x"})
			pad := strings.Repeat("p", rotatortest.MaxSecretSize-len(v))
			return c.with(map[string]any{"padding": pad, rotator.FieldPassword: "x"})
		}, want: []string{"SecretString", "65536"}},
		{name: "missing host", value: set(rotator.FieldHost, nil), want: []string{`"host"`}},
		{name: "missing username", value: set(rotator.FieldUsername, nil), want: []string{`"username"`}},
		{name: "missing password", value: set(rotator.FieldPassword, nil), want: []string{`"password"`}},
		{name: "null username", value: set(rotator.FieldUsername, json.RawMessage(`null`)), want: []string{`"username"`}},
		{name: "empty username", value: set(rotator.FieldUsername, ""), want: []string{`"username"`}},
		{name: "empty password", value: set(rotator.FieldPassword, ""), want: []string{`"password"`}},
		{name: "host a number", value: set(rotator.FieldHost, 127001), want: []string{`"host"`}},
		{name: "username a number", value: set(rotator.FieldUsername, 42), want: []string{`"username"`}},
		{name: "username an array", value: set(rotator.FieldUsername, []string{"app"}), want: []string{`"username"`}},
		{name: "password an object", value: set(rotator.FieldPassword, map[string]string{"v": "x"}), want: []string{`"password"`}},
		{name: "password a number", value: set(rotator.FieldPassword, 123456789), want: []string{`"password"`}},
		{name: "dbname a number", value: set(rotator.FieldDBName, 5), want: []string{`"dbname"`}},
		{name: "unknown engine", value: set(rotator.FieldEngine, "oracle"), want: []string{"engine", "oracle"}},
		{name: "engine a number", value: set(rotator.FieldEngine, 7), want: []string{`"engine"`}},
		{name: "engine of 3,000 characters", value: set(rotator.FieldEngine, long3000), want: []string{"engine", "3000 bytes"}, hostile: long3000},
		{name: "engine with control characters", value: set(rotator.FieldEngine, ctrl), want: []string{"engine"}, hostile: ctrl},
		{name: "port 0", value: set(rotator.FieldPort, 0), want: []string{`"port"`}},
		{name: "port 65536", value: set(rotator.FieldPort, 65536), want: []string{`"port"`}},
		{name: "port -1", value: set(rotator.FieldPort, -1), want: []string{`"port"`}},
		{name: "port huge", value: set(rotator.FieldPort, json.RawMessage(`99999999999999999999999`)), want: []string{`"port"`}},
		{name: "port fraction", value: set(rotator.FieldPort, 5432.5), want: []string{`"port"`}},
		{name: "port a word", value: set(rotator.FieldPort, "fivefourthreetwo"), want: []string{`"port"`}},
		{name: "port a string out of range", value: set(rotator.FieldPort, "70000"), want: []string{`"port"`}},
		{name: "port a bool", value: set(rotator.FieldPort, true), want: []string{`"port"`}},
		{name: "username with quotes", value: set(rotator.FieldUsername, `o'brien"; DROP ROLE postgres; --`), want: []string{`"username"`, `"password"`, `o'brien\"; DROP`}, report: true},
		{name: "username with NUL", value: set(rotator.FieldUsername, "app\x00admin"), want: []string{`"username"`, "NUL"}},
		{name: "username with newline", value: set(rotator.FieldUsername, "app\nadmin"), want: []string{`"username"`, `"password"`, `app\nadmin`}, hostile: "app\nadmin", report: true},
		{name: "username with control characters", value: set(rotator.FieldUsername, ctrl), want: []string{`"username"`}, hostile: ctrl},
		{name: "username in Cyrillic", value: set(rotator.FieldUsername, "аdmin"), want: []string{`"username"`, `"password"`, "аdmin"}, report: true},
		{name: "username with right-to-left mark", value: set(rotator.FieldUsername, "app\u202enimda"), want: []string{`"username"`, `"password"`, `app\u202enimda`}, hostile: "app\u202enimda", report: true},
		{name: "username of 200 characters", value: set(rotator.FieldUsername, long200), want: []string{`"username"`}, hostile: long200},
		{name: "username of 3,000 characters", value: set(rotator.FieldUsername, long3000), want: []string{`"username"`}, hostile: long3000},
		{name: "host with quotes", value: set(rotator.FieldHost, `db'"host`), want: []string{`"host"`, `db'\"host`}},
		{name: "host with NUL", value: set(rotator.FieldHost, "127.0.0.1\x00.evil"), want: []string{`"host"`}},
		{name: "host with newline", value: set(rotator.FieldHost, "127.0.0.1\nevil"), want: []string{`"host"`}},
		{name: "host with right-to-left mark", value: set(rotator.FieldHost, "db\u202elocal"), want: []string{`"host"`}},
		{name: "host in unicode", value: set(rotator.FieldHost, "дб.invalid"), want: []string{`"host"`, "дб.invalid"}},
		{name: "host of 200 characters", value: set(rotator.FieldHost, long200), want: []string{`"host"`}, hostile: long200},
		{name: "host of 3,000 characters", value: set(rotator.FieldHost, long3000), want: []string{`"host"`, "3000 bytes"}, hostile: long3000},
		{name: "dbname with quotes", value: set(rotator.FieldDBName, `db'; DROP DATABASE postgres; --`), want: []string{`"dbname"`}},
		{name: "dbname with NUL", value: set(rotator.FieldDBName, "db\x00x"), want: []string{`"dbname"`}},
		{name: "dbname with newline", value: set(rotator.FieldDBName, "db\nx"), want: []string{`"dbname"`}, hostile: "db\nx"},
		{name: "dbname with right-to-left mark", value: set(rotator.FieldDBName, "db\u202ex"), want: []string{`"dbname"`}, hostile: "db\u202ex"},
		{name: "dbname of 200 characters", value: set(rotator.FieldDBName, long200), want: []string{`"dbname"`}, hostile: long200},
		{name: "ssl a word", value: set("ssl", "maybe"), want: []string{`"ssl"`}},
		{name: "sslmode unknown", value: set("sslmode", "sometimes"), want: []string{`"sslmode"`}},
		{name: "sslmode of 3,000 characters", value: set("sslmode", long3000), want: []string{`"sslmode"`, "3000 bytes"}, hostile: long3000},
		{name: "masterarn the secret itself", alt: true, value: func(c *badEnv) string {
			return c.with(map[string]any{rotator.FieldMasterARN: c.arn})
		}, want: []string{`"masterarn"`}},
		{name: "masterarn a missing secret", alt: true, value: set(rotator.FieldMasterARN, missingARN), want: []string{`"masterarn"`}},
		{name: "masterarn for another host", alt: true, value: func(c *badEnv) string {
			m := c.e.master.Clone()
			m.SetString(rotator.FieldHost, "db.other.invalid")
			return c.with(map[string]any{rotator.FieldMasterARN: c.store(m)})
		}, want: []string{`"masterarn"`, "another server"}},
		{name: "masterarn for another port", alt: true, value: func(c *badEnv) string {
			m := c.e.master.Clone()
			if err := m.Set(rotator.FieldPort, 1); err != nil {
				c.t.Fatal(err)
			}
			return c.with(map[string]any{rotator.FieldMasterARN: c.store(m)})
		}, want: []string{`"masterarn"`, "another server"}},
		{name: "masterarn an application's secret", alt: true, value: func(c *badEnv) string {
			return c.with(map[string]any{rotator.FieldMasterARN: c.store(c.e.base)})
		}, want: []string{`"masterarn"`}},
		{name: "masterarn a number", alt: true, value: set(rotator.FieldMasterARN, 12), want: []string{`"masterarn"`}},
		{name: "masterarn of 3,000 characters", alt: true, value: set(rotator.FieldMasterARN, "arn:"+long3000), want: []string{`"masterarn"`}, hostile: long3000},
		{name: "masterarn with control characters", alt: true, value: set(rotator.FieldMasterARN, ctrl), want: []string{`"masterarn"`}, hostile: ctrl},
	}
}

// badEvent is one odd event, sent to the handler directly (Lambda would
// deliver it as it is).
type badEvent struct {
	name    string
	event   func(arn, token string) events.SecretsManagerSecretRotationEvent
	want    []string
	hostile string
}

func ev(step, id, token string) events.SecretsManagerSecretRotationEvent {
	return events.SecretsManagerSecretRotationEvent{Step: step, SecretID: id, ClientRequestToken: token}
}

func badEvents() []badEvent {
	long70k := strings.Repeat("s", 70000)
	return []badEvent{
		{name: "empty event", event: func(string, string) events.SecretsManagerSecretRotationEvent { return ev("", "", "") }, want: []string{"Step"}},
		{name: "Step missing", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("", a, tok) }, want: []string{"Step"}},
		{name: "Step in other case", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("SETSECRET", a, tok) }, want: []string{"Step", "SETSECRET"}},
		{name: "Step unknown", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("deleteSecret", a, tok) }, want: []string{"Step", "deleteSecret"}},
		{name: "Step of 3,000 characters", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev(long3000, a, tok) }, want: []string{"Step", "3000 bytes"}, hostile: long3000},
		{name: "Step with control characters", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("setSecret\n"+ctrl, a, tok) }, want: []string{"Step"}, hostile: ctrl},
		{name: "SecretId missing", event: func(_, tok string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", "", tok) }, want: []string{"SecretId"}},
		{name: "SecretId of 3,000 characters", event: func(_, tok string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", long3000, tok) }, want: []string{"SecretId", "3000 bytes"}, hostile: long3000},
		{name: "SecretId of 70,000 characters", event: func(_, tok string) events.SecretsManagerSecretRotationEvent { return ev("createSecret", long70k, tok) }, want: []string{"SecretId", "70000 bytes"}, hostile: long70k[:1000]},
		{name: "SecretId with control characters", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", a+ctrl, tok) }, want: []string{"SecretId"}, hostile: ctrl},
		{name: "SecretId with right-to-left mark", event: func(a, tok string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", a+"\u202e", tok) }, want: []string{"SecretId"}, hostile: "\u202e"},
		{name: "SecretId not valid UTF-8", event: func(a, tok string) events.SecretsManagerSecretRotationEvent {
			return ev("setSecret", a+"\xff\xfe", tok)
		}, want: []string{"SecretId", "UTF-8"}, hostile: "\xff\xfe"},
		{name: "SecretId of a missing secret", event: func(_, tok string) events.SecretsManagerSecretRotationEvent {
			return ev("createSecret", "arn:aws:secretsmanager:"+rotatortest.Region+":"+rotatortest.AccountID+":secret:rds/gone-AbCdEf", tok)
		}, want: []string{"SecretId"}},
		{name: "token missing", event: func(a, _ string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", a, "") }, want: []string{"ClientRequestToken"}},
		{name: "token of 3,000 characters", event: func(a, _ string) events.SecretsManagerSecretRotationEvent { return ev("setSecret", a, long3000) }, want: []string{"ClientRequestToken", "3000 bytes"}, hostile: long3000},
		{name: "token with control characters", event: func(a, tok string) events.SecretsManagerSecretRotationEvent {
			return ev("setSecret", a, tok[:20]+"\n\x1b")
		}, want: []string{"ClientRequestToken"}, hostile: "\n\x1b"},
		{name: "token with right-to-left mark", event: func(a, tok string) events.SecretsManagerSecretRotationEvent {
			return ev("setSecret", a, tok[:20]+"\u202e")
		}, want: []string{"ClientRequestToken"}, hostile: "\u202e"},
		{name: "token not a version", event: func(a, _ string) events.SecretsManagerSecretRotationEvent {
			return ev("setSecret", a, "00000000-0000-4000-8000-000000000000")
		}, want: []string{"ClientRequestToken"}},
		{name: "token not a version, createSecret", event: func(a, _ string) events.SecretsManagerSecretRotationEvent {
			return ev("createSecret", a, "00000000-0000-4000-8000-000000000000")
		}, want: []string{"ClientRequestToken"}},
		{name: "token of AWSPREVIOUS", event: func(a, _ string) events.SecretsManagerSecretRotationEvent { return ev("finishSecret", a, "previous") }, want: []string{"ClientRequestToken"}},
	}
}

// secretSnapshot describes every version of the secret that holds a
// value: its id, stages and value.
func secretSnapshot(t *testing.T, sm *rotatortest.Server, arn string) map[string]string {
	t.Helper()
	out, err := sm.Client().ListSecretVersionIds(context.Background(), &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string]string{}
	for _, v := range out.Versions {
		id := aws.ToString(v.VersionId)
		value, ok := sm.ValueOf(arn, id)
		if !ok {
			continue
		}
		st := append([]string(nil), v.VersionStages...)
		sort.Strings(st)
		snap[id] = fmt.Sprintf("%v %x", st, value)
	}
	return snap
}

// assertSecretUnchanged: every version that held a value holds the same
// value under the same stages. The one thing a refused rotation may add
// is what createSecret stores when the bad field shows only at the server
// (an unknown role, a missing database): a value at the rotation's own
// token, labelled AWSPENDING alone, which nothing promotes.
func assertSecretUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	for id, b := range before {
		if a, ok := after[id]; !ok || a != b {
			t.Errorf("version %s changed:\nbefore %.200s\nafter  %.200s", id, b, a)
		}
	}
	for id, a := range after {
		if _, ok := before[id]; !ok && !strings.HasPrefix(a, "[AWSPENDING] ") {
			t.Errorf("a new version %s with a value is not AWSPENDING alone: %.40s", id, a)
		}
	}
}

// assertBadInputError checks an error's text: it names every want, is at
// most max bytes, valid UTF-8 without control or format
// characters, and holds no hostile value raw.
func assertBadInputError(t *testing.T, err error, want []string, hostile string, max int) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Errorf("the error does not name %q", w)
		}
	}
	for {
		old := longestBadInputError.Load()
		if int64(len(msg)) <= old || longestBadInputError.CompareAndSwap(old, int64(len(msg))) {
			break
		}
	}
	if len(msg) > max {
		t.Errorf("the error is %d bytes long (at most %d)", len(msg), max)
	}
	if !utf8.ValidString(msg) {
		t.Error("the error is not valid UTF-8")
	}
	for _, c := range msg {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			t.Errorf("the error holds the control or format character %U", c)
			break
		}
	}
	if hostile != "" && strings.Contains(msg, hostile) {
		t.Error("the error echoes a hostile value raw")
	}
}

func runBadInput(t *testing.T, e *badEngine) {
	t.Run("secret", func(t *testing.T) {
		for _, tc := range badSecrets() {
			t.Run(tc.name, func(t *testing.T) {
				badInputsTried.Add(1)
				runBadSecret(t, e, tc)
			})
		}
	})
	t.Run("event", func(t *testing.T) {
		for _, tc := range badEvents() {
			t.Run(tc.name, func(t *testing.T) {
				badInputsTried.Add(1)
				runBadEvent(t, e, tc)
			})
		}
	})
}

// newBadEnv makes a Secrets Manager holding the base secret.
func newBadEnv(t *testing.T, e *badEngine) *badEnv {
	t.Helper()
	sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
	t.Cleanup(sm.Close)
	c := &badEnv{t: t, e: e, sm: sm}
	v, err := e.base.Value()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v), &c.fields); err != nil {
		t.Fatal(err)
	}
	c.arn = sm.MustCreateSecret(t, pgtest.UniqueName("rds/app"), v)
	return c
}

// handler returns the real handler for the strategy, logging into logs
// and keeping every error it returns.
func badHandler(t *testing.T, c *badEnv, s rotator.Strategy, logs *rotatortest.LogBuffer) (rotatortest.RotationFunc, func() []error) {
	t.Helper()
	h, err := rotator.New(c.sm.Client(), s, rotator.WithLogger(logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []error
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			err := h.Handle(ctx, ev)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return err
		}, func() []error {
			mu.Lock()
			defer mu.Unlock()
			return append([]error(nil), errs...)
		}
}

// assertNothingChanged: the secret's versions and the server as before,
// the base user's password logs in, and no log line holds it.
func assertNothingChanged(t *testing.T, c *badEnv, secretBefore map[string]string, dbBefore string, logs *rotatortest.LogBuffer) {
	t.Helper()
	assertSecretUnchanged(t, secretBefore, secretSnapshot(t, c.sm, c.arn))
	if after := c.e.snapshot(t); after != dbBefore {
		t.Errorf("the server changed:\nbefore %s\nafter  %s", dbBefore, after)
	}
	if err := c.e.login(c.e.user, c.e.pw); err != nil {
		t.Errorf("the user's AWSCURRENT password no longer logs in: %v", err)
	}
	rotatortest.AssertNoSecrets(t, "the handler's log", logs.String(), c.e.pw, c.e.master.Password())
}

func runBadSecret(t *testing.T, e *badEngine, tc badSecret) {
	c := newBadEnv(t, e)
	value := tc.value(c)
	if _, err := c.sm.Client().PutSecretValue(context.Background(), putCurrentInput(c.arn, value)); err != nil {
		t.Fatalf("storing the bad value: %v", err)
	}
	strategy := e.single()
	if tc.alt {
		strategy = e.alt()
	}
	logs := &rotatortest.LogBuffer{}
	fn, errs := badHandler(t, c, strategy, logs)
	secretBefore, dbBefore := secretSnapshot(t, c.sm, c.arn), e.snapshot(t)
	out, _ := rotatortest.Rotate(t, c.sm, c.arn, fn)
	if out.Succeeded {
		t.Fatal("the rotation succeeded")
	}
	got := errs()
	if len(got) == 0 {
		t.Fatalf("the handler returned no error (rotation: %v)", out.Err)
	}
	var se *rotator.StepError
	if !errors.As(got[0], &se) {
		t.Errorf("the error is a %T, not a *rotator.StepError", got[0])
	}
	max := maxBadInputError
	if tc.report {
		max = maxLoginReport
	}
	assertBadInputError(t, got[0], tc.want, tc.hostile, max)
	rotatortest.AssertNoSecrets(t, "the error", got[0].Error(), e.pw, e.master.Password())
	assertNothingChanged(t, c, secretBefore, dbBefore, logs)
}

func runBadEvent(t *testing.T, e *badEngine, tc badEvent) {
	c := newBadEnv(t, e)
	// An AWSPREVIOUS version: the same value stored again.
	cur, _ := e.base.Value()
	if _, err := c.sm.Client().PutSecretValue(context.Background(), putCurrentInput(c.arn, cur)); err != nil {
		t.Fatal(err)
	}
	logs := &rotatortest.LogBuffer{}
	fn, _ := badHandler(t, c, e.single(), logs)
	// A rotation in progress: createSecret stored the token's AWSPENDING
	// value and setSecret has not run; the odd event arrives meanwhile.
	errStop := errors.New("stopped after createSecret")
	out, _ := rotatortest.Rotate(t, c.sm, c.arn, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step != rotatortest.StepCreate {
			return errStop
		}
		return fn(ctx, ev)
	})
	if !errors.Is(out.Err, errStop) {
		t.Fatalf("setting up the rotation: %v", out.Err)
	}
	token := out.Token
	secretBefore, dbBefore := secretSnapshot(t, c.sm, c.arn), e.snapshot(t)
	event := tc.event(c.arn, token)
	if event.ClientRequestToken == "previous" {
		event.ClientRequestToken = c.sm.VersionOf(c.arn, "AWSPREVIOUS")
	}
	err := fn(context.Background(), event)
	assertBadInputError(t, err, tc.want, tc.hostile, maxBadInputError)
	assertNothingChanged(t, c, secretBefore, dbBefore, logs)
}

func TestPostgresBadInput(t *testing.T) {
	pg := pgtest.Shared(t)
	user, pw := pgtest.UniqueName("bad"), pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	e := &badEngine{
		name: "postgres", host: pg.Host, base: pg.Secret(user, pw), user: user, pw: pw,
		master: pg.Secret(pg.SuperUser, pg.SuperPassword),
		login:  func(u, p string) error { return pg.CanLogin(context.Background(), u, p) },
		snapshot: func(t *testing.T) string {
			return dbSnapshot(t, pg, "")
		},
		single: func() rotator.Strategy { return single.New(postgres.New()) },
		alt: func() rotator.Strategy {
			return alternating.New(postgres.New(), alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength))
		},
	}
	runBadInput(t, e)
	t.Logf("bad inputs tried so far: %d (the longest error: %d bytes)", badInputsTried.Load(), longestBadInputError.Load())
}

func TestMySQLBadInput(t *testing.T) {
	db := myShared(t)
	user, pw := mariadbtest.UniqueName("bad"), mariadbtest.RandomPassword(30)
	db.CreateUser(t, user, mariadbtest.UserHost, pw)
	e := &badEngine{
		name: "mysql", host: db.Host, base: db.Secret(user, pw), user: user, pw: pw,
		master:   db.Secret(db.SuperUser, db.SuperPassword),
		login:    func(u, p string) error { return db.CanLogin(context.Background(), u, p) },
		snapshot: func(t *testing.T) string { return mySnapshot(t, db) },
		single:   func() rotator.Strategy { return single.New(mysql.New()) },
		alt: func() rotator.Strategy {
			return alternating.New(mysql.New(), alternating.WithMaxUsernameLength(mysql.MaxUserNameLength))
		},
	}
	runBadInput(t, e)
	t.Logf("bad inputs tried so far: %d (the longest error: %d bytes)", badInputsTried.Load(), longestBadInputError.Load())
}
