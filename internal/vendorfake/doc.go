// Package vendorfake is what the stateful HTTP fakes of the vendor
// engines' tests share (engines/apikey/<vendor>): an HTTPS server with a
// CA of its own, the fault bookkeeping of internal/keytest (a status, a
// Retry-After, a delay past the engine's timeout, for a number of calls
// of one kind) and basic-auth parsing. Each vendor's fake, in its
// package's tests, holds the keys and speaks the vendor's API.
package vendorfake
