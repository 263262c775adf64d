// Package webhook is the dual-key engine for any system of your own with
// an HTTP API: it speaks a small JSON-over-HTTPS contract that your
// system implements (examples/webhook-receiver is a complete receiver
// to copy), so that Rotator rotates its keys (API keys, service tokens,
// webhook signing keys) like a vendor's.
//
// # The secret
//
//	{"api_key": "...", "key_id": "...", "endpoint": "https://keys.example.com/rotator",
//	 "adminarn": "arn:aws:secretsmanager:...:secret:keys-admin"}
//
// "endpoint" is the receiver's base URL (https only). Without "adminarn"
// the key manages itself: requests are signed with the current key, and
// the receiver finds it by "key_id". With "adminarn", the admin secret
// holds the managing credential and the endpoint:
//
//	{"endpoint": "https://keys.example.com/rotator", "signing_secret": "..."}   // HMAC-signed requests
//	{"endpoint": "https://keys.example.com/rotator", "bearer_token": "..."}     // Authorization: Bearer
//
// The admin credential goes to the admin secret's endpoint only: an
// application's secret whose "endpoint" differs is refused, so whoever
// writes it cannot send the admin credential elsewhere.
//
// # The contract
//
// Paths are relative to the endpoint; bodies are JSON.
//
//	POST   /keys        {"name": "..."}     -> 201 {"id": "...", "key": "...", "created": "RFC 3339, optional"}
//	GET    /keys                            -> 200 {"keys": [{"id": "...", "name": "...", "created": "...", "active": true}]}
//	DELETE /keys/{id}                       -> 204 (404: already gone, success)
//	GET    /whoami      signed with the key under test -> 200 {"id": "<its id>"}
//
// GET /keys never returns key values. A key created must carry the name
// it was asked for: Rotator finds its own keys by it and never touches
// another. /whoami changes nothing.
//
// Every request carries:
//
//	X-Rotator-Timestamp: Unix seconds
//	X-Rotator-Nonce:     32 hex digits, fresh for each request
//	X-Rotator-Key-Id:    the signing key's id (signed with a rotated key: the current key, or the key under test)
//	X-Rotator-Signature: v1=<hex HMAC-SHA256(secret, timestamp "\n" nonce "\n" method "\n" path "\n" body)>
//
// where path is the request's path as sent (escaped, the endpoint's own
// path included, no query), and secret is the admin secret's
// "signing_secret", or the key itself (X-Rotator-Key-Id says which). With a "bearer_token" the request
// carries Authorization: Bearer <token> and the timestamp and nonce, and
// no signature. The receiver refuses (401) a signature that does not
// match, a timestamp more than MaxSkew (5 minutes) away from its clock,
// and a nonce it has seen within that window (replay).
//
// Errors: any non-2xx status, optionally {"message": "..."}; 429 and 5xx
// are retried (Retry-After honoured), creating a key only on 429.
package webhook
