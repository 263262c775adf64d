package lambdaruntime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// APIVersion is the Runtime API version in every path.
const APIVersion = "2018-06-01"

// The headers of the Runtime API.
const (
	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
	// HeaderFunctionErrorBody is the trailer aws-lambda-go sends, base64
	// JSON, when reading its response body failed half-way.
	HeaderFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// MaxPayload is Lambda's limit on a synchronous invocation's event and
// response: 6 MB.
const MaxPayload = 6 << 20

// Error types Lambda reports for a function that did not answer itself.
const (
	ErrorTypeExit    = "Runtime.ExitError"
	ErrorTypeTimeout = "Sandbox.Timedout"
	ErrorTypeUnknown = "Runtime.Unknown"
)

// Defaults of [Config].
const (
	DefaultFunctionName = "rotator"
	DefaultRegion       = "us-east-1"
	DefaultAccountID    = "123456789012"
	DefaultTimeout      = 30 * time.Second
)

// Config describes the function the server hosts.
type Config struct {
	// FunctionName is the function's name (default "rotator").
	FunctionName string
	// Region and AccountID make the function's ARN (defaults us-east-1
	// and 123456789012, those of rotatortest).
	Region, AccountID string
	// Timeout is the function's timeout: each invocation's deadline is
	// this far from when the runtime receives it (default 30 s).
	Timeout time.Duration
	// ListenAddr is where the API listens (default 127.0.0.1:0).
	ListenAddr string
}

func (c Config) withDefaults() Config {
	if c.FunctionName == "" {
		c.FunctionName = DefaultFunctionName
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:0"
	}
	return c
}

// FunctionARN is the ARN Lambda passes in Lambda-Runtime-Invoked-Function-Arn.
func (c Config) FunctionARN() string {
	c = c.withDefaults()
	return "arn:aws:lambda:" + c.Region + ":" + c.AccountID + ":function:" + c.FunctionName
}

// FunctionError is a failed invocation as Lambda's Invoke API reports it:
// the function's errorType and errorMessage (for an error the runtime
// posted), or Lambda's own (Runtime.ExitError, Sandbox.Timedout).
type FunctionError struct {
	// RequestID is the invocation's id ("" for an init error reported
	// before any invocation).
	RequestID string
	// ErrorType is the body's errorType, else the
	// Lambda-Runtime-Function-Error-Type header.
	ErrorType string `json:"errorType"`
	// ErrorMessage is the body's errorMessage.
	ErrorMessage string `json:"errorMessage"`
	// StackTrace is the body's stackTrace, when it has one.
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	// Init is true for an error posted to /runtime/init/error.
	Init bool `json:"-"`
}

func (e *FunctionError) Error() string {
	kind := "invocation"
	if e.Init {
		kind = "init"
	}
	return fmt.Sprintf("lambda %s error: %s: %s", kind, e.ErrorType, e.ErrorMessage)
}

type result struct {
	body []byte
	ferr *FunctionError
}

type invocation struct {
	id      string
	payload []byte
	traceID string
	done    chan result // buffered 1; written once
}

// Server is a Lambda Runtime API for one execution environment.
type Server struct {
	cfg Config
	ln  net.Listener
	srv *http.Server

	queue    chan *invocation
	invokeMu sync.Mutex // one invocation at a time

	ready     chan struct{}
	readyOnce sync.Once

	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	inflight map[string]*invocation
	initErr  *FunctionError
	exited   chan struct{}
	exitErr  error
	exitOnce sync.Once
	readyAt  time.Time
	nexts    int
	invoked  int
}

// New starts a Runtime API server. Close stops it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("lambdaruntime: listen: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		queue:    make(chan *invocation),
		ready:    make(chan struct{}),
		closed:   make(chan struct{}),
		exited:   make(chan struct{}),
		inflight: map[string]*invocation{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Config returns the server's configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server. Invocations waiting for an answer fail.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// Ready is closed when the runtime first asks for an invocation.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ReadyAt is when the runtime first asked for an invocation (zero before).
func (s *Server) ReadyAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyAt
}

// InitError is the error the runtime posted to /runtime/init/error, if any.
func (s *Server) InitError() *FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// Invocations is how many invocations the runtime received.
func (s *Server) Invocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invoked
}

// RuntimeExited tells the server that the runtime process is gone (err is
// how it ended, nil for a clean exit): the invocation in progress and every
// later one fail with Runtime.ExitError, as in Lambda. [Start] calls it.
func (s *Server) RuntimeExited(err error) {
	s.exitOnce.Do(func() {
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(s.exited)
	})
}

func (s *Server) exitError(id string) *FunctionError {
	s.mu.Lock()
	err := s.exitErr
	s.mu.Unlock()
	how := "exit status 0"
	if err != nil {
		how = err.Error()
	}
	return &FunctionError{
		RequestID:    id,
		ErrorType:    ErrorTypeExit,
		ErrorMessage: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", id, how),
	}
}

// Invoke runs one invocation with payload as the event and waits for the
// runtime's answer. A function error is returned as a *FunctionError with
// a nil error; err is for the caller's context ending or the server being
// closed. Invocations are run one at a time, in the order they are made.
func (s *Server) Invoke(ctx context.Context, payload []byte) (response []byte, ferr *FunctionError, err error) {
	if len(payload) > MaxPayload {
		return nil, nil, fmt.Errorf("lambdaruntime: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	s.invokeMu.Lock()
	defer s.invokeMu.Unlock()

	id := newRequestID()
	if ie := s.InitError(); ie != nil {
		e := *ie
		e.RequestID = id
		return nil, &e, nil
	}
	inv := &invocation{id: id, payload: payload, traceID: newTraceID(), done: make(chan result, 1)}
	s.mu.Lock()
	s.inflight[id] = inv
	s.mu.Unlock()
	// Hand the invocation over to the runtime's next GET.
	select {
	case s.queue <- inv:
	case <-s.exited:
		s.forget(id)
		return nil, s.exitError(id), nil
	case <-s.closed:
		s.forget(id)
		return nil, nil, errors.New("lambdaruntime: server closed")
	case <-ctx.Done():
		s.forget(id)
		return nil, nil, ctx.Err()
	}
	// The runtime has the event: the function's timeout runs from now.
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	select {
	case r := <-inv.done:
		return r.body, r.ferr, nil
	case <-s.exited:
		s.forget(id)
		// An answer posted just before the exit still counts.
		select {
		case r := <-inv.done:
			return r.body, r.ferr, nil
		default:
		}
		return nil, s.exitError(id), nil
	case <-timer.C:
		s.forget(id)
		return nil, &FunctionError{
			RequestID:    id,
			ErrorType:    ErrorTypeTimeout,
			ErrorMessage: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", id, s.cfg.Timeout.Seconds()),
		}, nil
	case <-s.closed:
		s.forget(id)
		return nil, nil, errors.New("lambdaruntime: server closed")
	case <-ctx.Done():
		s.forget(id)
		return nil, nil, ctx.Err()
	}
}

func (s *Server) forget(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.mu.Unlock()
}

// RotationFunc returns a function that invokes the runtime with a Secrets
// Manager rotation event, as Secrets Manager invokes a rotation function.
// A function error is returned as a *FunctionError. Its type is that of
// rotatortest.RotationFunc.
func (s *Server) RotationFunc() func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		payload, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, ferr, err := s.Invoke(ctx, payload)
		if err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
		return nil
	}
}

const prefix = "/" + APIVersion + "/runtime/"

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "unknown path "+r.URL.Path)
		return
	}
	switch {
	case path == "invocation/next":
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
			return
		}
		s.next(w, r)
	case path == "init/error":
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
			return
		}
		s.postInitError(w, r)
	case strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, what, ok := strings.Cut(rest, "/")
		if !ok || id == "" || (what != "response" && what != "error") {
			writeError(w, http.StatusNotFound, "NotFound", "unknown path "+r.URL.Path)
			return
		}
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
			return
		}
		s.postResult(w, r, id, what == "error")
	default:
		writeError(w, http.StatusNotFound, "NotFound", "unknown path "+r.URL.Path)
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.nexts++
	if s.readyAt.IsZero() {
		s.readyAt = time.Now()
	}
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })

	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-s.closed:
		writeError(w, http.StatusInternalServerError, "ServerClosed", "the execution environment is shutting down")
		return
	case <-r.Context().Done():
		return
	}
	// The deadline runs from when the runtime receives the event.
	deadline := time.Now().Add(s.cfg.Timeout)
	s.mu.Lock()
	s.invoked++
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMs, strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set(HeaderInvokedFunctionARN, s.cfg.FunctionARN())
	h.Set(HeaderTraceID, inv.traceID)
	h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

func (s *Server) postResult(w http.ResponseWriter, r *http.Request, id string, isErr bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.complete(id, result{ferr: &FunctionError{
				RequestID: id, ErrorType: "Function.ResponseSizeTooLarge",
				ErrorMessage: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayload),
			}})
			writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "payload too large")
			return
		}
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	var res result
	switch {
	case isErr:
		res.ferr = parseFunctionError(r, body)
		res.ferr.RequestID = id
	case r.Trailer.Get(HeaderFunctionErrorType) != "":
		// aws-lambda-go failed while streaming the response.
		res.ferr = parseFunctionError(r, nil)
		res.ferr.RequestID = id
	default:
		res.body = body
	}
	if !s.complete(id, res) {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return
	}
	writeAccepted(w)
}

// complete delivers the result of an invocation in flight.
func (s *Server) complete(id string, res result) bool {
	s.mu.Lock()
	inv := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if inv == nil {
		return false
	}
	inv.done <- res
	return true
}

func (s *Server) postInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	if s.nexts > 0 || s.initErr != nil {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error after initialisation ended")
		return
	}
	fe := parseFunctionError(r, body)
	fe.Init = true
	s.initErr = fe
	s.mu.Unlock()
	writeAccepted(w)
}

// parseFunctionError reads {"errorMessage", "errorType", "stackTrace"} and
// the error-type header; a body that is not such JSON becomes the message.
func parseFunctionError(r *http.Request, body []byte) *FunctionError {
	fe := &FunctionError{}
	if len(body) == 0 {
		if b64 := r.Trailer.Get(HeaderFunctionErrorBody); b64 != "" {
			if dec, err := base64.StdEncoding.DecodeString(b64); err == nil {
				body = dec
			}
		}
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, fe); err != nil {
			fe.ErrorMessage = string(body)
		}
	}
	if fe.ErrorType == "" {
		fe.ErrorType = r.Header.Get(HeaderFunctionErrorType)
	}
	if fe.ErrorType == "" {
		fe.ErrorType = r.Trailer.Get(HeaderFunctionErrorType)
	}
	if fe.ErrorType == "" {
		fe.ErrorType = ErrorTypeUnknown
	}
	return fe
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRequestID returns a UUID-shaped id, as Lambda's request ids are.
func newRequestID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header as Lambda passes it.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}
