// Package datadog is the dual-key engine (strategies/dualkey) for Datadog
// API keys and application keys.
//
// The engine rotates one kind of key, chosen when it is built
// (DATADOG_KEY_TYPE, WithKeyType):
//
//   - "api" (default): API keys through /api/v2/api_keys (create, list
//     with ?filter= on the name, delete), each tested with GET
//     /api/v1/validate and the new key in DD-API-KEY. Managing API keys
//     needs an application key, so the keys are managed by the credential
//     of the admin secret ("adminarn": "api_key" and "application_key" of
//     a user or service account with api_keys_read and api_keys_write),
//     or, without "adminarn", by the rotated API key with an
//     "application_key" field stored beside it.
//   - "application": the caller's own application keys through
//     /api/v2/current_user/application_keys. A new key belongs to whoever
//     makes it, so an application key always rotates itself (an admin
//     secret is refused: it would hand the application a key of the
//     admin's user); the new key gets the scopes of the current one. It
//     is tested by reading itself (GET
//     /api/v2/current_user/application_keys/{id} with the new key).
//
// The site is the secret's "site" field (default "datadoghq.com"), one of
// Datadog's sites (datadoghq.com, us3.datadoghq.com, us5.datadoghq.com,
// datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com,
// ddog-gov.com, us2.ddog-gov.com): anything else is refused, so that a
// secret cannot send the admin's keys to a host of its writer's choosing.
package datadog
