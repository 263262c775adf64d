// Package secretcache keeps AWS Secrets Manager secret values in memory for
// applications, so that reading a credential costs a map lookup instead of
// an API call, and so that an application learns of a rotation without
// restarting.
//
//	cache := secretcache.New(secretsmanager.NewFromConfig(awsCfg))
//	defer cache.Close()
//	v, err := cache.Get(ctx, "prod/app/db") // AWSCURRENT
//	password := v.SecretString()
//
// What it does, and why:
//
//   - A value is kept for a TTL (default 5 minutes): long enough that a busy
//     application makes one GetSecretValue per secret every few minutes,
//     short enough that it sees a rotation soon after it happens.
//   - A value close to expiry (the last fifth of its TTL by default) is
//     refreshed in the background by the first caller that reads it then,
//     so callers of a secret in use never wait for Secrets Manager.
//   - Concurrent misses of one secret and stage share one GetSecretValue
//     (a singleflight, written with sync primitives). A caller whose context
//     ends stops waiting; the fetch goes on for the others, bounded by its
//     own timeout.
//   - The number of cached (secret, stage) pairs is bounded (least recently
//     used first out), so a caller that asks for many secret IDs cannot grow
//     the process without bound.
//   - [Cache.Invalidate] drops a secret; [Cache.Refresh] asks for a value
//     fetched after a point in time: what a client calls when the server
//     refused the cached credential. Many refusals at once still cost one
//     fetch.
//   - Any stage can be read (AWSCURRENT by default, AWSPREVIOUS, AWSPENDING
//     or a custom label): each is cached on its own.
//   - When Secrets Manager cannot be reached (network, throttling, 5xx), the
//     last good value is served past its expiry for at most the max
//     staleness (default 1 hour), marked [Value.Stale], reported once per
//     failed fetch to the stale handler and the logger, and fetched again at
//     most every retry interval. Past the max staleness a read fails with
//     [ErrUnavailable]. A definite answer (the secret or stage does not
//     exist, access to the key is denied) is not an outage: it is returned
//     at once.
//   - A value never reaches a log, an error or fmt's output: [Value] prints
//     as its name and version only, and log lines name the secret, stage
//     and version.
//
// # Why not aws-secretsmanager-caching-go
//
// AWS's caching client for Go (github.com/aws/aws-secretsmanager-caching-go,
// v1.2.0) is built on version 1 of the AWS SDK for Go, which is past its
// end of support; using it would put a second, unsupported SDK into every
// application next to the version 2 SDK that the rest of this module uses.
// It also refreshes on the reading goroutine once the TTL has passed (no
// refresh ahead), keeps serving the last value after a failed refresh with
// no bound and no report, and has no way to ask for a value newer than the
// one a server just refused, which is what a rotation-aware client needs.
// What it does do is small: this package is a few hundred lines over the
// v2 SDK's GetSecretValue, with no dependency beyond the SDK.
package secretcache
