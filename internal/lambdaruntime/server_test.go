package lambdaruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// envHelper makes the test binary a Lambda function built on aws-lambda-go,
// so that the server is tested against the real runtime client.
const envHelper = "LAMBDARUNTIME_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		lambda.Start(helperHandler)
		return
	}
	os.Exit(m.Run())
}

type helperEvent struct {
	Do   string `json:"do"`
	Echo string `json:"echo"`
}

type helperOut struct {
	Echo       string `json:"echo"`
	RequestID  string `json:"request_id"`
	ARN        string `json:"arn"`
	HasDL      bool   `json:"has_deadline"`
	Trace      string `json:"trace"`
	Function   string `json:"function"`
	Region     string `json:"region"`
	TaskRoot   string `json:"task_root"`
	Handler    string `json:"handler"`
	Home       string `json:"home"`
	MemorySize string `json:"memory_size"`
}

func helperHandler(ctx context.Context, ev helperEvent) (helperOut, error) {
	switch ev.Do {
	case "fail":
		return helperOut{}, errors.New("it failed on purpose")
	case "panic":
		panic("a panic on purpose")
	case "exit":
		os.Exit(3)
	case "sleep":
		time.Sleep(5 * time.Second)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDL := ctx.Deadline()
	return helperOut{
		Echo:       ev.Echo,
		RequestID:  lc.AwsRequestID,
		ARN:        lc.InvokedFunctionArn,
		HasDL:      hasDL,
		Trace:      os.Getenv("_X_AMZN_TRACE_ID"),
		Function:   lambdacontext.FunctionName,
		Region:     os.Getenv("AWS_REGION"),
		TaskRoot:   os.Getenv("LAMBDA_TASK_ROOT"),
		Handler:    os.Getenv("_HANDLER"),
		Home:       os.Getenv("HOME"),
		MemorySize: os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
	}, nil
}

func startHelper(t *testing.T, cfg Config) (*Server, *Process) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(t.Context(), s, exe, envHelper+"=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(2 * time.Second) })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func invoke(t *testing.T, s *Server, ev helperEvent) (helperOut, *FunctionError) {
	t.Helper()
	payload, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	body, ferr, err := s.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke(%+v): %v", ev, err)
	}
	var out helperOut
	if ferr == nil {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("response %q: %v", body, err)
		}
	}
	return out, ferr
}

// TestLambdaRuntimeAPIWithAWSLambdaGo drives aws-lambda-go's own runtime
// client (this test binary started as a bootstrap) through the server.
func TestLambdaRuntimeAPIWithAWSLambdaGo(t *testing.T) {
	s, p := startHelper(t, Config{FunctionName: "helper"})

	out, ferr := invoke(t, s, helperEvent{Echo: "hello"})
	if ferr != nil {
		t.Fatalf("unexpected function error: %v", ferr)
	}
	if out.Echo != "hello" {
		t.Errorf("echo = %q", out.Echo)
	}
	if len(out.RequestID) != 36 {
		t.Errorf("request id %q is not UUID-shaped", out.RequestID)
	}
	if want := "arn:aws:lambda:us-east-1:123456789012:function:helper"; out.ARN != want {
		t.Errorf("invoked function ARN = %q, want %q", out.ARN, want)
	}
	if !out.HasDL {
		t.Error("the handler's context has no deadline")
	}
	if !strings.HasPrefix(out.Trace, "Root=1-") {
		t.Errorf("trace id = %q", out.Trace)
	}
	if out.Function != "helper" || out.Region != "us-east-1" || out.Handler != "bootstrap" || out.TaskRoot == "" || out.MemorySize != "128" {
		t.Errorf("environment seen by the function: %+v", out)
	}
	if out.Home != "" {
		t.Errorf("the caller's environment leaked: HOME=%q", out.Home)
	}

	// A returned error is posted to .../error and comes back as Lambda's
	// Invoke API reports it; the runtime keeps serving.
	_, ferr = invoke(t, s, helperEvent{Do: "fail"})
	if ferr == nil || ferr.ErrorMessage != "it failed on purpose" || ferr.ErrorType != "errorString" || ferr.Init {
		t.Fatalf("function error = %+v", ferr)
	}
	_, ferr = invoke(t, s, helperEvent{Do: "panic"})
	if ferr == nil || ferr.ErrorMessage != "a panic on purpose" || !strings.Contains(ferr.ErrorType, "string") || len(ferr.StackTrace) == 0 {
		t.Fatalf("panic = %+v", ferr)
	}
	// aws-lambda-go exits after a panic: the next invocation gets the exit.
	_, ferr = invoke(t, s, helperEvent{Echo: "after panic"})
	if ferr == nil || ferr.ErrorType != ErrorTypeExit {
		t.Fatalf("invocation after the runtime exited = %+v, want %s", ferr, ErrorTypeExit)
	}
	if got := s.Invocations(); got != 3 {
		t.Errorf("Invocations() = %d, want 3", got)
	}
	// Nothing read VmHWM before the runtime exited by itself.
	if rss, err := p.PeakRSS(); err == nil {
		t.Errorf("PeakRSS() = %d for a process never measured while it ran, want an error", rss)
	}
}

func TestLambdaRuntimeExitDuringInvocation(t *testing.T) {
	s, p := startHelper(t, Config{})
	before, err := p.PeakRSS() // VmHWM while running
	if err != nil || before <= 0 {
		t.Fatalf("PeakRSS() while running = %d, %v", before, err)
	}
	_, ferr := invoke(t, s, helperEvent{Do: "exit"})
	if ferr == nil || ferr.ErrorType != ErrorTypeExit || !strings.Contains(ferr.ErrorMessage, "exit status 3") {
		t.Fatalf("function error = %+v", ferr)
	}
	<-p.Done()
	after, err := p.PeakRSS() // the last VmHWM read
	if err != nil || after < before {
		t.Fatalf("PeakRSS() after exit = %d, %v (before: %d)", after, err, before)
	}
	// The test binary is far larger than the helper's own memory: the
	// peak must be the child's, not inherited from its parent.
	if after > 64<<20 {
		t.Errorf("PeakRSS() = %d MiB: the parent's memory leaked into the measure", after>>20)
	}
}

func TestLambdaRuntimeTimeout(t *testing.T) {
	s, _ := startHelper(t, Config{Timeout: 300 * time.Millisecond})
	_, ferr := invoke(t, s, helperEvent{Do: "sleep"})
	if ferr == nil || ferr.ErrorType != ErrorTypeTimeout || !strings.Contains(ferr.ErrorMessage, "Task timed out after 0.30 seconds") {
		t.Fatalf("function error = %+v", ferr)
	}
}

// rawRuntime talks to the server as a hand-written custom runtime would.
type rawRuntime struct {
	t    *testing.T
	base string
}

func (r rawRuntime) do(method, path string, body string, hdr map[string]string) (*http.Response, string) {
	r.t.Helper()
	req, err := http.NewRequestWithContext(r.t.Context(), method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestLambdaRuntimeAPIPathsAndHeaders(t *testing.T) {
	s, err := New(Config{FunctionName: "raw", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rt := rawRuntime{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/"}

	type answer struct {
		body []byte
		ferr *FunctionError
		err  error
	}
	invokeAsync := func(payload string) chan answer {
		ch := make(chan answer, 1)
		go func() {
			b, fe, err := s.Invoke(context.Background(), []byte(payload))
			ch <- answer{b, fe, err}
		}()
		return ch
	}

	// Next: the event and the headers Lambda sends.
	ch := invokeAsync(`{"n":1}`)
	start := time.Now()
	resp, body := rt.do(http.MethodGet, "invocation/next", "", nil)
	if resp.StatusCode != http.StatusOK || body != `{"n":1}` {
		t.Fatalf("next = %d %q", resp.StatusCode, body)
	}
	id := resp.Header.Get(HeaderRequestID)
	dl, err := strconv.ParseInt(resp.Header.Get(HeaderDeadlineMs), 10, 64)
	if err != nil || dl < start.Add(9*time.Second).UnixMilli() || dl > time.Now().Add(11*time.Second).UnixMilli() {
		t.Errorf("deadline header %q, err %v", resp.Header.Get(HeaderDeadlineMs), err)
	}
	if got := resp.Header.Get(HeaderInvokedFunctionARN); got != "arn:aws:lambda:us-east-1:123456789012:function:raw" {
		t.Errorf("ARN header %q", got)
	}
	if got := resp.Header.Get(HeaderTraceID); !strings.HasPrefix(got, "Root=1-") {
		t.Errorf("trace header %q", got)
	}
	select {
	case <-s.Ready():
	default:
		t.Error("Ready not closed after the first next")
	}

	// An unknown id is 400; the right one is 202 and answers the invoke;
	// answering twice is 400.
	if resp, _ := rt.do(http.MethodPost, "invocation/nope/response", "x", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("response for an unknown id: %d", resp.StatusCode)
	}
	if resp, body := rt.do(http.MethodPost, "invocation/"+id+"/response", `"ok"`, nil); resp.StatusCode != http.StatusAccepted {
		t.Errorf("response: %d %s", resp.StatusCode, body)
	}
	if a := <-ch; a.err != nil || a.ferr != nil || string(a.body) != `"ok"` {
		t.Errorf("Invoke = %q, %v, %v", a.body, a.ferr, a.err)
	}
	if resp, _ := rt.do(http.MethodPost, "invocation/"+id+"/response", `"again"`, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second response: %d", resp.StatusCode)
	}

	// An error with the type in the header and a body that is not JSON.
	ch = invokeAsync(`{}`)
	resp, _ = rt.do(http.MethodGet, "invocation/next", "", nil)
	id = resp.Header.Get(HeaderRequestID)
	if resp, _ := rt.do(http.MethodPost, "invocation/"+id+"/error", "plain text", map[string]string{HeaderFunctionErrorType: "Custom.Type"}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("error: %d", resp.StatusCode)
	}
	if a := <-ch; a.err != nil || a.ferr == nil || a.ferr.ErrorType != "Custom.Type" || a.ferr.ErrorMessage != "plain text" || a.ferr.RequestID != id {
		t.Errorf("Invoke error = %+v, %v", a.ferr, a.err)
	}

	// Init error after initialisation is refused; unknown paths are 404.
	if resp, _ := rt.do(http.MethodPost, "init/error", `{"errorMessage":"late","errorType":"X"}`, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("late init error: %d", resp.StatusCode)
	}
	if resp, _ := rt.do(http.MethodGet, "invocation/whatever", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	if resp, _ := rt.do(http.MethodPost, "invocation/next", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST next: %d", resp.StatusCode)
	}

	// A response over 6 MB is 413 and fails the invocation.
	ch = invokeAsync(`{}`)
	resp, _ = rt.do(http.MethodGet, "invocation/next", "", nil)
	id = resp.Header.Get(HeaderRequestID)
	big := bytes.Repeat([]byte("a"), MaxPayload+1)
	if resp, _ := rt.do(http.MethodPost, "invocation/"+id+"/response", string(big), nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("big response: %d", resp.StatusCode)
	}
	if a := <-ch; a.ferr == nil || a.ferr.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Errorf("Invoke after a big response = %+v, %v", a.ferr, a.err)
	}
}

func TestLambdaRuntimeInitError(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rt := rawRuntime{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/"}
	resp, _ := rt.do(http.MethodPost, "init/error", `{"errorMessage":"no config","errorType":"Runtime.ConfigError"}`,
		map[string]string{HeaderFunctionErrorType: "Runtime.ConfigError"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("init error: %d", resp.StatusCode)
	}
	ie := s.InitError()
	if ie == nil || !ie.Init || ie.ErrorType != "Runtime.ConfigError" || ie.ErrorMessage != "no config" {
		t.Fatalf("InitError() = %+v", ie)
	}
	_, ferr, err := s.Invoke(t.Context(), []byte(`{}`))
	if err != nil || ferr == nil || !ferr.Init || ferr.ErrorMessage != "no config" {
		t.Fatalf("Invoke after an init error = %+v, %v", ferr, err)
	}
	if !strings.Contains(ferr.Error(), "init error") {
		t.Errorf("Error() = %q", ferr.Error())
	}
}

func TestLambdaRuntimeRotationFunc(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rt := rawRuntime{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime/"}
	fn := s.RotationFunc()
	errc := make(chan error, 1)
	go func() {
		errc <- fn(context.Background(), events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: "arn:x", ClientRequestToken: "tok"})
	}()
	resp, body := rt.do(http.MethodGet, "invocation/next", "", nil)
	var ev events.SecretsManagerSecretRotationEvent
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.Step != "createSecret" || ev.SecretID != "arn:x" || ev.ClientRequestToken != "tok" {
		t.Fatalf("event %q: %v", body, err)
	}
	id := resp.Header.Get(HeaderRequestID)
	rt.do(http.MethodPost, "invocation/"+id+"/error", `{"errorMessage":"createSecret: boom","errorType":"StepError"}`, nil)
	err = <-errc
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.ErrorType != "StepError" || fe.ErrorMessage != "createSecret: boom" {
		t.Fatalf("RotationFunc error = %v", err)
	}
	if got := fmt.Sprint(err); !strings.Contains(got, "createSecret: boom") {
		t.Errorf("Error() = %q", got)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"})
	if strings.Join(got, ",") != "A=1,B=3,C=4" {
		t.Errorf("mergeEnv = %v", got)
	}
}
