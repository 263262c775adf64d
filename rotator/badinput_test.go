package rotator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The handler refuses an odd event before any call: the error names the
// event's field, is a *rotator.StepError of at most 300 bytes with no
// control or format character, and quotes a hostile value cut, never raw;
// Secrets Manager sees no call, so nothing changes. (integration's
// TestPostgresBadInput and TestMySQLBadInput send these and bad secret
// values against real servers.)
func TestBadInputEvent(t *testing.T) {
	long := strings.Repeat("A", 3000)
	forged := "x\n{\"level\":\"ERROR\",\"msg\":\"forged\"}\x1b[2J\u202e"
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"
	tok := "0b3b5cfa-3c62-4d0a-9c0a-6f1b2b8f1e01"
	tests := []struct {
		name          string
		step, id, tok string
		field         string
		want          error
		hostile       string
	}{
		{"no Step", "", arn, tok, "Step", rotator.ErrUnknownStep, ""},
		{"unknown Step", "rotateSecret", arn, tok, "Step", rotator.ErrUnknownStep, ""},
		{"Step of 3,000 characters", long, arn, tok, "Step", rotator.ErrUnknownStep, long},
		{"Step with a forged log line", forged, arn, tok, "Step", rotator.ErrUnknownStep, forged},
		{"no SecretId", "createSecret", "", tok, "SecretId", rotator.ErrInvalidEvent, ""},
		{"SecretId of 3,000 characters", "createSecret", long, tok, "SecretId", rotator.ErrInvalidEvent, long},
		{"SecretId with a forged log line", "setSecret", arn + forged, tok, "SecretId", rotator.ErrInvalidEvent, forged},
		{"SecretId not UTF-8", "setSecret", arn + "\xc3\x28", tok, "SecretId", rotator.ErrInvalidEvent, "\xc3\x28"},
		{"no ClientRequestToken", "testSecret", arn, "", "ClientRequestToken", rotator.ErrInvalidEvent, ""},
		{"ClientRequestToken of 3,000 characters", "finishSecret", arn, long, "ClientRequestToken", rotator.ErrInvalidEvent, long},
		{"ClientRequestToken with a forged log line", "finishSecret", arn, tok + forged, "ClientRequestToken", rotator.ErrInvalidEvent, forged},
		{"ClientRequestToken with a NUL", "finishSecret", arn, "abc\x00def", "ClientRequestToken", rotator.ErrInvalidEvent, "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rotatortest.NewServer()
			defer srv.Close()
			logs := &rotatortest.LogBuffer{}
			h, err := rotator.New(srv.Client(), &trivial{t: newTarget("app", "pw")}, rotator.WithLogger(logs.Logger()))
			if err != nil {
				t.Fatal(err)
			}
			err = h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: tt.step, SecretID: tt.id, ClientRequestToken: tt.tok})
			var se *rotator.StepError
			if !errors.As(err, &se) || !errors.Is(err, tt.want) {
				t.Fatalf("error %v (%T), want a StepError wrapping %v", err, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, "field "+tt.field) {
				t.Errorf("%q does not name the field %s", msg, tt.field)
			}
			if len(msg) > 300 || !utf8.ValidString(msg) || strings.ContainsFunc(msg, rotator.IsControlOrFormat) {
				t.Errorf("not short and printable (%d bytes): %q", len(msg), msg)
			}
			if tt.hostile != "" && (strings.Contains(msg, tt.hostile) || strings.Contains(logs.String(), tt.hostile)) {
				t.Error("a hostile value is echoed raw")
			}
			if n := len(srv.Calls()); n != 0 {
				t.Errorf("%d calls to Secrets Manager", n)
			}
		})
	}
}
