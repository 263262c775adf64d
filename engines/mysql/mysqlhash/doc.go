// Package mysqlhash computes, client-side, the authentication strings that
// MySQL and MariaDB store for a password, so that a password can be set by
// sending its hash (ALTER USER ... AS 'hash', SET PASSWORD = 'hash') and
// never reaches the server, its general log or its binary log in
// plaintext. engines/mysql and the MariaDB test rig (internal/mariadbtest)
// share it.
//
//   - mysql_native_password: "*" + upper-case hex of SHA1(SHA1(password)).
//   - MariaDB's ed25519: the Ed25519 public key whose private key is
//     derived from SHA-512(password), base64 without padding (43 characters).
//   - MySQL's caching_sha2_password: "$A$005$" + a 20-character salt + the
//     43-character SHA-256-crypt digest (Drepper's algorithm, 5000 rounds).
package mysqlhash
