package integration

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/examples/webhook-receiver/receiver"
	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The webhook function's real bootstrap under the Lambda Runtime API,
// driven by RotateSecret, rotating keys of the example receiver (its CA
// given through ROTATOR_WEBHOOK_CA_BUNDLE): each rotation's key works,
// the key of two rotations ago is revoked, the hand-made key survives, and
// no key reaches the function's output.
func TestWebhookLambdaEndToEnd(t *testing.T) {
	bins := functest.Build(t, t.TempDir(), "", "webhook")
	store := &receiver.MemoryStore{}
	mux := http.NewServeMux()
	mux.Handle("/rotator/", http.StripPrefix("/rotator", &receiver.Receiver{Store: store, KeysManage: true}))
	recv := httptest.NewTLSServer(mux)
	t.Cleanup(recv.Close)
	ca := filepath.Join(t.TempDir(), "receiver-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sm := rotatortest.NewServer()
	t.Cleanup(sm.Close)
	f := functest.Start(t, bins["webhook"], "rotator-webhook", sm, functest.Options{Env: []string{webhook.EnvCABundle + "=" + ca}})
	hand, err := store.Create("made by hand")
	if err != nil {
		t.Fatal(err)
	}
	arn := sm.MustCreateSecret(t, "app/webhook-e2e", fmt.Sprintf(`{"api_key":%q,"key_id":%q,"endpoint":%q}`, hand.Value, hand.ID, recv.URL+"/rotator"))
	seen := []string{hand.Value}
	ids := []string{hand.ID}
	for round := 1; round <= 3; round++ {
		o, calls := f.Rotate(t, sm, arn)
		if !o.Succeeded {
			t.Fatalf("rotation %d: %v\n%s", round, o.Err, f.Process.Output())
		}
		t.Logf("rotation %d: Secrets Manager calls by the function: %v", round, functest.CountByOperation(functest.FunctionCalls(calls)))
		cur := e2eCurrentSecret(t, sm, arn)
		v, _ := cur.String("api_key")
		id, _ := cur.String("key_id")
		if k, ok, _ := store.Get(id); !ok || k.Value != v {
			t.Fatalf("rotation %d: AWSCURRENT's key is not a live key of the receiver", round)
		}
		if _, ok, _ := store.Get(ids[len(ids)-1]); !ok {
			t.Fatalf("rotation %d: the previous key was revoked already", round)
		}
		if round >= 3 {
			if _, ok, _ := store.Get(ids[len(ids)-2]); ok {
				t.Fatalf("rotation %d: the key of two rotations ago still lives", round)
			}
		}
		seen, ids = append(seen, v), append(ids, id)
	}
	if _, ok, _ := store.Get(hand.ID); !ok {
		t.Fatal("the hand-made key was revoked")
	}
	if keys, _ := store.List(); len(keys) != 3 {
		t.Fatalf("%d keys alive after 3 rotations, want 3 (hand-made, previous, current)", len(keys))
	}
	functest.AssertNoSecrets(t, "the function's output", f.Process.Output(), seen...)
}
