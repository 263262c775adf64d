package rotatortest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// TestMain checks this package's own secret hygiene.
func TestMain(m *testing.M) { os.Exit(rotatortest.Hygienic(m).Run()) }

// A planted leak in each kind of text is found: a log line, an error a
// rotation function returned, a panic, and a metric line, each through
// the path a test's output takes. The values are tracked by a Hygiene of
// the test's own (WithHygiene), so the binary's check is not tripped.
func TestHygieneCatchesPlantedLeaks(t *testing.T) {
	h := rotatortest.NewHygiene()
	defer h.Stop()
	srv := rotatortest.NewServer(rotatortest.WithHygiene(h), rotatortest.WithRotationAttempts(1))
	defer srv.Close()
	planted := map[string]string{}
	newSecret := func(kind string) string {
		pw := fmt.Sprintf("Planted-%s-Secret-%d", kind, time.Now().UnixNano())
		planted[kind] = pw
		srv.MustCreateSecret(t, "planted-"+kind, `{"username":"app","password":"`+pw+`"}`)
		return pw
	}
	var logs rotatortest.LogBuffer
	logs.Logger().Info("connected", "password", newSecret("log"))

	errPW := newSecret("error")
	out, _ := rotatortest.Rotate(t, srv, "planted-error", func(context.Context, events.SecretsManagerSecretRotationEvent) error {
		return errors.New("login failed with " + errPW)
	})
	if out.Succeeded {
		t.Fatal("the rotation succeeded")
	}
	panicPW := newSecret("panic")
	out, _ = rotatortest.Rotate(t, srv, "planted-panic", func(context.Context, events.SecretsManagerSecretRotationEvent) error {
		panic("cannot parse " + panicPW)
	})
	if out.Succeeded {
		t.Fatal("the rotation succeeded")
	}
	rotator.NewEMF(&logs).StepDone(context.Background(), rotator.StepReport{SecretID: newSecret("metric"), Step: rotator.StepSet, Outcome: "failure"})

	// A value that appears nowhere and a weak one are not reported.
	h.Track("Never-Printed-Value-12345", "short")
	rep := h.Scan()
	if rep.Values != len(planted)+1 {
		t.Errorf("%d values tracked, want %d", rep.Values, len(planted)+1)
	}
	if rep.Lines < 4 {
		t.Errorf("%d lines scanned", rep.Lines)
	}
	kinds := map[string]bool{}
	for _, l := range rep.Leaks {
		kinds[l.Kind] = true
		if strings.Contains(l.String(), "Planted") {
			t.Errorf("the report quotes the value: %s", l)
		}
	}
	for _, k := range []string{"log", "error", "panic", "metric"} {
		if !kinds[k] {
			t.Errorf("the planted leak in a %s was not found (leaks: %v)", k, rep.Leaks)
		}
	}
}

// A value stored as a JSON secret is tracked by its sensitive fields
// only, never when it equals a non-secret field, and a plain string
// secret as a whole.
func TestHygieneTracksSecretFields(t *testing.T) {
	h := rotatortest.NewHygiene()
	defer h.Stop()
	h.TrackSecretString(`{"username":"application-user","password":"application-user","apikey":"Key-0123456789abcdef","host":"db.example.internal"}`)
	h.TrackSecretString("plain-api-key-0123456789")
	rotatortest.Capture("log", "user application-user on db.example.internal")
	if rep := h.Scan(); rep.Values != 2 || len(rep.Leaks) != 0 {
		t.Fatalf("values %d, leaks %v; want 2 values, no leak", rep.Values, rep.Leaks)
	}
	rotatortest.Capture("error", "bad key Key-0123456789abcdef and plain-api-key-0123456789")
	if rep := h.Scan(); len(rep.Leaks) != 2 {
		t.Fatalf("leaks %v, want 2", rep.Leaks)
	}
}
