// Package dbengine is what the database engines (PostgreSQL, MySQL) share
// besides TLS (engines/internal/tlsplan): the configuration every engine
// holds (connect timeout, TLS settings, logger, the configuration error
// its methods return), the capability shapes the strategies ask of them,
// the text of their Error types, the guards' refusal (AuthRefusal),
// EnsureUser's template checks (Names), and the constructors and names of
// preflight checks. Each engine keeps its own exported API; this package is only
// how both implement it, so that a fix to one is a fix to both.
package dbengine
