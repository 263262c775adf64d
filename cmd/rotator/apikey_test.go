package main

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/examples/webhook-receiver/receiver"
)

// The command line runs a vendor function as it runs a database one:
// preflight, a dry run that changes nothing, and a rotation, here the
// webhook function against the example receiver (its CA given through
// $ROTATOR_WEBHOOK_CA_BUNDLE, as the Lambda function would get it).
func TestWebhookFunctionFromTheCommandLine(t *testing.T) {
	cleanEnv(t)
	store := &receiver.MemoryStore{}
	rc := &receiver.Receiver{Store: store, KeysManage: true}
	mux := http.NewServeMux()
	mux.Handle("/rotator/", http.StripPrefix("/rotator", rc))
	recv := httptest.NewTLSServer(mux)
	defer recv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(webhook.EnvCABundle, ca)
	first, err := store.Create("hand-made")
	if err != nil {
		t.Fatal(err)
	}
	srv := newSM(t)
	arn := srv.MustCreateSecret(t, "app/webhook", fmt.Sprintf(`{"api_key":%q,"key_id":%q,"endpoint":%q}`, first.Value, first.ID, recv.URL+"/rotator"))
	live := func() int { keys, _ := store.List(); return len(keys) }

	code, out, errOut := cliRun(t, "preflight", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", "webhook")
	if code != exitOK || !strings.Contains(out, "current key works") || !strings.Contains(out, "ready to rotate") {
		t.Fatalf("preflight: exit %d", code)
	}
	noSecrets(t, out+errOut, first.Value)

	code, out, errOut = cliRun(t, "rotate", "--dry-run", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", "webhook")
	if code != exitOK || live() != 1 || srv.VersionOf(arn, "AWSPREVIOUS") != "" {
		t.Fatalf("dry run: exit %d, %d keys (want 1), or AWSCURRENT moved", code, live())
	}
	noSecrets(t, out+errOut, first.Value)

	for i := range 3 {
		code, out, errOut = cliRun(t, "rotate", "--endpoint-url", srv.URL(), "--secret-id", arn, "--function", "webhook")
		if code != exitOK {
			t.Fatalf("rotation %d: exit %d", i+1, code)
		}
		cur := currentValue(t, srv, arn)
		v, _ := cur.String("api_key")
		noSecrets(t, out+errOut, first.Value, v)
	}
	// The hand-made first key, AWSPREVIOUS's and AWSCURRENT's.
	if n := live(); n != 3 {
		t.Fatalf("%d keys alive after 3 rotations, want 3 (hand-made, previous, current)", n)
	}
	if _, ok, _ := store.Get(first.ID); !ok {
		t.Fatal("the hand-made key was revoked")
	}
}
