// Package apikey holds the vendor engines of the dual-key strategy
// (strategies/dualkey), one package a vendor under it (sendgrid, webhook,
// ...), and their shared HTTP layer (internal/httpapi). This package
// itself holds no code: an engine never imports another vendor's.
package apikey
