package mototest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Names of what [RotationFunction] creates in moto.
const (
	RoleName     = "rotator-mototest"
	FunctionName = "rotator-mototest"
)

// RotationDays is the AutomaticallyAfterDays that [RotateSecret] sends. moto
// turns RotationEnabled on only when RotationRules carry a positive
// AutomaticallyAfterDays (a ScheduleExpression alone leaves it off).
const RotationDays = 30

// BeginRotation makes the state that Secrets Manager leaves before it
// invokes a rotation function's createSecret step: rotation enabled, and
// the version token labelled AWSPENDING with no value; the AWSCURRENT
// version keeps its label and value. client must talk to a moto server
// ([Server.Client], [EndpointOptions]).
//
// moto cannot run a rotation function here (that needs Docker), but it
// makes that state when RotateSecret names a Lambda function that exists
// in moto while moto's Lambda runs without Docker: BeginRotation sets that
// mode (POST /moto-api/config), creates an IAM role and a Lambda function
// through moto's IAM and Lambda APIs (once per server), and calls
// RotateSecret with the function's ARN, RotationRules and token as its
// ClientRequestToken. It then checks the state through DescribeSecret and
// GetSecretValue and fails t if it is not the one described.
//
// Quirk: until the rotation finishes, moto's GetSecretValue with neither
// VersionId nor VersionStage fails (moto moves its default version to the
// token at RotateSecret). Read AWSCURRENT with VersionStage=AWSCURRENT.
func BeginRotation(t testing.TB, client *secretsmanager.Client, secretID, token string) {
	t.Helper()
	ctx := t.Context()
	if err := RotateSecret(ctx, client, secretID, token); err != nil {
		t.Fatalf("mototest: BeginRotation(%s, %s): %v", secretID, token, err)
	}
	d, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretID)})
	if err != nil {
		t.Fatalf("mototest: BeginRotation: DescribeSecret: %v", err)
	}
	if !aws.ToBool(d.RotationEnabled) {
		t.Fatalf("mototest: BeginRotation: RotationEnabled is false after RotateSecret")
	}
	if st := d.VersionIdsToStages[token]; !slices.Equal(st, []string{"AWSPENDING"}) {
		t.Fatalf("mototest: BeginRotation: token %s has stages %v after RotateSecret, want [AWSPENDING]", token, st)
	}
	_, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionId: aws.String(token)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("mototest: BeginRotation: the token's version should have no value yet; GetSecretValue gave %v", err)
	}
}

// RotateSecret is BeginRotation without its checks: it makes sure the
// rotation function exists and calls RotateSecret, returning the API's
// error (for a test of what RotateSecret refuses).
func RotateSecret(ctx context.Context, client *secretsmanager.Client, secretID, token string) error {
	for attempt := 0; ; attempt++ {
		fn, err := RotationFunction(ctx, client)
		if err != nil {
			return err
		}
		_, err = client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
			SecretId:           aws.String(secretID),
			ClientRequestToken: aws.String(token),
			RotationLambdaARN:  aws.String(fn),
			RotationRules:      &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(RotationDays)},
		})
		// A new server on the port of an earlier one (two Start in one
		// binary) lacks the function remembered for that URL: create it
		// again, once.
		var nf *types.ResourceNotFoundException
		if attempt == 0 && errors.As(err, &nf) && strings.Contains(nf.ErrorMessage(), fn) {
			forgetFunction(client)
			continue
		}
		return err
	}
}

func forgetFunction(client *secretsmanager.Client) {
	functions.mu.Lock()
	defer functions.mu.Unlock()
	delete(functions.arns, strings.TrimRight(aws.ToString(client.Options().BaseEndpoint), "/"))
}

var functions struct {
	mu   sync.Mutex
	arns map[string]string // by base URL
}

// RotationFunction returns the ARN of a Lambda function in the moto server
// that client talks to, creating the function (and its IAM role) on first
// use, after turning off Docker for moto's Lambda. The function's code is
// never run.
func RotationFunction(ctx context.Context, client *secretsmanager.Client) (string, error) {
	o := client.Options()
	base := strings.TrimRight(aws.ToString(o.BaseEndpoint), "/")
	if base == "" {
		return "", errors.New("mototest: the client has no BaseEndpoint (not a moto client?)")
	}
	functions.mu.Lock()
	defer functions.mu.Unlock()
	if arn := functions.arns[base]; arn != "" {
		return arn, nil
	}
	var creds aws.Credentials
	if o.Credentials != nil {
		c, err := o.Credentials.Retrieve(ctx)
		if err != nil {
			return "", fmt.Errorf("mototest: credentials: %w", err)
		}
		creds = c
	} else {
		creds = aws.Credentials{AccessKeyID: "AKIDMOTOTEST", SecretAccessKey: "mototest-secret-key"}
	}
	m := &motoAPI{base: base, creds: creds, hc: &http.Client{Timeout: 30 * time.Second}}
	if err := m.noDocker(ctx); err != nil {
		return "", err
	}
	role, err := m.createRole(ctx)
	if err != nil {
		return "", err
	}
	arn, err := m.createFunction(ctx, role)
	if err != nil {
		return "", err
	}
	if functions.arns == nil {
		functions.arns = map[string]string{}
	}
	functions.arns[base] = arn
	return arn, nil
}

// motoAPI speaks the few calls of moto's own, IAM and Lambda APIs that
// BeginRotation needs, with net/http: this module has the SDK's Secrets
// Manager client and no IAM or Lambda client. moto routes a request to a
// service by the credential scope of its SigV4 signature, so requests are
// signed as the SDK would sign them.
type motoAPI struct {
	base  string
	creds aws.Credentials
	hc    *http.Client
}

func (m *motoAPI) do(ctx context.Context, service, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if service != "" {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(ctx, m.creds, req, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
			return 0, nil, fmt.Errorf("mototest: signing %s %s: %w", method, path, err)
		}
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("mototest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("mototest: %s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// noDocker makes moto's Lambda answer invocations without running the
// function (it would need Docker).
func (m *motoAPI) noDocker(ctx context.Context) error {
	code, b, err := m.do(ctx, "", http.MethodPost, "/moto-api/config", "application/json", []byte(`{"lambda":{"use_docker":false}}`))
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("mototest: POST /moto-api/config: HTTP %d: %s", code, b)
	}
	return nil
}

// createRole is IAM CreateRole (query protocol: a form POST); a role that
// exists already is read with GetRole.
func (m *motoAPI) createRole(ctx context.Context) (string, error) {
	form := url.Values{
		"Action":                   {"CreateRole"},
		"Version":                  {"2010-05-08"},
		"RoleName":                 {RoleName},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}
	code, b, err := m.iam(ctx, form)
	if err != nil {
		return "", err
	}
	if code == http.StatusConflict || bytes.Contains(b, []byte("EntityAlreadyExists")) {
		code, b, err = m.iam(ctx, url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}, "RoleName": {RoleName}})
		if err != nil {
			return "", err
		}
	}
	if code/100 != 2 {
		return "", fmt.Errorf("mototest: IAM CreateRole: HTTP %d: %s", code, b)
	}
	var r struct {
		Arn string `xml:"CreateRoleResult>Role>Arn"`
		Get string `xml:"GetRoleResult>Role>Arn"`
	}
	if err := xml.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("mototest: IAM answer: %w", err)
	}
	if r.Arn == "" {
		r.Arn = r.Get
	}
	if r.Arn == "" {
		return "", fmt.Errorf("mototest: IAM answer without a role ARN: %s", b)
	}
	return r.Arn, nil
}

func (m *motoAPI) iam(ctx context.Context, form url.Values) (int, []byte, error) {
	return m.do(ctx, "iam", http.MethodPost, "/", "application/x-www-form-urlencoded; charset=utf-8", []byte(form.Encode()))
}

// createFunction is Lambda CreateFunction (REST-JSON); a function that
// exists already is read with GetFunction.
func (m *motoAPI) createFunction(ctx context.Context, role string) (string, error) {
	code, err := bootstrapZip()
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(map[string]any{
		"FunctionName": FunctionName,
		"Runtime":      "provided.al2023",
		"Role":         role,
		"Handler":      "bootstrap",
		"Code":         map[string]string{"ZipFile": base64.StdEncoding.EncodeToString(code)},
		"Description":  "rotator mototest: RotateSecret target, never run",
	})
	if err != nil {
		return "", err
	}
	status, b, err := m.do(ctx, "lambda", http.MethodPost, "/2015-03-31/functions", "application/json", body)
	if err != nil {
		return "", err
	}
	if status == http.StatusConflict {
		status, b, err = m.do(ctx, "lambda", http.MethodGet, "/2015-03-31/functions/"+FunctionName, "", nil)
		if err != nil {
			return "", err
		}
		var g struct {
			Configuration struct{ FunctionArn string }
		}
		if status/100 != 2 || json.Unmarshal(b, &g) != nil || g.Configuration.FunctionArn == "" {
			return "", fmt.Errorf("mototest: Lambda GetFunction: HTTP %d: %s", status, b)
		}
		return g.Configuration.FunctionArn, nil
	}
	var f struct{ FunctionArn string }
	if status/100 != 2 || json.Unmarshal(b, &f) != nil || f.FunctionArn == "" {
		return "", fmt.Errorf("mototest: Lambda CreateFunction: HTTP %d: %s", status, b)
	}
	return f.FunctionArn, nil
}

// bootstrapZip is the function's code: a zip holding a bootstrap that moto
// never runs.
func bootstrapZip() ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, "#!/bin/sh\necho 'rotator mototest: this function is never run' >&2\nexit 1\n"); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
