package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// DefaultLocalPort is where `rotator local` listens by default.
const DefaultLocalPort = 8484

func (c *cli) local(ctx context.Context, args []string) int {
	fs := c.flags("local")
	port := fs.Int("port", DefaultLocalPort, "TCP port to listen on (0: any free port)")
	host := fs.String("host", "127.0.0.1", "address to listen on (the server checks no credentials: keep it on loopback)")
	seed := fs.String("seed", "", `JSON file of secrets to create: {"secrets":[{"name":"app/db","value":{...}}]} (examples/quickstart/secrets.json)`)
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *port < 0 || *port > 65535 {
		c.errorf("local: --port %d is not a TCP port", *port)
		return exitUsage
	}
	var seeds []seedSecret
	if *seed != "" {
		var err error
		if seeds, err = readSeed(*seed); err != nil {
			c.errorf("local: %v", err)
			return exitUsage
		}
	}

	ls, err := serveLocal(*host, *port)
	if err != nil {
		c.errorf("local: %v", err)
		return exitFailed
	}
	defer ls.close(ctx)

	created, err := createSeeds(ctx, ls.client, seeds)
	if err != nil {
		c.errorf("local: seed %s: %v", *seed, err)
		return exitFailed
	}
	out := &lockedWriter{w: c.stdout}
	functions := c.registerFunctions(ctx, ls.srv, ls.client, out)

	fmt.Fprintf(out, "Secrets Manager (rotatortest) listening on %s\n", ls.url)
	for _, s := range created {
		fmt.Fprintf(out, "  seeded %s  %s\n", s.name, s.arn)
	}
	for _, f := range functions {
		fmt.Fprintf(out, "  rotation function %s\n", f)
	}
	example := "app/db"
	if len(created) > 0 {
		example = created[0].name
	}
	fmt.Fprintln(out)
	printClientSetup(out, ls.url, example)
	printTryIt(out, ls.url, example, "postgres-single-user")
	fmt.Fprintln(out, "State lives in memory and is gone when this stops. Ctrl-C stops it.")

	if err := ls.wait(ctx); err != nil {
		c.errorf("local: %v", err)
		return exitFailed
	}
	fmt.Fprintln(out, "stopping")
	return exitOK
}

// localServer is rotatortest's Secrets Manager served on an address of the
// user's choosing (rotator local, rotator demo --keep).
type localServer struct {
	srv    *rotatortest.Server
	url    string
	client *secretsmanager.Client
	hs     *http.Server
	served chan error
}

// serveLocal listens on host:port and serves a new, empty Secrets Manager
// there.
func serveLocal(host string, port int) (*localServer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%w (another rotator local or rotator demo --keep? pass --port)", err)
	}
	srv := rotatortest.NewServer(rotatortest.WithoutListener())
	url := "http://" + ln.Addr().String()
	ls := &localServer{
		srv:    srv,
		url:    url,
		client: secretsmanager.New(secretsmanager.Options{}, rotatortest.EndpointOptions(url)),
		hs:     &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { ls.served <- ls.hs.Serve(ln) }()
	return ls, nil
}

// wait serves until ctx is done (nil) or the server fails.
func (l *localServer) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-l.served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// close stops serving, giving requests in flight a few seconds, even
// when ctx was cancelled (that is how the server is asked to stop).
func (l *localServer) close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = l.hs.Shutdown(sctx)
	l.srv.Close()
}

// printClientSetup prints the environment that points the AWS CLI (v1 and
// v2), the SDKs and rotator at a local Secrets Manager, with a command
// that reads secretID through it. The clients read different variables:
// AWS CLI v2, recent v1 releases and the SDKs take the endpoint from
// AWS_ENDPOINT_URL_SECRETS_MANAGER, older v1 releases only from
// --endpoint-url; v1 takes the region from AWS_DEFAULT_REGION only, v2 and
// the SDKs from AWS_REGION first. Every client insists on credentials,
// which the server never checks: placeholders do.
func printClientSetup(w io.Writer, url, secretID string) {
	v2 := "aws secretsmanager describe-secret --secret-id " + secretID
	v1 := "aws --endpoint-url " + url + " secretsmanager describe-secret --secret-id " + secretID
	width := max(len(v1), len(v2))
	fmt.Fprintf(w, `Point the AWS CLI and SDKs at it (it checks no credentials: placeholders do):
  export AWS_ENDPOINT_URL_SECRETS_MANAGER=%[1]s
  export AWS_REGION=%[2]s AWS_DEFAULT_REGION=%[2]s
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  %-[3]*[4]s  # AWS CLI v2 (and recent v1), the SDKs, rotator
  %-[3]*[5]s  # AWS CLI v1, or any version
`, url, rotatortest.Region, width, v2, v1)
}

// printTryIt prints the commands that use a local Secrets Manager on a
// secret it holds.
func printTryIt(w io.Writer, url, secretID, function string) {
	fmt.Fprintf(w, `Then:
  rotator preflight --endpoint-url %[1]s --secret-id %[2]s --function %[3]s
  rotator rotate --endpoint-url %[1]s --secret-id %[2]s --function %[3]s
  aws --endpoint-url %[1]s secretsmanager rotate-secret --secret-id %[2]s --rotation-lambda-arn %[4]s
`, url, secretID, function, rotatortest.FunctionARN(function))
}

// registerFunctions makes every built-in function invocable by
// RotateSecret on this server, under the ARN rotatortest.FunctionARN(name):
// the server then plays Secrets Manager's part exactly (a version without
// a value, then the four steps), and the handler is the Lambda one. Step
// outcomes are printed as they happen.
func (c *cli) registerFunctions(ctx context.Context, srv *rotatortest.Server, client *secretsmanager.Client, out *lockedWriter) []string {
	var arns []string
	logger, err := c.stepLogger(false)
	if err != nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, fn := range builtins {
		strategy, err := fn.New(ctx)
		if err != nil {
			c.errorf("local: %s not available: %v", fn.Name, err)
			continue
		}
		base, err := rotator.EnvOptionsFor(func(k string) string {
			switch k {
			case rotator.EnvMetrics, "AWS_LAMBDA_FUNCTION_NAME", rotator.EnvDryRun, rotator.EnvLogLevel:
				return ""
			}
			return c.getenv(k)
		}, client, strategy)
		if err != nil {
			c.errorf("local: %s not available: %v", fn.Name, err)
			continue
		}
		h, err := rotator.New(client, strategy, append(base,
			rotator.WithLogger(logger),
			rotator.WithFunctionName(fn.Name),
			rotator.WithObserver(stepPrinter{w: out}),
		)...)
		if err != nil {
			c.errorf("local: %s not available: %v", fn.Name, err)
			continue
		}
		arn := rotatortest.FunctionARN(fn.Name)
		srv.RegisterFunction(arn, h.Handle)
		arns = append(arns, arn)
	}
	return arns
}

// stepPrinter prints the steps that RotateSecret runs.
type stepPrinter struct{ w *lockedWriter }

func (p stepPrinter) StepDone(_ context.Context, r rotator.StepReport) {
	line := fmt.Sprintf("%s %s %s: %s %s", time.Now().Format("15:04:05"), r.Function, r.Step, label(r.Outcome), strings.TrimSpace(fmtMS(r.Duration)))
	if r.Err != nil {
		line += ": " + r.Err.Error()
	}
	fmt.Fprintf(p.w, "%s  (%s)\n", line, r.SecretID)
}

// lockedWriter serialises the writes of the server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// seedFile is the --seed format.
type seedFile struct {
	Secrets []seedSecret `json:"secrets"`
}

// seedSecret is one secret to create: value is a JSON object (stored as
// written) or a string.
type seedSecret struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Value       json.RawMessage `json:"value"`
}

func readSeed(path string) ([]seedSecret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f seedFile
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("seed %s: not valid JSON (syntax error at byte %d)", path, se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, fmt.Errorf("seed %s: not valid JSON (it ends too early)", path)
		}
		// Type errors name the field, never a value.
		return nil, fmt.Errorf("seed %s: want {\"secrets\": [{\"name\": ..., \"value\": {...}}]}: %v", path, err)
	}
	names := map[string]bool{}
	for i, s := range f.Secrets {
		where := fmt.Sprintf("seed %s: secrets[%d]", path, i)
		if s.Name == "" {
			return nil, fmt.Errorf("%s: \"name\" is missing", where)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("%s: %q appears twice", where, s.Name)
		}
		names[s.Name] = true
		v := bytes.TrimSpace(s.Value)
		if len(v) == 0 || (v[0] != '{' && v[0] != '"') {
			return nil, fmt.Errorf("%s (%s): \"value\" must be a JSON object or a string", where, s.Name)
		}
	}
	return f.Secrets, nil
}

type createdSecret struct{ name, arn string }

func createSeeds(ctx context.Context, client *secretsmanager.Client, seeds []seedSecret) ([]createdSecret, error) {
	var out []createdSecret
	for _, s := range seeds {
		value := string(bytes.TrimSpace(s.Value))
		if value[0] == '"' {
			if err := json.Unmarshal(s.Value, &value); err != nil {
				return nil, fmt.Errorf("%s: value: %v", s.Name, err)
			}
		}
		in := &secretsmanager.CreateSecretInput{Name: aws.String(s.Name), SecretString: aws.String(value)}
		if s.Description != "" {
			in.Description = aws.String(s.Description)
		}
		res, err := client.CreateSecret(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		out = append(out, createdSecret{name: s.Name, arn: aws.ToString(res.ARN)})
	}
	return out, nil
}
