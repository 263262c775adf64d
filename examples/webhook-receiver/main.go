// Command webhook-receiver serves the receiver package: a complete
// receiver of Rotator's webhook contract, to copy into your own system.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/rotatorkit/rotator/examples/webhook-receiver/receiver"
)

// main serves the receiver over HTTPS:
//
//	RECEIVER_ADDR=:8443 RECEIVER_CERT=cert.pem RECEIVER_KEY=key.pem \
//	RECEIVER_SIGNING_SECRET=... go run ./examples/webhook-receiver
//
// The secret's "endpoint" is then https://<host>:8443/rotator.
// README:begin webhook-receiver
func main() {
	rc := &receiver.Receiver{
		Store:         &receiver.MemoryStore{},
		SigningSecret: []byte(os.Getenv("RECEIVER_SIGNING_SECRET")),
		BearerToken:   os.Getenv("RECEIVER_BEARER_TOKEN"),
		KeysManage:    os.Getenv("RECEIVER_KEYS_MANAGE") == "1",
	}
	mux := http.NewServeMux()
	mux.Handle("/rotator/", http.StripPrefix("/rotator", rc))
	srv := &http.Server{Addr: os.Getenv("RECEIVER_ADDR"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServeTLS(os.Getenv("RECEIVER_CERT"), os.Getenv("RECEIVER_KEY")))
}

// README:end webhook-receiver
