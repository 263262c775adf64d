package dualkey

import (
	"context"

	"github.com/rotatorkit/rotator/rotator"
)

// Engine is what the dual-key strategy needs from a vendor engine
// (engines/apikey/<vendor>). Engines speak HTTP and know nothing of
// version stages: the strategy hands them plain secrets and ids.
type Engine interface {
	// Capabilities describes the vendor. It is read once, by New.
	Capabilities() rotator.KeyCapabilities
	// Validate checks the vendor fields of a secret (a base URL, an
	// account id; not the key value itself, which the strategy checks),
	// changing nothing. Errors name the field (rotator.FieldError).
	Validate(s *rotator.Secret) error
	// ValidateAdmin checks an admin secret's fields against the rotated
	// secret (account): the same vendor account, the same base URL.
	// Errors wrap rotator.ErrNotAllowed for an admin secret that belongs
	// to another account or endpoint.
	ValidateAdmin(admin, account *rotator.Secret) error
	// CreateKey asks the vendor for a new key carrying req.Name.
	CreateKey(ctx context.Context, req rotator.CreateKeyRequest) (rotator.CreateKeyResponse, error)
	// TestKey proves a key works with an authenticated read-only call,
	// changing nothing. A key the vendor refuses wraps
	// rotator.ErrLoginFailed.
	TestKey(ctx context.Context, req rotator.TestKeyRequest) error
	// RevokeKey deletes (or revokes) a key. A key already gone is
	// success: the strategy revokes again after retries.
	RevokeKey(ctx context.Context, req rotator.KeyRequest) error
	// ListKeys lists the account's keys (ids, names, dates; never
	// values). Engines page through all of them.
	ListKeys(ctx context.Context, req rotator.ListKeysRequest) ([]rotator.VendorKey, error)
}

// Activator is implemented by engines of vendors whose new keys must be
// activated before they work, and deactivated before they are deleted
// (Okta's client secrets). rotator.KeyCapabilities.NeedsActivation says
// the strategy must use it.
type Activator interface {
	// ActivateKey makes a key work. An active key is success.
	ActivateKey(ctx context.Context, req rotator.KeyRequest) error
	// DeactivateKey stops a key working without deleting it. An inactive
	// key is success.
	DeactivateKey(ctx context.Context, req rotator.KeyRequest) error
}

// Preflighter is implemented by engines with checks of their own beyond
// listing keys and testing the current one (a permission the managing
// credential needs, say). who is "admin" or "" (the key itself).
type Preflighter interface {
	PreflightKeys(ctx context.Context, admin, account *rotator.Secret) []rotator.Check
}
