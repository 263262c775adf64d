// Package dualkey is the rotation strategy for credentials a vendor
// issues (API keys, client secrets, webhook signing keys): the vendor
// makes the new key, the old one stays valid until the next rotation, and
// only keys this rotator made for this secret are ever revoked.
//
// A vendor is described to the strategy by its engine's
// rotator.KeyCapabilities (how many keys may live at once, whether keys
// roll in place, whether a new key must be activated, how keys are
// found), never by a special case here.
//
//   - createSecret: at a vendor's key limit, frees a slot (the oldest key
//     this rotator made for this secret that is neither AWSCURRENT nor
//     AWSPREVIOUS); then asks the vendor for a key named after the secret
//     and the token, and returns it as the pending value (the handler
//     stores it). If the value cannot be stored, AbortCreate revokes the
//     key (rotator.CreateAborter).
//   - setSecret: activates the key where the vendor needs it, and revokes
//     any other key carrying this token: an earlier attempt's, or a
//     concurrent delivery's that lost the race to store its value
//     (Secrets Manager's PutSecretValue with the token is the arbiter:
//     once a value is stored, no other key of this token ever will be).
//   - testSecret: calls the vendor's authenticated read-only endpoint with
//     the new key.
//   - finishSecret (after the promotion): revokes the keys this rotator
//     made for this secret that are neither AWSCURRENT nor AWSPREVIOUS, so
//     the previous key keeps working for one rotation period.
//
// The credential that manages keys is the key itself, or an admin
// credential in another secret named by "adminarn": never rotated, never
// copied into the application's secret, refused when it names the
// rotated secret itself or is itself an application's secret. Before it
// creates anything, the current key must work and its id must be among
// the admin credential's keys (the same account).
package dualkey
