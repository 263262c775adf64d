//go:build unix

package mototest

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestMotoServerBeginRotation starts a server, makes the pre-createSecret
// state and checks that stopping the server leaves no process behind.
func TestMotoServerBeginRotation(t *testing.T) {
	srv := Start(t)
	c := srv.Client()
	out, err := c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("mototest/begin"), SecretString: aws.String(`{"username":"u","password":"p"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	token := "0a0a0a0a-1111-2222-3333-444444444444"
	BeginRotation(t, c, aws.ToString(out.ARN), token)
	// The next rotation reuses the function remembered for the URL; one
	// remembered from an earlier server on the same port is made again.
	functions.mu.Lock()
	functions.arns[srv.URL()] = "arn:aws:lambda:us-east-1:123456789012:function:from-an-earlier-server"
	functions.mu.Unlock()
	out2, err := c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("mototest/begin2"), SecretString: aws.String(`{"username":"u","password":"p"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	BeginRotation(t, c, aws.ToString(out2.ARN), "0b0b0b0b-1111-2222-3333-444444444444")
	cur, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: out.ARN, VersionStage: aws.String("AWSCURRENT")})
	if err != nil || aws.ToString(cur.VersionId) == token {
		t.Fatalf("AWSCURRENT moved at RotateSecret: %v", err)
	}

	pid := srv.PID()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if !srv.Exited() {
		t.Fatal("server still running after Stop")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Stop: %v", pid, err)
	}
}

// TestMotoNotFoundIsASkipReason checks that, with nothing on PATH, start
// reports why instead of failing.
func TestMotoNotFoundIsASkipReason(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(EnvCommand, "")
	s, skip, err := start()
	if err != nil || s != nil {
		t.Fatalf("start() = %v, %v", s, err)
	}
	if !strings.Contains(skip, "moto_server is not on PATH") || !strings.Contains(skip, "python3") {
		t.Fatalf("skip reason does not say why: %q", skip)
	}
}
