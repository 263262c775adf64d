package integration

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/internal/lambdaruntime"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// e2eMemoryBudget is the peak memory budget (ARCHITECTURE.md) for a rotation function.
const e2eMemoryBudget = 40 << 20

// TestLambdaEndToEnd runs the real bootstraps, built as `make build` builds
// them, as Lambda runs them: a process speaking the Lambda Runtime API to a
// server run here, with Lambda's environment, invoked by rotatortest's
// RotateSecret as Secrets Manager invokes a rotation function, against a
// real PostgreSQL server with TLS (verified through the CA bundle named by
// ROTATOR_PG_CA_BUNDLE).
func TestLambdaEndToEnd(t *testing.T) {
	pg := pgtest.Shared(t, pgtest.WithTLS())
	bins := functest.Build(t, t.TempDir(), "", functest.SingleUser, functest.AlternatingUsers)
	caEnv := "ROTATOR_PG_CA_BUNDLE=" + pg.CAFile

	t.Run("SingleUserRotation", func(t *testing.T) {
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[functest.SingleUser], "rotator-pg-single", sm, functest.Options{Env: []string{caEnv}})
		t.Logf("start to ready: %v", f.StartToReady)
		e2eSingleUserRotation(t, pg, sm, f.ARN, f.Process.Output)
		if n := f.Runtime.Invocations(); n != 8 {
			t.Errorf("%d invocations for two rotations, want 8", n)
		}
		out := f.Process.Output()
		if !strings.Contains(out, `"Namespace":"Rotator"`) {
			t.Errorf("no EMF metrics line in the function's output:\n%s", out)
		}
	})

	t.Run("AlternatingUsersRotation", func(t *testing.T) {
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[functest.AlternatingUsers], "rotator-pg-alternating", sm, functest.Options{Env: []string{caEnv}})
		e2eAlternatingRotation(t, pg, sm, f)
	})

	t.Run("FailingStepIsALambdaErrorWithoutSecretValues", func(t *testing.T) {
		sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[functest.SingleUser], "rotator-pg-failing", sm, functest.Options{Env: []string{caEnv}})

		// The database password changed behind the secret's back: neither
		// the current nor the pending password logs in at setSecret.
		user := pgtest.UniqueName("stale")
		dbPassword := "db-" + pgtest.RandomPassword(24)
		pg.CreateRole(t, user, dbPassword, "LOGIN")
		stale := pg.Secret(user, "stale-"+pgtest.RandomPassword(24))
		stale.Delete("sslrootcert")
		arn := sm.MustCreateSecret(t, pgtest.UniqueName("app/failing"), e2eValue(t, stale))
		// And a secret whose server is not there at all (connection refused):
		// pgx's connection errors carry the whole configuration.
		gone := pg.Secret(user, "gone-"+pgtest.RandomPassword(24))
		gone.SetRaw(rotator.FieldPort, []byte(strconv.Itoa(e2eClosedPort(t))))
		gone.Delete("sslrootcert")
		goneARN := sm.MustCreateSecret(t, pgtest.UniqueName("app/unreachable"), e2eValue(t, gone))

		for _, c := range []struct {
			arn, step string
			secrets   []string
		}{
			{arn, "setSecret", []string{dbPassword, stale.Password()}},
			{goneARN, "setSecret", []string{gone.Password()}},
		} {
			o, _ := f.Rotate(t, sm, c.arn)
			if o.Succeeded || o.Err == nil {
				t.Fatalf("rotation of %s succeeded, want a failure", c.arn)
			}
			var fe *lambdaruntime.FunctionError
			if !errors.As(o.Err, &fe) {
				t.Fatalf("error %v (%T) is not a Lambda function error", o.Err, o.Err)
			}
			t.Logf("Lambda error: %s: %s", fe.ErrorType, fe.ErrorMessage)
			if fe.ErrorType == "" || fe.ErrorType == lambdaruntime.ErrorTypeExit || fe.ErrorType == lambdaruntime.ErrorTypeTimeout {
				t.Errorf("errorType %q: want the function's own error", fe.ErrorType)
			}
			if !strings.Contains(fe.ErrorMessage, c.step) {
				t.Errorf("errorMessage %q does not name the step %s", fe.ErrorMessage, c.step)
			}
			if last := o.Steps[len(o.Steps)-1]; last != c.step {
				t.Errorf("last step %s, want %s", last, c.step)
			}
			// The pending password the function made is a secret too.
			pending, _ := sm.ValueOf(c.arn, o.Token)
			secrets := append(slices.Clone(c.secrets), e2ePasswordOf(t, pending))
			functest.AssertNoSecrets(t, "the Lambda error", fe.Error()+string(fe.StackTrace), secrets...)
			functest.AssertNoSecrets(t, "the function's logs", f.Process.Output(), secrets...)
			if v := sm.VersionOf(c.arn, rotatortest.StageCurrent); v == o.Token {
				t.Error("AWSCURRENT moved despite the failure")
			}
		}
		// The process survived its failed invocations.
		if f.Process.ExitErr() != nil || f.Process.ProcessState() != nil {
			t.Errorf("the runtime exited: %v", f.Process.ExitErr())
		}
	})

	t.Run("InitErrorEndsTheProcess", func(t *testing.T) {
		sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[functest.SingleUser], "rotator-pg-badconfig", sm,
			functest.Options{NoWait: true, Env: []string{caEnv, "PASSWORD_LENGTH=0"}})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		err := f.Process.Wait(ctx)
		var exit *osexec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("the bootstrap ended with %v, want exit status 1", err)
		}
		select {
		case <-f.Runtime.Ready():
			t.Error("the bootstrap asked for an invocation despite a bad configuration")
		default:
		}
		if out := f.Process.Output(); !strings.Contains(out, "init failed") || !strings.Contains(out, "password policy") {
			t.Errorf("the init failure is not explained in the output:\n%s", out)
		}
		user := pgtest.UniqueName("initerr")
		pg.CreateRole(t, user, "pw-"+pgtest.RandomPassword(20), "LOGIN")
		arn := sm.MustCreateSecret(t, pgtest.UniqueName("app/initerr"), e2eValue(t, pg.Secret(user, "x")))
		o, _ := f.Rotate(t, sm, arn)
		var fe *lambdaruntime.FunctionError
		if !errors.As(o.Err, &fe) || fe.ErrorType != lambdaruntime.ErrorTypeExit {
			t.Fatalf("rotation through a function that failed to start: %v, want %s", o.Err, lambdaruntime.ErrorTypeExit)
		}
	})

	t.Run("HundredInvocationsStayWithinMemoryBudget", func(t *testing.T) {
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[functest.SingleUser], "rotator-pg-soak", sm, functest.Options{Env: []string{caEnv}})
		user := pgtest.UniqueName("soak")
		pw := "pw-" + pgtest.RandomPassword(24)
		pg.CreateRole(t, user, pw, "LOGIN")
		sec := pg.Secret(user, pw)
		sec.Delete("sslrootcert")
		arn := sm.MustCreateSecret(t, pgtest.UniqueName("app/soak"), e2eValue(t, sec))

		var afterFirst int64
		for i := range 25 { // 4 invocations each
			o, _ := f.Rotate(t, sm, arn)
			if !o.Succeeded {
				t.Fatalf("rotation %d: %v\n%s", i+1, o.Err, f.Process.Output())
			}
			if i == 0 {
				afterFirst, _ = f.Process.PeakRSS()
			}
		}
		if n := f.Runtime.Invocations(); n != 100 {
			t.Fatalf("%d invocations, want 100", n)
		}
		peak, err := f.Process.PeakRSS()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("peak RSS after 4 invocations: %.1f MiB; after 100: %.1f MiB (budget %d MiB)",
			e2eMiB(afterFirst), e2eMiB(peak), e2eMemoryBudget>>20)
		if peak >= e2eMemoryBudget {
			t.Errorf("peak RSS %.1f MiB after 100 invocations, budget %d MiB", e2eMiB(peak), e2eMemoryBudget>>20)
		}
		cur := e2eCurrentSecret(t, sm, arn)
		if _, err := pg.Connect(t.Context(), user, cur.Password(), ""); err != nil {
			t.Errorf("the password after 25 rotations does not log in: %v", err)
		}
	})

	t.Run("RuntimeInterfaceEmulator", func(t *testing.T) {
		rie, err := osexec.LookPath("aws-lambda-rie")
		if err != nil {
			t.Skip("aws-lambda-rie is not on PATH; the same rotation ran above through internal/lambdaruntime")
		}
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		arn, output := e2eStartUnderRIE(t, rie, bins[functest.SingleUser], sm, caEnv)
		e2eSingleUserRotation(t, pg, sm, arn, output)
	})
}

// e2eSingleUserRotation rotates a fresh user's secret twice through the
// function registered under fnARN and checks the outcome, the calls and
// the database.
func e2eSingleUserRotation(t *testing.T, pg *pgtest.Server, sm *rotatortest.Server, fnARN string, output func() string) {
	t.Helper()
	user := pgtest.UniqueName("app")
	first := "pw-" + pgtest.RandomPassword(24)
	pg.CreateRole(t, user, first, "LOGIN")
	sec := pg.Secret(user, first)
	sec.Delete("sslrootcert") // verified through ROTATOR_PG_CA_BUNDLE
	sec.SetString("application", "kept as is")
	arn := sm.MustCreateSecret(t, pgtest.UniqueName("app/single"), e2eValue(t, sec))
	firstVersion := sm.VersionOf(arn, rotatortest.StageCurrent)

	seen := []string{first}
	for round := 1; round <= 2; round++ {
		before := sm.VersionOf(arn, rotatortest.StageCurrent)
		o, calls := rotatortest.Rotate(t, sm, arn, nil, rotatortest.WithLambdaARN(fnARN))
		if !o.Succeeded || o.Err != nil {
			t.Fatalf("rotation %d failed: %v\n%s", round, o.Err, output())
		}
		if o.Attempts != 1 || !slices.Equal(o.Steps, rotatortest.Steps) {
			t.Errorf("rotation %d: %d attempts, steps %v", round, o.Attempts, o.Steps)
		}
		fc := functest.FunctionCalls(calls)
		t.Logf("rotation %d: %d Secrets Manager calls by the function: %v", round, len(fc), functest.CountByOperation(fc))
		if len(fc) > 10 {
			t.Errorf("rotation %d: %d Secrets Manager calls, the budget is 10", round, len(fc))
		}
		if got := sm.VersionOf(arn, rotatortest.StageCurrent); got != o.Token {
			t.Errorf("AWSCURRENT on %s, want the token %s", got, o.Token)
		}
		if got := sm.VersionOf(arn, rotatortest.StagePrevious); got != before {
			t.Errorf("AWSPREVIOUS on %s, want %s", got, before)
		}
		cur := e2eCurrentSecret(t, sm, arn)
		if v, _ := cur.String("application"); v != "kept as is" || cur.Username() != user {
			t.Errorf("fields not carried over: application=%q username=%q", v, cur.Username())
		}
		pw := cur.Password()
		if slices.Contains(seen, pw) {
			t.Fatalf("rotation %d did not change the password", round)
		}
		// AWS's PostgreSQL templates' default EXCLUDE_CHARACTERS: what
		// breaks connection URLs and .pgpass files.
		if strings.ContainsAny(pw, postgres.DefaultExcludeCharacters) {
			t.Errorf("rotation %d: the new password holds one of %s, excluded by default", round, postgres.DefaultExcludeCharacters)
		}
		if conn, err := pg.Connect(t.Context(), user, pw, ""); err != nil {
			t.Errorf("rotation %d: the new password does not log in: %v", round, err)
		} else {
			conn.Close(context.Background())
		}
		if _, err := pg.Connect(t.Context(), user, seen[len(seen)-1], ""); err == nil {
			t.Errorf("rotation %d: the old password still logs in", round)
		}
		seen = append(seen, pw)
	}
	if sm.VersionOf(arn, rotatortest.StagePrevious) == firstVersion {
		t.Error("AWSPREVIOUS did not move on the second rotation")
	}
	functest.AssertNoSecrets(t, "the function's output", output(), seen...)
}

func e2eAlternatingRotation(t *testing.T, pg *pgtest.Server, sm *rotatortest.Server, f *functest.Function) {
	t.Helper()
	master := pgtest.UniqueName("master")
	masterPW := "master-" + pgtest.RandomPassword(24)
	pg.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
	msec := pg.Secret(master, masterPW)
	msec.Delete("sslrootcert")
	masterARN := sm.MustCreateSecret(t, pgtest.UniqueName("rds/master"), e2eValue(t, msec))

	user := pgtest.UniqueName("app")
	first := "pw-" + pgtest.RandomPassword(24)
	pg.CreateRole(t, user, first, "LOGIN")
	sec := pg.Secret(user, first)
	sec.Delete("sslrootcert")
	sec.SetString(rotator.FieldMasterARN, masterARN)
	arn := sm.MustCreateSecret(t, pgtest.UniqueName("app/alternating"), e2eValue(t, sec))

	secrets := []string{masterPW, first}
	prev := sec
	for round, wantUser := range []string{user + "_clone", user} {
		o, calls := f.Rotate(t, sm, arn)
		if !o.Succeeded {
			t.Fatalf("rotation %d failed: %v\n%s", round+1, o.Err, f.Process.Output())
		}
		fc := functest.FunctionCalls(calls)
		t.Logf("rotation %d: %d Secrets Manager calls by the function: %v", round+1, len(fc), functest.CountByOperation(fc))
		cur := e2eCurrentSecret(t, sm, arn)
		if cur.Username() != wantUser {
			t.Errorf("rotation %d: current user %q, want %q", round+1, cur.Username(), wantUser)
		}
		for _, s := range []*rotator.Secret{cur, prev} { // the previous credential keeps working
			conn, err := pg.Connect(t.Context(), s.Username(), s.Password(), "")
			if err != nil {
				t.Errorf("rotation %d: %s cannot log in: %v", round+1, s.Username(), err)
				continue
			}
			conn.Close(context.Background())
		}
		secrets = append(secrets, cur.Password())
		prev = cur
	}
	functest.AssertNoSecrets(t, "the function's output", f.Process.Output(), secrets...)
}

// TestLambdaBootstrapReproducible builds a function for arm64 (Lambda's
// cheaper architecture; a cross build here) twice into two directories and
// compares the bytes of the bootstraps and of the zips.
func TestLambdaBootstrapReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a function twice")
	}
	a := functest.Build(t, t.TempDir(), "arm64", functest.SingleUser)[functest.SingleUser]
	b := functest.Build(t, t.TempDir(), "arm64", functest.SingleUser)[functest.SingleUser]
	ba, bb := e2eRead(t, a), e2eRead(t, b)
	if !bytes.Equal(ba, bb) {
		t.Fatalf("two builds of %s differ (%d and %d bytes)", functest.SingleUser, len(ba), len(bb))
	}
	za := e2eRead(t, filepath.Join(filepath.Dir(filepath.Dir(a)), functest.SingleUser+".zip"))
	zb := e2eRead(t, filepath.Join(filepath.Dir(filepath.Dir(b)), functest.SingleUser+".zip"))
	if !bytes.Equal(za, zb) {
		t.Fatal("two zips of the same function differ")
	}
	// Static (CGO_ENABLED=0: no interpreter), stripped, for arm64.
	ef, err := elf.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_AARCH64 {
		t.Errorf("machine %v, want EM_AARCH64", ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the bootstrap is dynamically linked")
		}
	}
	if ef.Section(".symtab") != nil {
		t.Error("the bootstrap is not stripped (has .symtab)")
	}
	t.Logf("%s arm64: bootstrap %d bytes, zip %d bytes", functest.SingleUser, len(ba), len(za))
}

// e2eStartUnderRIE runs the bootstrap under the Lambda Runtime Interface
// Emulator and registers it with sm through RIE's Invoke API.
func e2eStartUnderRIE(t *testing.T, rie, bin string, sm *rotatortest.Server, extra ...string) (arn string, output func() string) {
	t.Helper()
	apiPort, invokePort := e2eFreePort(t), e2eFreePort(t)
	rt, err := lambdaruntime.New(lambdaruntime.Config{FunctionName: "function"})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close() // only for its environment; RIE serves the Runtime API
	env := lambdaruntime.Env(rt, filepath.Dir(bin), append([]string{"SECRETS_MANAGER_ENDPOINT=" + sm.URL()}, extra...)...)
	cmd := osexec.Command(rie,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(invokePort),
		bin)
	// RIE serves the Runtime API and tells the bootstrap where.
	cmd.Env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") })
	cmd.Dir = filepath.Dir(bin)
	var out rotatortest.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(invokePort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	arn = rotatortest.FunctionARN("rie-" + pgtest.UniqueName("fn"))
	sm.RegisterFunction(arn, rotatortest.InvokeHTTP("http://127.0.0.1:"+strconv.Itoa(invokePort), "function"))
	return arn, out.String
}

func e2eCurrentSecret(t *testing.T, sm *rotatortest.Server, arn string) *rotator.Secret {
	t.Helper()
	v, ok := sm.ValueOf(arn, sm.VersionOf(arn, rotatortest.StageCurrent))
	if !ok {
		t.Fatal("no AWSCURRENT value")
	}
	s, err := rotator.ParseSecret(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func e2ePasswordOf(t *testing.T, value string) string {
	t.Helper()
	if value == "" {
		return ""
	}
	s, err := rotator.ParseSecret(value)
	if err != nil {
		t.Fatal(err)
	}
	return s.Password()
}

func e2eValue(t *testing.T, s *rotator.Secret) string {
	t.Helper()
	v, err := s.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func e2eRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func e2eFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// e2eClosedPort returns a local port nothing listens on.
func e2eClosedPort(t *testing.T) int { return e2eFreePort(t) }

func e2eMiB(b int64) float64 { return float64(b) / (1 << 20) }
