// Package vendorfake is what the stateful HTTP fakes of the Twilio,
// Datadog and Okta engines' tests share: an HTTPS server with a CA of its
// own that plays internal/keytest's faults (keytest.Faults) on the calls
// a fake classifies by keytest.Op, and a JSON answer helper. Each
// vendor's fake, in its package's tests, holds the keys and speaks the
// vendor's API.
package vendorfake
