// Package httpapi is the HTTP layer every vendor engine under
// engines/apikey shares, so that each gets right what is easy to get
// wrong once per vendor:
//
//   - TLS always verified (certificates against the system roots or the
//     CAs the caller passes), only https base URLs, no redirects followed
//     (a redirect would carry the key to wherever it points);
//   - a timeout per attempt, and retries with jittered exponential
//     backoff on 429 and 5xx (and on transport errors of requests that
//     are safe to repeat), honouring Retry-After, never waiting past the
//     context's deadline; a request that is not idempotent (creating a
//     key) is retried only on 429, where the vendor did nothing;
//   - a User-Agent naming Rotator and its version;
//   - response bodies read through io.LimitReader;
//   - errors (*Error) that name the vendor, the operation, the method, the
//     path and the status, wrap a sentinel for errors.Is, and never hold
//     a key, a token, a header value, the base URL or a query string.
//
// Config holds what an engine's WithRootCAs, WithTimeout and WithRetries
// collect and the clients made with them, one per base URL; Gone is the
// "a key already gone is success" of every RevokeKey.
package httpapi
