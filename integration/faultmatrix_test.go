package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/faultproxy"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The fault matrix (issue 14, item 1): every rotation step under every
// fault, against a real server behind internal/faultproxy and rotatortest's
// Secrets Manager, with the real handler, engine and strategy, and the SDK
// client a Lambda function builds (rotator.NewLambdaClient, so its
// retryer is the one in production). After each fault it checks with a
// real login that the secret still holds a working credential, then
// retries as Secrets Manager does and checks that the rotation converged:
// the final AWSCURRENT logs in, exactly one new password of the user is in
// force, and no other role changed.

// EnvFaultMatrixOut names a file the matrix's summary table is written to.
const EnvFaultMatrixOut = "ROTATOR_FAULTMATRIX_OUT"

// Invocation deadlines: a typical rotation function's timeout, and the
// short one of the "Lambda deadline reached mid-step" fault. The short one
// is below rotator.RetryMaxBackoff+RetryDeadlineReserve, so the SDK makes
// no retry inside it.
const (
	fmTimeout         = 30 * time.Second
	fmDeadlineTimeout = 1200 * time.Millisecond
	// fmThrottleBurst is how many calls a brief throttling burst refuses;
	// the SDK's retryer must absorb it inside the step.
	fmThrottleBurst = 2
)

type fmFault int

const (
	fmThrottleBrief fmFault = iota
	fmThrottle
	fmThrottleDeadline
	fm5xx
	fmDBRefused
	fmDBLostBefore
	fmDBLostAfter
	fmDeadline
	fmTwice
	fmRetryFromCreate
	fmNewToken
)

var fmFaults = []fmFault{fmThrottleBrief, fmThrottle, fmThrottleDeadline, fm5xx, fmDBRefused, fmDBLostBefore, fmDBLostAfter, fmDeadline, fmTwice, fmRetryFromCreate, fmNewToken}

func (f fmFault) String() string {
	return [...]string{
		"SM throttling, 2 calls (SDK absorbs)",
		"SM throttling, lasting",
		"SM throttling, lasting, deadline near",
		"SM 5xx, lasting",
		"DB connection refused",
		"DB lost before the change",
		"DB lost after the change",
		"Lambda deadline mid-step",
		"step delivered twice at once",
		"rotation retried, same token",
		"new token after abandoned one",
	}[f]
}

// fmTarget is what the matrix needs of one engine: a server behind a
// proxy, roles on it, real logins, a snapshot of every other role.
type fmTarget struct {
	// addr is the real server's host:port, for the proxy.
	addr string
	// newRole creates a login role with a password.
	newRole func(t *testing.T, prefix string) (user, password string)
	// secret returns the RDS-style secret for user at host:port.
	secret func(t *testing.T, user, password, host string, port int) *rotator.Secret
	// master is the superuser's secret at host:port.
	master func(t *testing.T, host string, port int) *rotator.Secret
	// login tries a password against the real server (not the proxy).
	login func(user, password string) error
	// snapshot returns every role's password hash and attributes, by name,
	// except those in skip.
	snapshot func(t *testing.T, skip []string) map[string]string
	// strategy builds a strategy on a new engine, as a function's main does.
	strategy func(kind strategyKind) rotator.Strategy
	// clone is the clone's name for base (alternating users).
	clone func(base string) string
	// Byte patterns for the proxy: the statement that changes a password,
	// the end of its transaction (nil: the statement commits by itself),
	// the server's end of an answer (nil: its first chunk), and the query a
	// login makes.
	change, commit, reply, loginQuery []byte
}

// setServer sets the target's secret, master and login from the test
// server's secret maker, superuser and login check.
func (f *fmTarget) setServer(secret func(user, password string) *rotator.Secret, superUser, superPassword string, canLogin func(ctx context.Context, user, password string) error) {
	f.secret = func(t *testing.T, user, password, host string, port int) *rotator.Secret {
		return withPort(t, secret(user, password), host, port)
	}
	f.master = func(t *testing.T, host string, port int) *rotator.Secret {
		return withPort(t, secret(superUser, superPassword), host, port)
	}
	f.login = func(user, password string) error { return canLogin(context.Background(), user, password) }
}

// fmResult is one row of the matrix.
type fmResult struct {
	Strategy, Step, Fault string
	// Hit says whether the fault reached the step ("yes", or why not).
	Hit string
	// First is the faulted invocation's outcome.
	First string
	// Credential is what logged in right after the fault: "AWSCURRENT",
	// "AWSPENDING (single-user window)" or "NONE".
	Credential string
	// CurrentBroken is true when no stored credential logged in.
	CurrentBroken bool
	// Window is true when only AWSPENDING logged in: single user between
	// setSecret and finishSecret, as README documents.
	Window    bool
	Converged bool
	// Absorbed is set for the brief throttling fault: the SDK retried it
	// away inside the step (Throttled calls counted at rotatortest).
	Absorbed  bool
	Throttled int
	Note      string
}

// fmCase is one cell of the matrix: a role, a secret, a Secrets Manager.
type fmCase struct {
	t      *testing.T
	target *fmTarget
	proxy  *faultproxy.Proxy
	kind   strategyKind
	sm     *rotatortest.Server
	arn    string
	user   string
	logs   *rotatortest.LogBuffer
	// seen is every password the secret ever held, by user.
	seen map[string][]string
	errs []string
	mu   sync.Mutex
}

func fmUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newFMCase(t *testing.T, target *fmTarget, proxy *faultproxy.Proxy, kind strategyKind) *fmCase {
	t.Helper()
	c := &fmCase{t: t, target: target, proxy: proxy, kind: kind, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}, seen: map[string][]string{}}
	t.Cleanup(c.sm.Close)
	user, pw := target.newRole(t, "fm")
	c.user = user
	c.seen[user] = append(c.seen[user], pw)
	sec := target.secret(t, user, pw, proxy.Host(), proxy.Port())
	if kind == alternatingUsers {
		mv, err := target.master(t, proxy.Host(), proxy.Port()).Value()
		if err != nil {
			t.Fatal(err)
		}
		masterARN := c.sm.MustCreateSecret(t, "rds/master-"+user, mv)
		sec.SetString(rotator.FieldMasterARN, masterARN)
	}
	v, err := sec.Value()
	if err != nil {
		t.Fatal(err)
	}
	c.arn = c.sm.MustCreateSecret(t, "rds/app-"+user, v)
	return c
}

// sandbox is a new Lambda sandbox: the client NewLambdaClient builds from
// the environment Lambda sets, a new engine and strategy.
func (c *fmCase) sandbox() *rotator.Handler {
	c.t.Helper()
	env := map[string]string{
		"AWS_REGION": rotatortest.Region, "AWS_ACCESS_KEY_ID": "AKIDFAULTMATRIX", "AWS_SECRET_ACCESS_KEY": "fault-matrix-key",
		rotator.EnvEndpoint: c.sm.URL(),
	}
	client, err := rotator.NewLambdaClient(func(k string) string { return env[k] })
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := rotator.New(client, c.target.strategy(c.kind), rotator.WithLogger(c.logs.Logger()), rotator.WithFunctionName("fault-matrix"))
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// invoke delivers one step to h with a Lambda-like deadline.
func (c *fmCase) invoke(h *rotator.Handler, step, token string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := h.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: step, SecretID: c.arn, ClientRequestToken: token})
	if err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, err.Error())
		c.mu.Unlock()
	}
	return err
}

// begin makes the token's version labelled AWSPENDING with no value, as
// RotateSecret does before it invokes createSecret.
func (c *fmCase) begin(token string) {
	c.t.Helper()
	rotatortest.Rotate(c.t, c.sm, c.arn, nil, rotatortest.WithToken(token), rotatortest.WithLambdaARN(rotatortest.FunctionARN("fault-matrix-unregistered")))
	if got := c.sm.VersionOf(c.arn, rotatortest.StagePending); got != token {
		c.t.Fatalf("token not AWSPENDING after RotateSecret (pending: %q)", got)
	}
}

// value returns the secret's value at a version, or nil; every password
// read is remembered for the checks and the leak scan.
func (c *fmCase) value(versionID string) *rotator.Secret {
	s := secretAt(c.t, c.sm, c.arn, versionID)
	if s != nil {
		c.remember(s)
	}
	return s
}

func (c *fmCase) remember(s *rotator.Secret) {
	u, p := s.Username(), s.Password()
	if !slices.Contains(c.seen[u], p) {
		c.seen[u] = append(c.seen[u], p)
	}
}

func (c *fmCase) stage(stage string) *rotator.Secret {
	return c.value(c.sm.VersionOf(c.arn, stage))
}

func (c *fmCase) logsIn(s *rotator.Secret) bool {
	return s != nil && c.target.login(s.Username(), s.Password()) == nil
}

// working says which stored credential logs in right now.
func (c *fmCase) working(token string) (what string, broken, window bool) {
	if c.logsIn(c.stage(rotatortest.StageCurrent)) {
		return "AWSCURRENT", false, false
	}
	// Single user, between setSecret and finishSecret: the database holds
	// the pending password only (README, "What an application sees during
	// a rotation"; the clients fall back to AWSPENDING).
	if c.kind == singleUser && c.logsIn(c.value(token)) && c.sm.VersionOf(c.arn, rotatortest.StagePending) == token {
		return "AWSPENDING (single-user window)", false, true
	}
	return "NONE", true, false
}

// faultCalls counts the calls rotatortest answered with an injected fault
// since seq.
func faultCalls(calls []rotatortest.Call, since int64) int {
	n := 0
	for _, cl := range calls {
		if cl.Seq > since && cl.Fault {
			n++
		}
	}
	return n
}

func lastSeq(calls []rotatortest.Call) int64 {
	if len(calls) == 0 {
		return 0
	}
	return calls[len(calls)-1].Seq
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	msg := err.Error()
	if errors.Is(err, rotator.ErrRetryDeadline) {
		return "failed: ThrottlingException, not retried: deadline near"
	}
	for _, s := range []struct{ sub, short string }{
		{"ThrottlingException", "failed: ThrottlingException"},
		{"InternalServiceError", "failed: InternalServiceError (500)"},
		{"context deadline exceeded", "failed: deadline"},
		{"connection refused", "failed: connection refused"},
	} {
		if strings.Contains(msg, s.sub) {
			return s.short
		}
	}
	if errors.Is(err, rotator.ErrUnreachable) {
		return "failed: unreachable"
	}
	if len(msg) > 60 {
		msg = msg[:60] + "..."
	}
	return "failed: " + msg
}

// run plays one cell: the steps before the faulted one, the fault, the
// checks, Secrets Manager's retries, and the final checks.
func (c *fmCase) run(step string, fault fmFault) (res fmResult) {
	t := c.t
	res = fmResult{Strategy: map[strategyKind]string{singleUser: "single", alternatingUsers: "alternating"}[c.kind], Step: step, Fault: fault.String(), Hit: "yes"}
	before := c.target.snapshot(t, c.ownUsers())
	tokenA := fmUUID()
	c.begin(tokenA)
	h := c.sandbox()
	idx := slices.Index(rotatortest.Steps, step)
	for _, s := range rotatortest.Steps[:idx] {
		if err := c.invoke(h, s, tokenA, fmTimeout); err != nil {
			t.Fatalf("%s before the fault: %v", s, err)
		}
	}

	// The fault.
	seq := lastSeq(c.sm.Calls())
	ruleName := c.user + "/" + step + "/" + fault.String()
	var err error
	freshAfter := false // the retry runs in a new sandbox (Lambda replaced the old one)
	switch fault {
	case fmThrottleBrief:
		c.sm.InjectFault("*", rotatortest.Fault{ErrorType: "ThrottlingException", Times: fmThrottleBurst})
		err = c.invoke(h, step, tokenA, fmTimeout)
		res.Throttled = faultCalls(c.sm.Calls(), seq)
		res.Absorbed = err == nil && res.Throttled == fmThrottleBurst
	case fmThrottle:
		c.sm.InjectFault("*", rotatortest.Fault{ErrorType: "ThrottlingException"})
		err = c.invoke(h, step, tokenA, fmTimeout)
		res.Throttled = faultCalls(c.sm.Calls(), seq)
	case fmThrottleDeadline:
		// Less than the longest backoff plus the reserve is left: the SDK
		// must not retry, and the step must fail at once with the API's
		// error.
		c.sm.InjectFault("*", rotatortest.Fault{ErrorType: "ThrottlingException"})
		err = c.invoke(h, step, tokenA, fmDeadlineTimeout)
		res.Throttled = faultCalls(c.sm.Calls(), seq)
		if !errors.Is(err, rotator.ErrRetryDeadline) || res.Throttled != 1 {
			t.Errorf("throttling with the deadline near: %d calls, err %v; want 1 call and ErrRetryDeadline", res.Throttled, err)
		}
	case fm5xx:
		c.sm.InjectFault("*", rotatortest.Fault{ErrorType: "InternalServiceError"})
		err = c.invoke(h, step, tokenA, fmTimeout)
	case fmDBRefused:
		c.proxy.Refuse()
		err = c.invoke(h, step, tokenA, fmTimeout)
		if aerr := c.proxy.Allow(); aerr != nil {
			t.Fatal(aerr)
		}
		if err == nil {
			res.Hit = "no: the step does not connect"
		}
	case fmDBLostBefore:
		r := faultproxy.Rule{Name: ruleName, Match: c.target.loginQuery, Action: faultproxy.CutBefore}
		if step == rotatortest.StepSet {
			r.Match = c.target.change
		}
		c.proxy.AddRule(r)
		err = c.invoke(h, step, tokenA, fmTimeout)
	case fmDBLostAfter:
		r := faultproxy.Rule{Name: ruleName, Match: c.target.loginQuery, Action: faultproxy.CutAfterReply, Reply: c.target.reply}
		if step == rotatortest.StepSet {
			r.After, r.Match = c.target.change, c.target.commit
			if c.target.commit == nil { // the change commits by itself
				r.After, r.Match = nil, c.target.change
			}
		}
		c.proxy.AddRule(r)
		err = c.invoke(h, step, tokenA, fmTimeout)
	case fmDeadline:
		freshAfter = true
		switch step {
		case rotatortest.StepCreate:
			c.sm.InjectFault("PutSecretValue", rotatortest.Fault{Latency: 10 * time.Second, AfterApply: true, Times: 1})
		case rotatortest.StepFinish:
			c.sm.InjectFault("UpdateSecretVersionStage", rotatortest.Fault{Latency: 10 * time.Second, AfterApply: true, Times: 1})
		case rotatortest.StepSet:
			r := faultproxy.Rule{Name: ruleName, After: c.target.change, Match: c.target.commit, Action: faultproxy.StallReply}
			if c.target.commit == nil {
				r.After, r.Match = nil, c.target.change
			}
			c.proxy.AddRule(r)
		default:
			c.proxy.AddRule(faultproxy.Rule{Name: ruleName, Match: c.target.loginQuery, Action: faultproxy.StallReply})
		}
		err = c.invoke(h, step, tokenA, fmDeadlineTimeout)
	case fmTwice:
		h2 := c.sandbox()
		var wg sync.WaitGroup
		var err2 error
		wg.Go(func() { err = c.invoke(h, step, tokenA, fmTimeout) })
		wg.Go(func() { err2 = c.invoke(h2, step, tokenA, fmTimeout) })
		wg.Wait()
		if err == nil {
			err = err2
		}
		res.Hit = "-"
	case fmRetryFromCreate, fmNewToken:
		// The step did its work, then the invocation was lost (the
		// runtime crashed before it answered): Secrets Manager sees a
		// failure.
		if serr := c.invoke(h, step, tokenA, fmTimeout); serr != nil {
			t.Fatalf("%s: %v", step, serr)
		}
		err = errors.New("invocation lost after the step's work")
		res.Hit = "-"
	}
	c.sm.ClearFaults()
	c.proxy.ClearRules()
	proxyFired := slices.Contains(c.proxy.Fired(), ruleName)
	smFaulted := faultCalls(c.sm.Calls(), seq) > 0
	switch fault {
	case fmThrottleBrief, fmThrottle, fmThrottleDeadline, fm5xx:
		if !smFaulted {
			res.Hit = "no: the step made no call"
		}
	case fmDBRefused:
		if err == nil {
			res.Hit = "no: the step does not connect"
		}
	case fmDBLostBefore, fmDBLostAfter:
		if !proxyFired {
			res.Hit = "no: the step does not use the database"
		}
	case fmDeadline:
		if !proxyFired && !smFaulted {
			res.Hit = "no"
		}
	}
	res.First = outcome(err)
	if fault == fmRetryFromCreate || fault == fmNewToken {
		res.First = "lost after the work"
	}
	if fault == fm5xx && err != nil && !strings.Contains(err.Error(), "InternalServiceError") {
		t.Errorf("lasting 5xx: the error does not say so: %v", err)
	}
	if fault == fmDeadline && err == nil && res.Hit == "yes" {
		t.Errorf("the deadline passed mid-step and the step succeeded")
	}
	if fault == fmThrottleBrief && err != nil {
		t.Errorf("a burst of %d throttled calls was not absorbed by the SDK's retryer: %v", fmThrottleBurst, err)
	}
	if (fault == fmThrottle || fault == fmThrottleDeadline || fault == fm5xx) && err == nil {
		t.Errorf("a lasting Secrets Manager fault did not fail %s", step)
	}
	if (fault == fmThrottle || fault == fmThrottleDeadline) && err != nil && !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("lasting throttling: the error does not say so: %v", err)
	}

	res.Credential, res.CurrentBroken, res.Window = c.working(tokenA)
	if step == rotatortest.StepSet {
		// The proxy's faults are real: a cut after the change leaves the
		// change made (the pending credential logs in), a cut before it
		// leaves nothing changed.
		applied := c.logsIn(c.value(tokenA))
		switch fault {
		case fmDBLostAfter, fmDeadline:
			if !applied {
				t.Errorf("%s: the server did not apply the change", fault)
			}
		case fmDBRefused, fmDBLostBefore:
			if applied {
				t.Errorf("%s: the server applied the change", fault)
			}
		}
	}

	// Secrets Manager's retries.
	final := tokenA
	switch fault {
	case fmRetryFromCreate:
		var cerr error
		for attempt := 0; attempt < 3; attempt++ {
			if cerr = c.rotation(c.sandbox(), tokenA); cerr == nil {
				break
			}
		}
		if cerr != nil {
			res.Note = "retry from createSecret: " + cerr.Error()
			return c.finishChecks(res, before, "")
		}
	case fmNewToken:
		note, ok := c.abandon(tokenA)
		res.Note = note
		if !ok {
			return c.finishChecks(res, before, "")
		}
		final = fmUUID()
		out, _ := rotatortest.Rotate(t, c.sm, c.arn, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			return c.invoke(h, ev.Step, ev.ClientRequestToken, fmTimeout)
		}, rotatortest.WithToken(final))
		if !out.Succeeded {
			res.Note += "; new rotation failed: " + fmt.Sprint(out.Err)
			return c.finishChecks(res, before, "")
		}
	default:
		if freshAfter {
			h = c.sandbox()
		}
		if err != nil {
			var rerr error
			for attempt := 0; attempt < 3; attempt++ {
				if rerr = c.invoke(h, step, tokenA, fmTimeout); rerr == nil {
					break
				}
			}
			if rerr != nil {
				res.Note = step + " retried: " + rerr.Error()
				return c.finishChecks(res, before, "")
			}
		}
		for _, s := range rotatortest.Steps[idx+1:] {
			if serr := c.invoke(h, s, tokenA, fmTimeout); serr != nil {
				res.Note = s + ": " + serr.Error()
				return c.finishChecks(res, before, "")
			}
		}
	}
	return c.finishChecks(res, before, final)
}

// rotation runs the four steps with one token, stopping at a failure.
func (c *fmCase) rotation(h *rotator.Handler, token string) error {
	for _, s := range rotatortest.Steps {
		if err := c.invoke(h, s, token, fmTimeout); err != nil {
			return err
		}
	}
	return nil
}

// abandon gives up the token's rotation as AWS's CancelRotateSecret
// documentation tells an operator to: cancel it; if the pending version's
// credential is the one in force (AWSCURRENT no longer logs in: single
// user after setSecret), move AWSCURRENT to it; else remove AWSPENDING
// from it. A new RotateSecret then starts a rotation with a new token.
func (c *fmCase) abandon(token string) (note string, ok bool) {
	ctx := context.Background()
	cl := c.sm.Client()
	if _, err := cl.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(c.arn)}); err != nil {
		return "CancelRotateSecret: " + err.Error(), false
	}
	cur := c.sm.VersionOf(c.arn, rotatortest.StageCurrent)
	switch {
	case cur == token:
		return "abandoned after its promotion: nothing to undo", true
	case !c.logsIn(c.value(cur)) && c.logsIn(c.value(token)):
		_, err := cl.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(c.arn), VersionStage: aws.String(rotatortest.StageCurrent),
			MoveToVersionId: aws.String(token), RemoveFromVersionId: aws.String(cur),
		})
		if err != nil {
			return "rolling AWSCURRENT forward: " + err.Error(), false
		}
		return "abandoned: its password was in force, AWSCURRENT rolled forward to it (AWS's CancelRotateSecret guidance)", true
	default:
		_, err := cl.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(c.arn), VersionStage: aws.String(rotatortest.StagePending), RemoveFromVersionId: aws.String(token),
		})
		if err != nil {
			return "removing AWSPENDING: " + err.Error(), false
		}
		return "abandoned: AWSPENDING removed from its version", true
	}
}

// ownUsers are the users the secret may change: its own, and for
// alternating users its clone.
func (c *fmCase) ownUsers() []string {
	if c.kind == alternatingUsers {
		return []string{c.user, c.target.clone(c.user)}
	}
	return []string{c.user}
}

// finishChecks checks the converged state; final is the token that should
// be AWSCURRENT ("" when the retries already failed).
func (c *fmCase) finishChecks(res fmResult, before map[string]string, final string) fmResult {
	t := c.t
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if final == "" {
		fail("did not converge")
	} else {
		cur := c.stage(rotatortest.StageCurrent)
		switch {
		case c.sm.VersionOf(c.arn, rotatortest.StageCurrent) != final:
			fail("AWSCURRENT is not the final token")
		case !c.logsIn(cur):
			fail("the final AWSCURRENT does not log in")
		}
		if p := c.sm.VersionOf(c.arn, rotatortest.StagePending); p != "" && p != final {
			fail("AWSPENDING left on another version")
		}
		for id := range c.sm.StagesOf(c.arn) {
			c.value(id)
		}
		if cur != nil {
			// Exactly one password of the rotated user is in force: the
			// final one.
			var working int
			for _, pw := range c.seen[cur.Username()] {
				if c.target.login(cur.Username(), pw) == nil {
					working++
					if pw != cur.Password() {
						fail("an old password of %s still logs in", cur.Username())
					}
				}
			}
			if working != 1 {
				fail("%d passwords of %s log in, want 1", working, cur.Username())
			}
			if original := c.seen[c.user][0]; cur.Username() == c.user && c.target.login(c.user, original) == nil {
				fail("the original password still logs in")
			}
			if c.kind == alternatingUsers {
				prev := c.stage(rotatortest.StagePrevious)
				if prev == nil || prev.Username() == cur.Username() || !c.logsIn(prev) {
					fail("AWSPREVIOUS is not the other user, logging in")
				}
			}
		}
	}
	after := c.target.snapshot(t, c.ownUsers())
	for name, b := range before {
		if a, ok := after[name]; !ok || a != b {
			fail("%s changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			fail("%s appeared", name)
		}
	}
	res.Converged = len(problems) == 0
	if len(problems) > 0 {
		res.Note = strings.Join(append([]string{res.Note}, problems...), "; ")
	}
	var pws []string
	for _, list := range c.seen {
		pws = append(pws, list...)
	}
	rotatortest.AssertNoSecrets(t, "handler logs", c.logs.String(), pws...)
	c.mu.Lock()
	rotatortest.AssertNoSecrets(t, "returned errors", strings.Join(c.errs, "\n"), pws...)
	c.mu.Unlock()
	return res
}

// runFaultMatrix runs every step x fault for each strategy against one
// server and proxy, one role per case. It returns the results and how many
// cases started (-run may select some); a case that stopped on a fatal
// error has no result.
func runFaultMatrix(t *testing.T, target *fmTarget, kinds []strategyKind) (results []fmResult, started int) {
	t.Helper()
	proxy, err := faultproxy.Start(target.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	for _, kind := range kinds {
		for _, step := range rotatortest.Steps {
			for _, fault := range fmFaults {
				name := fmt.Sprintf("%s/%s/%s", map[strategyKind]string{singleUser: "single", alternatingUsers: "alternating"}[kind], step, fault)
				t.Run(name, func(t *testing.T) {
					started++
					c := newFMCase(t, target, proxy, kind)
					res := c.run(step, fault)
					results = append(results, res)
					if res.CurrentBroken {
						t.Errorf("after the fault no stored credential logs in")
					}
					if !res.Converged {
						t.Errorf("did not converge: %s", res.Note)
					}
				})
			}
		}
	}
	return results, started
}

// reportFaultMatrix logs the table and the totals, asserts the totals,
// and writes them to $ROTATOR_FAULTMATRIX_OUT when set (appending, so one
// file collects every engine's matrix).
func reportFaultMatrix(t *testing.T, engine string, results []fmResult, want int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "### Fault matrix: %s\n\n", engine)
	fmt.Fprintf(&b, "SDK retryer (rotator.NewRetryer): %d attempts per call, full-jitter backoff from %v doubling to %v, no retry with less than %v left before the invocation's deadline.\n\n",
		rotator.RetryMaxAttempts, rotator.RetryBaseDelay, rotator.RetryMaxBackoff, rotator.RetryMaxBackoff+rotator.RetryDeadlineReserve)
	b.WriteString("| strategy | step | fault | fault hit | faulted invocation | logs in after the fault | converged | note |\n|---|---|---|---|---|---|---|---|\n")
	var broken, converged, window, bursts, absorbed, nearDeadline, notRetried int
	for _, r := range results {
		first := r.First
		if r.Throttled > 0 {
			first += fmt.Sprintf(" (%d calls throttled)", r.Throttled)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %v | %s |\n", r.Strategy, r.Step, r.Fault, r.Hit, first, r.Credential, r.Converged, strings.TrimPrefix(r.Note, "; "))
		if r.CurrentBroken {
			broken++
		}
		if r.Converged {
			converged++
		}
		if r.Window {
			window++
		}
		if r.Fault == fmThrottleDeadline.String() {
			nearDeadline++
			if r.Throttled == 1 && strings.Contains(r.First, "not retried") {
				notRetried++
			}
		}
		if r.Fault == fmThrottleBrief.String() {
			bursts++
			if r.Absorbed {
				absorbed++
			}
		}
	}
	fmt.Fprintf(&b, "\ncases run: %d; cases where no stored credential logged in after the fault (AWSCURRENT stopped working): %d; converged: %d/%d; single-user window (AWSPENDING in force between setSecret and finishSecret): %d; throttling bursts absorbed by the SDK retryer inside the step: %d/%d; lasting throttling with the deadline near failed after 1 call, not retried: %d/%d\n",
		len(results), broken, converged, len(results), window, absorbed, bursts, notRetried, nearDeadline)
	t.Log("\n" + b.String())
	if out := os.Getenv(EnvFaultMatrixOut); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatalf("$%s: %v", EnvFaultMatrixOut, err)
		}
		_, err = f.WriteString(b.String() + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("$%s: %v", EnvFaultMatrixOut, err)
		}
	}
	if len(results) != want || want == 0 {
		t.Errorf("%d cases have a result, of %d started", len(results), want)
	}
	if broken != 0 {
		t.Errorf("%d cases left no working credential", broken)
	}
	if converged != len(results) {
		t.Errorf("%d of %d cases converged", converged, len(results))
	}
	if absorbed != bursts {
		t.Errorf("%d of %d throttling bursts absorbed", absorbed, bursts)
	}
	if notRetried != nearDeadline {
		t.Errorf("%d of %d throttling faults near the deadline were not retried", notRetried, nearDeadline)
	}
}
