// Package mysql is Rotator's MySQL and MariaDB engine (go-sql-driver/mysql):
// it logs in with a secret, changes an account's password, makes sure the
// second user of an alternating-users rotation exists as a clone of the
// first, guards what a master may change, and sets dual passwords on MySQL
// 8.0.14 and later. It knows SQL, never version stages; the strategies call
// it through small capability interfaces. Build it with New or NewFromEnv.
//
// # Secrets
//
// The engine reads the fields of AWS's RDS secrets: engine (when present:
// mysql, mariadb, aurora or aurora-mysql), host, port (default 3306),
// username, password, dbname (optional: none by default), the TLS fields
// below and "userhost", the host part of the account ('app'@'10.0.%' has
// "userhost": "10.0.%"). Without "userhost" the engine changes the account
// the user logs in as (CURRENT_USER()) and, for a master changing another
// user, the only account with that user name; several accounts of one name
// are an error asking for "userhost". The engine never assumes '%'.
// Connections are configured field by field, never from a DSN string.
//
// # TLS
//
// "ssl" and "sslmode" mean what they mean for the PostgreSQL engine:
// sslmode disable, prefer, require, verify-ca or verify-full; "ssl": true
// is verify-full, false is disable; without either the default is
// $ROTATOR_MYSQL_SSLMODE, else verify-full when a CA bundle is configured
// and require when none is. Only an explicit prefer falls back to
// plaintext, and only when the server offers no TLS. Certificates are
// verified against the secret's "sslrootcert" (PEM text), the engine's
// bundle (WithCABundle, WithCABundleFile, $ROTATOR_MYSQL_CA_BUNDLE, or
// rds-ca-bundle.pem shipped in the function's zip or a layer at
// /opt/rotator/rds-ca-bundle.pem, as for PostgreSQL) or the system roots.
// Servers with require_secure_transport=ON work with every mode but
// disable. No TLS configuration is registered with the driver under a
// name: the engine runs TLS itself (see below), per connection.
//
// # Authentication policy
//
// A credential is never sent in a form a server could use elsewhere to a
// server whose certificate was not verified:
//
//   - with disable, prefer and require the engine answers challenges only:
//     mysql_native_password, caching_sha2_password's fast path and
//     MariaDB's client_ed25519 prove the password without revealing it. It
//     refuses, before sending anything, a server (or a man in the middle)
//     that asks for the password itself: mysql_clear_password (unless
//     WithAllowCleartextPassword / $ROTATOR_MYSQL_ALLOW_CLEARTEXT_PASSWORD),
//     caching_sha2_password's full authentication and sha256_password
//     (cleartext over TLS, or RSA-encrypted with a key that server sends),
//     and mysql_old_password. MySQL 8's caching_sha2_password therefore
//     needs a verified certificate: its first login after a password change
//     is a full authentication;
//   - with verify-ca and verify-full every exchange but the old password is
//     answered, inside TLS;
//   - MySQL has no channel binding, so a challenge answered on an
//     unverified connection can still be relayed live by a man in the
//     middle that reaches the real server: it gets that one session, never
//     the password. A master secret whose host came from the application's
//     secret ("channel_binding": "require", set by the alternating
//     strategy) is where that matters, since whoever writes the
//     application's secret chooses its host and "sslrootcert": the engine
//     then connects only with verify-full against the function's own CA
//     bundle, ignoring the secret's "sslrootcert" and the system roots,
//     and refuses (ErrVerificationRequired) when no bundle is configured.
//
// go-sql-driver/mysql answers whatever the server asks, so the engine does
// TLS itself, under the driver, in the net.Conn it dials (auth.go): it
// sends the SSLRequest with the driver's capabilities, runs the handshake,
// and reads every server packet of the authentication phase before the
// driver does, failing the read of a request the policy refuses. The same
// greeting gives the server's flavour and version, once per connection.
//
// # Passwords never reach the server in plaintext
//
// SetPassword and EnsureUser read the account's authentication plugin (SHOW
// CREATE USER) and send the authentication string computed here: "*" +
// hex(SHA1(SHA1(pw))) for mysql_native_password, MariaDB's ed25519 public
// key for ed25519, "$A$005$" + salt + SHA-256-crypt for MySQL's
// caching_sha2_password. MariaDB gets SET PASSWORD FOR account = 'hash'
// (which a user may run on itself without privileges), MySQL ALTER USER
// account IDENTIFIED WITH plugin AS 'hash'. Accounts with any other plugin
// are refused (ErrUnsupportedPlugin). The dual-password statements are the
// exception: MySQL's RETAIN CURRENT PASSWORD and REPLACE take only the
// password itself, bound by the driver (see dual.go); MySQL rewrites it in
// its logs unless --log-raw. Account names are quoted by one function,
// account(), with backticks (only a backtick is special inside them,
// whatever sql_mode says); placeholders are used wherever the server takes
// them.
//
// # Alternating users
//
// EnsureUser with a Template makes the clone on the template's host and
// gives it exactly the template's privileges on every call: global,
// database, table, column and routine privileges, WITH GRANT OPTION,
// granted roles (WITH ADMIN OPTION) and the default role, REQUIRE (TLS)
// settings and resource limits, granting what is missing and revoking
// what the template no longer has. Every clone is granted CloneMarkerRole,
// a role without privileges: CheckTarget refuses an existing account with
// the clone's name that lacks it (someone else's account), the master's own
// user, and accounts that hold, themselves or through roles, privileges
// on the mysql schema or administrative privileges on *.* (see
// CheckTarget). User names: at most 32 characters on MySQL, 80 on MariaDB;
// a longer clone name is an error naming the limit.
//
// # Errors
//
// Failures wrap the rotator sentinels (ErrLoginFailed, ErrUnreachable,
// ErrPermission, ErrNotAllowed, ErrWrongEngine, ErrMissingField and
// ErrInvalidField through *rotator.FieldError) and this package's errors.
// Their text never holds a password or a hash.
package mysql
