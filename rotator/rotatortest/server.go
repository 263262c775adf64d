package rotatortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Identity of the fake account the server pretends to be.
const (
	// Region is the region in every ARN the server makes and the region of
	// the client returned by [Server.Client].
	Region = "us-east-1"
	// AccountID is the account in every ARN the server makes.
	AccountID = "123456789012"
)

// The staging labels Secrets Manager gives a meaning to.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// The four rotation steps, in the order Secrets Manager invokes them.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Steps lists the rotation steps in invocation order.
var Steps = []string{StepCreate, StepSet, StepTest, StepFinish}

// Server is an in-process AWS Secrets Manager. It speaks the AWS JSON 1.1
// protocol over HTTP, so the real SDK client (see [Server.Client]) talks to
// it exactly as it talks to AWS, and it plays Secrets Manager's part in a
// rotation by invoking registered [RotationFunc]s through the four steps.
//
// All methods are safe for concurrent use.
type Server struct {
	ts      *httptest.Server
	handler http.Handler
	cfg     config

	baseCtx context.Context
	cancel  context.CancelFunc

	clientOnce sync.Once
	client     *secretsmanager.Client

	mu        sync.Mutex
	secrets   map[string]*secret // by name
	functions map[string]RotationFunc
	outcomes  map[string]RotationOutcome // by secret ARN
	faults    map[string][]*faultState
	calls     []Call
	seq       int64
}

type config struct {
	attempts       int
	retryDelay     time.Duration
	clock          func() time.Time
	pendingCleanup bool
	noListen       bool
	hygiene        *Hygiene
}

// Option configures a [Server].
type Option func(*config)

// WithRotationAttempts sets how many times a failed rotation is attempted in
// all (each attempt re-invokes the function from createSecret with the same
// ClientRequestToken, as Secrets Manager does). n < 1 means 1. The default
// is 3.
func WithRotationAttempts(n int) Option {
	return func(c *config) {
		if n < 1 {
			n = 1
		}
		c.attempts = n
	}
}

// WithRetryDelay sets the pause between two attempts of a failed rotation.
// The default is no pause.
func WithRetryDelay(d time.Duration) Option {
	return func(c *config) { c.retryDelay = d }
}

// WithClock sets the clock used for every date the server records
// (CreatedDate, LastChangedDate, LastRotatedDate, DeletionDate, ...).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// WithoutPendingCleanup turns off the clean-up Secrets Manager does after a
// successful rotation (removing AWSPENDING from the version that is now
// AWSCURRENT), so that a test can check that a rotation function copes with
// a version labelled both AWSCURRENT and AWSPENDING, which the RotateSecret
// documentation names as a possible state after a successful rotation.
func WithoutPendingCleanup() Option {
	return func(c *config) { c.pendingCleanup = false }
}

// WithoutListener makes [NewServer] start no HTTP listener: use
// [Server.Handler] to serve the API yourself. [Server.URL] is then empty
// and [Server.Client] must not be called.
func WithoutListener() Option {
	return func(c *config) { c.noListen = true }
}

// WithHygiene makes the server register the secret values stored through
// it, and the passwords GetRandomPassword makes, into h instead of the
// test binary's own Hygiene (see [Hygienic]).
func WithHygiene(h *Hygiene) Option {
	return func(c *config) { c.hygiene = h }
}

// NewServer starts a Secrets Manager on 127.0.0.1 on a free port (through
// net/http/httptest). Call [Server.Close] when done.
func NewServer(opts ...Option) *Server {
	cfg := config{attempts: 3, clock: time.Now, pendingCleanup: true, hygiene: binaryHygiene}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.hygiene == nil {
		cfg.hygiene = binaryHygiene
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		baseCtx:   ctx,
		cancel:    cancel,
		secrets:   map[string]*secret{},
		functions: map[string]RotationFunc{},
		outcomes:  map[string]RotationOutcome{},
		faults:    map[string][]*faultState{},
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	if !cfg.noListen {
		s.ts = httptest.NewServer(s.handler)
	}
	return s
}

// URL is the server's base URL, for example http://127.0.0.1:43121.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Close stops the server and cancels any rotation still running.
func (s *Server) Close() {
	s.cancel()
	if s.ts != nil {
		s.ts.Close()
	}
}

// Handler returns the API as an http.Handler (POST / with an X-Amz-Target
// header), so that a command can serve it on an address of its choosing.
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns a client of the real SDK that talks to this server: static
// credentials, region us-east-1, BaseEndpoint = URL, and the standard
// retryer (3 attempts, same retryable and throttling errors as in AWS) with
// a 1 ms backoff so that tests of retries do not sleep. The same client is
// returned on every call.
func (s *Server) Client() *secretsmanager.Client {
	s.clientOnce.Do(func() {
		s.client = secretsmanager.New(secretsmanager.Options{}, s.ClientOptions())
	})
	return s.client
}

// ClientOptions returns the option that points a Secrets Manager client at
// this server (as [Server.Client] is configured), for code that builds its
// own client, e.g. secretsmanager.NewFromConfig(cfg, srv.ClientOptions()).
func (s *Server) ClientOptions() func(*secretsmanager.Options) {
	return EndpointOptions(s.URL())
}

// EndpointOptions returns the option that points a Secrets Manager client
// at a server at baseURL (for example one served with [Server.Handler] on
// an address of your choosing), configured as [Server.Client] is.
func EndpointOptions(baseURL string) func(*secretsmanager.Options) {
	return func(o *secretsmanager.Options) {
		o.Region = Region
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDROTATORTEST", "rotatortest-secret-key", "")
		o.BaseEndpoint = aws.String(baseURL)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return time.Millisecond, nil
			})
		})
	}
}

// Call is one API request as the server saw it. It never holds a secret
// value.
type Call struct {
	// Seq numbers calls from 1 in the order the server received them.
	Seq int64
	// Time is when the call arrived (by the server's clock).
	Time time.Time
	// Operation is the API operation, e.g. "GetSecretValue".
	Operation string
	// SecretID is the SecretId (or Name for CreateSecret) as sent.
	SecretID string
	// ARN is the ARN of the secret the call resolved to, when it did.
	ARN string
	// VersionID is the version the call named (VersionId, or
	// MoveToVersionId for UpdateSecretVersionStage), else the version it
	// read or created.
	VersionID string
	// VersionStage is the VersionStage parameter, when sent.
	VersionStage string
	// VersionStages is the VersionStages parameter of PutSecretValue.
	VersionStages []string
	// MoveToVersionID and RemoveFromVersionID are the parameters of
	// UpdateSecretVersionStage.
	MoveToVersionID, RemoveFromVersionID string
	// ClientRequestToken is the token as sent.
	ClientRequestToken string
	// RotationToken is the RotationToken parameter of PutSecretValue.
	RotationToken string
	// ErrorType is the error returned (e.g. "ResourceNotFoundException"),
	// or "" on success.
	ErrorType string
	// Status is the HTTP status returned; 0 while the call is still being
	// served (RotateSecret runs its rotation before it answers).
	Status int
	// Fault is true when the answer came from an injected [Fault].
	Fault bool
}

// Calls returns a copy of the call log, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// ResetCalls empties the call log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

// CallCounts counts the logged calls by operation.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, c := range s.calls {
		m[c.Operation]++
	}
	return m
}

// callsSince returns the calls with Seq > seq.
func (s *Server) callsSince(seq int64) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Seq > seq {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) lastSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Fault is an error or a delay that the server injects into calls of one
// operation (see [Server.InjectFault]).
type Fault struct {
	// ErrorType is the error to return, e.g. "ThrottlingException" (which
	// the SDK retries as throttling) or "InternalServiceError". Empty with
	// Status 0 means no error: only Latency applies.
	ErrorType string
	// Status is the HTTP status of the error. 0 means 500 for
	// InternalServiceError and ServiceUnavailable, else 400.
	Status int
	// Message is the error message. Empty means a generic one.
	Message string
	// Latency delays the answer (error or real) by this much.
	Latency time.Duration
	// Times is how many calls the fault applies to; 0 means every call.
	Times int
	// AfterApply performs the call first (its change is made) and only
	// then delays the answer by Latency and, with an error, replaces the
	// answer by it: the caller never learns that its change was made, as
	// when its deadline ends or its connection is lost while the answer is
	// on its way.
	AfterApply bool
}

type faultState struct {
	f    Fault
	left int // remaining when f.Times > 0
}

// InjectFault makes the next f.Times calls of operation (every call when
// Times is 0) answer with f. operation "*" matches every operation. Faults
// of an operation apply in the order they were injected, before the faults
// of "*".
func (s *Server) InjectFault(operation string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[operation] = append(s.faults[operation], &faultState{f: f, left: f.Times})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*faultState{}
}

// takeFault returns the fault that applies to this call of op, if any, and
// uses it up. Caller holds s.mu.
func (s *Server) takeFault(op string) (Fault, bool) {
	for _, key := range []string{op, "*"} {
		list := s.faults[key]
		for i, fs := range list {
			if fs.f.Times == 0 {
				return fs.f, true
			}
			if fs.left > 0 {
				fs.left--
				if fs.left == 0 {
					s.faults[key] = append(list[:i:i], list[i+1:]...)
				}
				return fs.f, true
			}
		}
	}
	return Fault{}, false
}

func (s *Server) now() time.Time { return s.cfg.clock() }

// apiError is an error of the Secrets Manager API.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errf(typ, format string, args ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// Error types of the API (the names the SDK maps to its types package).
const (
	errResourceNotFound = "ResourceNotFoundException"
	errResourceExists   = "ResourceExistsException"
	errInvalidRequest   = "InvalidRequestException"
	errInvalidParameter = "InvalidParameterException"
	errValidation       = "ValidationException"
	errSerialization    = "SerializationException"
	errUnknownOperation = "UnknownOperationException"
	errInternal         = "InternalServiceError"
)

// commonFields are the request fields the call log records.
type commonFields struct {
	SecretID            string   `json:"SecretId"`
	Name                string   `json:"Name"`
	VersionID           string   `json:"VersionId"`
	VersionStage        string   `json:"VersionStage"`
	VersionStages       []string `json:"VersionStages"`
	MoveToVersionID     string   `json:"MoveToVersionId"`
	RemoveFromVersionID string   `json:"RemoveFromVersionId"`
	ClientRequestToken  string   `json:"ClientRequestToken"`
	RotationToken       string   `json:"RotationToken"`
}

// maxBody bounds a request body (a secret value is at most 64 KiB).
const maxBody = 1 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if !ok || r.Method != http.MethodPost {
		if target == "" {
			op = r.Method + " " + r.URL.Path
		} else {
			op = target
		}
		e := errf(errUnknownOperation, "rotatortest: expected POST with X-Amz-Target: secretsmanager.<Operation>")
		s.record(Call{Operation: op, ErrorType: e.Type, Status: e.Status})
		writeError(w, e)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, errf(errSerialization, "reading request body: %v", err))
		return
	}
	var cf commonFields
	_ = json.Unmarshal(body, &cf) // each operation reports bad JSON itself
	call := Call{
		Operation:           op,
		SecretID:            cf.SecretID,
		VersionID:           cf.VersionID,
		VersionStage:        cf.VersionStage,
		VersionStages:       cf.VersionStages,
		MoveToVersionID:     cf.MoveToVersionID,
		RemoveFromVersionID: cf.RemoveFromVersionID,
		ClientRequestToken:  cf.ClientRequestToken,
		RotationToken:       cf.RotationToken,
	}
	if op == "CreateSecret" {
		call.SecretID = cf.Name
	}
	if op == "UpdateSecretVersionStage" {
		call.VersionID = cf.MoveToVersionID
	}

	s.mu.Lock()
	f, faulty := s.takeFault(op)
	s.mu.Unlock()
	if faulty && f.AfterApply {
		s.serveAfterApply(w, r, op, body, call, f)
		return
	}
	if faulty {
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.ErrorType != "" || f.Status != 0 {
			e := faultError(f)
			call.ErrorType, call.Status, call.Fault = e.Type, e.Status, true
			s.record(call)
			writeError(w, e)
			return
		}
	}
	if len(body) > maxBody {
		e := errf(errInvalidParameter, "The request body is larger than %d bytes.", maxBody)
		call.ErrorType, call.Status = e.Type, e.Status
		s.record(call)
		writeError(w, e)
		return
	}

	// seq is taken before the operation runs, so that the RotateSecret call
	// comes before the calls its rotation function makes.
	seq := s.record(call)
	out, aerr := s.dispatch(op, body, &call)
	if aerr != nil {
		call.ErrorType, call.Status = aerr.Type, aerr.Status
	} else {
		call.Status = http.StatusOK
	}
	s.update(seq, call)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// serveAfterApply performs the call, then answers with the fault f
// (Fault.AfterApply).
func (s *Server) serveAfterApply(w http.ResponseWriter, r *http.Request, op string, body []byte, call Call, f Fault) {
	call.Fault = true
	seq := s.record(call)
	out, aerr := s.dispatch(op, body, &call)
	if aerr != nil {
		call.ErrorType, call.Status = aerr.Type, aerr.Status
	} else {
		call.Status = http.StatusOK
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if f.ErrorType != "" || f.Status != 0 {
		e := faultError(f)
		call.ErrorType, call.Status = e.Type, e.Status
		s.update(seq, call)
		writeError(w, e)
		return
	}
	s.update(seq, call)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// record appends c to the call log and returns its Seq.
func (s *Server) record(c Call) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	c.Seq = s.seq
	c.Time = s.now()
	s.calls = append(s.calls, c)
	return c.Seq
}

// update rewrites the logged call seq with the outcome in c.
func (s *Server) update(seq int64, c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].Seq == seq {
			c.Seq, c.Time = seq, s.calls[i].Time
			s.calls[i] = c
			return
		}
	}
}

func faultError(f Fault) *apiError {
	typ := f.ErrorType
	if typ == "" {
		typ = errInternal
	}
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
		if typ == errInternal || typ == "ServiceUnavailable" {
			status = http.StatusInternalServerError
		}
	}
	msg := f.Message
	if msg == "" {
		msg = "rotatortest: injected " + typ
		if typ == "ThrottlingException" {
			msg = "Rate exceeded"
		}
	}
	return &apiError{Type: typ, Message: msg, Status: status}
}

func (s *Server) dispatch(op string, body []byte, call *Call) (any, *apiError) {
	switch op {
	case "CreateSecret":
		return s.createSecret(body, call)
	case "GetSecretValue":
		return s.getSecretValue(body, call)
	case "PutSecretValue":
		return s.putSecretValue(body, call)
	case "UpdateSecretVersionStage":
		return s.updateSecretVersionStage(body, call)
	case "DescribeSecret":
		return s.describeSecret(body, call)
	case "ListSecretVersionIds":
		return s.listSecretVersionIDs(body, call)
	case "GetRandomPassword":
		return s.getRandomPassword(body)
	case "RotateSecret":
		return s.rotateSecret(body, call)
	case "CancelRotateSecret":
		return s.cancelRotateSecret(body, call)
	case "DeleteSecret":
		return s.deleteSecret(body, call)
	case "RestoreSecret":
		return s.restoreSecret(body, call)
	}
	return nil, errf(errUnknownOperation, "rotatortest: operation %s is not implemented", op)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &apiError{Type: errInternal, Message: err.Error(), Status: http.StatusInternalServerError})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers as AWS JSON 1.1 does: the error type in "__type", which
// the SDK resolves to its typed errors (types.ResourceNotFoundException, ...)
// or, for types the service does not model such as ThrottlingException, to a
// smithy.GenericAPIError with that code.
func writeError(w http.ResponseWriter, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	b, _ := json.Marshal(map[string]string{"__type": e.Type, "message": e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errf(errSerialization, "could not parse request body: %v", err)
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
