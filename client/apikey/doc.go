// Package apikey is an http.RoundTripper that authenticates requests with
// an API key kept in AWS Secrets Manager and rotated there (dual-key
// rotation: the rotator creates a new key, promotes it, and revokes the
// old one), read through a [secretcache.Cache]:
//
//	tr, err := apikey.New(cache, "prod/vendor/api", apikey.WithHeader("X-Api-Key", ""))
//	client := &http.Client{Transport: tr}
//
// Every request carries the key of the AWSCURRENT version (a map lookup
// once cached). When the vendor refuses it (401 by default) because the
// rotation revoked the key the cache still held, the transport fetches
// the secret again, one GetSecretValue however many requests were refused
// at once, and sends the request once more with the newer key, when its
// body can be sent again (http.NewRequest makes that possible for bytes,
// strings and bytes.Reader bodies through GetBody). A request whose body
// is a stream, or whose key did not change, gets the refusal as the vendor
// sent it. The key never reaches a log or an error.
package apikey
