package rotator

import "time"

// Requests that the dual-key strategy (strategies/dualkey) sends to vendor
// engines (engines/apikey/<vendor>). They live here, as the database
// requests do, so that an engine implements the strategy's interface
// without importing the strategy. A vendor issues key values itself: the
// engine asks for a key, tests one, lists the keys and revokes one; the
// strategy decides which, from the secret's versions.

// KeyFinding says how the strategy tells the keys it made for a secret
// from every other key of the vendor account.
type KeyFinding int

const (
	// FindByName: a key carries a name (a label, a friendly name) chosen
	// at creation. The strategy names each key it makes
	// "<prefix><secret's identity>-<token>" and recognises its own keys,
	// for this secret, by that prefix; a key made by hand never carries
	// it, so it is never touched.
	FindByName KeyFinding = iota
	// FindByRecordedID: keys carry no name (Okta's client secrets). The
	// strategy's own keys are only those whose ids the secret's versions
	// record (AWSCURRENT, AWSPREVIOUS, AWSPENDING). A key left by an
	// attempt that crashed between creating it and storing it cannot be
	// told from a hand-made one and is left alone (a failed store revokes
	// it at once through rotator.CreateAborter, so only a crash leaves one).
	FindByRecordedID
)

// KeyCapabilities describes a vendor to the dual-key strategy, so that
// the strategy holds no special case for any vendor.
type KeyCapabilities struct {
	// Vendor names the vendor in errors and logs ("sendgrid").
	Vendor string
	// MaxKeys is how many keys may be live at once for what the secret
	// rotates (Okta: 2 client secrets per app); 0 means no limit the
	// strategy needs to respect. At the limit, createSecret frees a slot
	// first: the oldest key this rotator made for this secret that is
	// neither AWSCURRENT nor AWSPREVIOUS, else AWSPREVIOUS's key.
	MaxKeys int
	// RollsInPlace: the vendor replaces a key's value under the same id
	// (the old value stays valid until the vendor retires it). The
	// strategy then passes the current key's id to CreateKey and revokes
	// nothing after the promotion.
	RollsInPlace bool
	// NeedsActivation: a new key is created inactive and must be
	// activated (setSecret) before it works; the engine implements
	// KeyActivator. Revoking a key then deactivates it first.
	NeedsActivation bool
	// Test says in a few words how a key is tested ("GET /v3/scopes with
	// the key"), for preflight and logs.
	Test string
	// Finding says how the strategy finds this secret's keys.
	Finding KeyFinding
	// MaxNameLength is the longest key name the vendor accepts (0: no
	// limit). The strategy's names are at most 64 bytes.
	MaxNameLength int
	// ValueField is the secret's JSON field holding the key value
	// (default "api_key", as client/apikey reads it).
	ValueField string
	// IDField is the secret's JSON field holding the vendor's key id
	// (default "key_id"). It is not a secret.
	IDField string
}

// VendorKey is one key as a vendor lists it. It holds no key value.
type VendorKey struct {
	// ID is the vendor's id of the key (never its value).
	ID string
	// Name is its name or label ("" for vendors without names).
	Name string
	// Created is when the vendor made it (zero when the vendor does not
	// say).
	Created time.Time
	// Active is false for a key that exists but does not authenticate
	// (Okta's INACTIVE client secrets).
	Active bool
}

// CreateKeyRequest asks a vendor for a new key.
type CreateKeyRequest struct {
	// Admin is the secret whose credential manages keys: the admin
	// secret ("adminarn"), or the rotated secret's AWSCURRENT value when
	// the key manages itself.
	Admin *Secret
	// Account is the rotated secret's AWSCURRENT value: engines read
	// account fields (a base URL, an account or app id, scopes) from it.
	Account *Secret
	// Name is the name the new key must carry (FindByName vendors).
	Name string
	// RollID, for vendors that roll keys in place, is the id of the key
	// whose value is replaced.
	RollID string
}

// CreateKeyResponse is a new key. Value is secret: the strategy registers
// it with the scrubber before anything can print it.
type CreateKeyResponse struct {
	// ID is the vendor's id of the new key.
	ID string
	// Value is the key itself, as the application sends it.
	Value string
	// Fields are further fields the application needs with this key
	// (Twilio's key SID as a username, say), stored in the pending secret
	// beside the value. Sensitive ones are scrubbed by their names.
	Fields map[string]string
	// Created is when the vendor made the key (zero when unknown).
	Created time.Time
}

// KeyRequest names one key of the vendor account.
type KeyRequest struct {
	// Admin and Account are as in CreateKeyRequest.
	Admin, Account *Secret
	// ID is the key's id.
	ID string
}

// TestKeyRequest asks an engine to prove a key works with an
// authenticated read-only call of the vendor, changing nothing.
type TestKeyRequest struct {
	// Key is the secret whose key is tested (the pending value): its
	// value field, id and account fields.
	Key *Secret
}

// ListKeysRequest asks a vendor for the keys of an account.
type ListKeysRequest struct {
	// Admin and Account are as in CreateKeyRequest.
	Admin, Account *Secret
	// NamePrefix, when set, is the prefix of the names of the keys the
	// strategy wants (engines may filter on the vendor's side; the
	// strategy filters again).
	NamePrefix string
}
