// Package alternating rotates between two database users. Each rotation
// gives the user that is not current a new password and makes it current,
// so the previous credential keeps working until the next rotation: no
// client ever holds a password that just stopped working.
//
// The second user is either a clone of the first ("app" and "app_clone"),
// created on the first rotation and kept interchangeable with it by the
// engine, or a pre-created user named in the secret's "alternateusername"
// field. Either way a master secret (field "masterarn") changes passwords.
package alternating
