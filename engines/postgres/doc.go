// Package postgres is Rotator's PostgreSQL engine (pgx/v5): it logs in with
// a secret, changes a user's password, and makes sure the second user of an
// alternating-users rotation exists. It knows SQL, never version stages;
// the strategies call it through small capability interfaces.
//
// # Secrets
//
// The engine reads the fields of AWS's RDS secrets: engine (when present:
// postgres, postgresql or aurora-postgresql), host, port (default 5432; a
// JSON number or a numeric string), username, password, dbname (default
// "postgres"), and the TLS fields below. Connections are configured field
// by field, never by pasting values into a connection string, so passwords
// may hold any character. PG* environment variables, ~/.pgpass and service
// files play no part.
//
// # TLS
//
// The mode comes from, in order:
//
//   - "sslmode": disable, prefer, require, verify-ca or verify-full (libpq's
//     meanings; allow is not supported);
//   - "ssl": true means verify-full, false means disable (what AWS's rotation
//     templates mean by it, minus their silent fallback);
//   - the engine's default: WithDefaultSSLMode or $ROTATOR_PG_SSLMODE, else
//     verify-full when a CA bundle is configured (in the secret or the
//     engine) and require when none is.
//
// Only an explicit "prefer" ever falls back to plaintext, and only when the
// server declines TLS; pgx's own fallback configurations (taken after any
// failure) are cleared. A server without TLS facing require, verify-ca or
// verify-full is an error that says so (it wraps rotator.ErrUnreachable and
// ErrServerNoTLS). "ssl" and "sslmode" must agree when both are present.
//
// # Authentication without a verified certificate
//
// With disable, prefer (and its plaintext fallback) and require, nothing
// proves who answers, so the engine accepts SCRAM-SHA-256 only, and over
// TLS only with channel binding (SCRAM-SHA-256-PLUS, which PostgreSQL 11
// and later offer on TLS connections): a server, or a man in the middle,
// that asks for a cleartext password, md5, GSSAPI or no authentication at
// all (trust), or offers SCRAM without channel binding, is refused before
// anything is sent, with ErrAuthMethod or ErrChannelBinding (and
// rotator.ErrUnreachable) and an error that names what was asked.
// WithAllowMD5 ($ROTATOR_PG_ALLOW_MD5) and WithAllowCleartextPassword
// ($ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD) are the operator's opt-ins for
// servers that cannot do better. verify-ca and verify-full accept what pgx
// accepts (channel binding when offered). See auth.go for the reasoning.
//
// Certificates are verified against, in order: the PEM certificates in the
// secret's "sslrootcert" field (its content, not a file name; "system" names
// the system roots), the engine's bundle (WithCABundle, WithCABundleFile or
// the file named by $ROTATOR_PG_CA_BUNDLE, e.g. the RDS global bundle), or
// the system roots. As in libpq, require with a CA in the secret verifies
// the chain (verify-ca).
//
// # Passwords never reach the server in plaintext
//
// SetPassword and EnsureUser read the server's password_encryption and send
// the verifier computed client-side: SCRAM-SHA-256 (RFC 5802/7677, 4096
// iterations, 16-byte random salt) or, only when the server says md5 and
// WithAllowMD5 allows it, the md5 form (an md5 verifier logs in as the
// password does with md5 authentication, so it is never sent without the
// opt-in: ErrMD5Verifier). ALTER ROLE ... PASSWORD cannot take a bind parameter, so the
// verifier is embedded as a literal after a strict check of its shape
// (its alphabet holds no quote or backslash). New passwords must be ASCII:
// for ASCII, SASLprep is the identity and every client (libpq, pgx, JDBC)
// derives the same keys; beyond it, client-side hashing could disagree with
// the server's SASLprep. Role names may hold any character except NUL, up to
// 63 bytes (longer names would be truncated by the server, and could then
// name another role); they are quoted with pgx.Identifier.
//
// # Alternating users
//
// EnsureUser with a Template makes the second user a member of the template
// (INHERIT) and gives it the per-role setting "role = <template>": its
// sessions run as the template (current_user), so objects it creates are
// owned by the template and usable by both users, and privileges granted to
// the template later reach it through membership. The template's per-role
// settings (search_path, ...) are mirrored, and CREATEDB and the connection
// limit copied (never CREATEROLE); running EnsureUser again re-asserts all
// of it and changes nothing when nothing drifted. See EnsureUser for the
// details.
//
// Before the strategy changes anything with the master, CheckTarget refuses
// the master's own user, a role with SUPERUSER, REPLICATION, BYPASSRLS or
// CREATEROLE (its own or through membership), a member of the master's
// role, and a role with the clone's name that is not a member of its base
// (someone else's role). See CheckTarget.
//
// # Errors
//
// Failures wrap the rotator sentinels (ErrLoginFailed, ErrUnreachable,
// ErrPermission, ErrWrongEngine, ErrMissingField/ErrInvalidField through
// *rotator.FieldError) and, where it helps, this package's ErrServerNoTLS,
// ErrCertificate and ErrNoSuchRole. Their text never holds a password or a
// verifier: server messages are scrubbed, and pgx's connection errors (which
// carry the whole connection configuration) are not kept.
package postgres
