// Package keytest is the behaviour suite every vendor engine of the
// dual-key strategy passes, against a stateful fake of its vendor (test
// code that really issues keys and refuses revoked ones): full rotations
// through rotatortest with the old key working until the next rotation
// and revoked after it; five rotations leaving exactly AWSCURRENT's and
// AWSPREVIOUS's keys alive; a hand-made key surviving; vendor 4xx, 5xx,
// 429 and timeouts giving clear errors and leaving no orphan key; two
// createSecret deliveries at once leaving one new key; a failed
// PutSecretValue revoking the new key; no key in any log or error.
//
// A vendor's test implements Vendor for its fake and calls Run. Memory is
// a Vendor without HTTP, for the strategy's own tests.
package keytest
