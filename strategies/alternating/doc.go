// Package alternating rotates between two database users. Each rotation
// gives the user that is not current a new password and makes it current,
// so the previous credential keeps working until the next rotation: no
// client ever holds a password that just stopped working.
//
// The second user is either a clone of the first ("app" and "app_clone"),
// created on the first rotation and kept interchangeable with it by the
// engine, or a pre-created user named in the secret's "alternateusername"
// field. Either way a master secret (field "masterarn") changes passwords.
//
// # Security
//
// Whoever can write an application's secret controls every field of it,
// while the passwords are set with the master's power. So:
//
//   - the second user must be the clone, or a pre-created user that
//     whoever controls the master secret ("alternatingpairs") or the
//     function's configuration ($ROTATOR_ALTERNATING_PAIRS,
//     WithAllowedPairs) paired with the secret's user (see Target);
//   - before anything changes, the engine's guard (Engine.CheckTarget)
//     refuses the master's own user, more powerful roles and someone
//     else's role with the clone's name;
//   - the master secret is used only for the rotated secret's own host and
//     port, never when it is the rotated secret itself or an application's
//     secret, and with TLS at least as strict as the rotated secret's (see
//     MasterConnection).
//
// Refusals are *rotator.FieldError values naming "alternateusername" or
// "masterarn" and wrapping rotator.ErrNotAllowed (or
// rotator.ErrSelfReference); they happen before anything changes.
package alternating
