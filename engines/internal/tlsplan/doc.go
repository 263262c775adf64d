// Package tlsplan is how the database engines decide TLS for one secret:
// the "ssl", "sslmode", "sslrootcert" and "channel_binding" fields with
// libpq's meanings, the function's CA bundle (an option, an environment
// variable, or AWS's RDS bundle shipped in the zip or a layer), the client
// configuration each mode needs, and the words used to explain a failed or
// successful handshake. Both engines share it so that a secret means the
// same thing to each, and a fix to one is a fix to both.
package tlsplan
