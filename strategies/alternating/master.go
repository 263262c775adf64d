package alternating

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rotatorkit/rotator/rotator"
)

// The master secret.
//
// The current secret's "masterarn" chooses the master secret, and whoever
// writes the current secret chooses "masterarn". So the master secret is
// used only as a master for the current secret's own server: never against
// another host or port, never when it is the rotated secret itself
// (rotator.Rotation.Secret refuses that), never when it is an
// application's secret (it has a "masterarn" of its own, or its user is
// one of the pair's), and never over weaker TLS than the current secret
// asks for.

// TLS fields of RDS-style secrets, as the engines read them.
const (
	fieldSSL         = "ssl"
	fieldSSLMode     = "sslmode"
	fieldSSLRootCert = "sslrootcert"
	// FieldChannelBinding "require" is set on a master secret whose host
	// came from the current secret (an RDS-managed master secret holds
	// only a username and a password). Whoever writes the current secret
	// then chooses where the master logs in: the same host and port check
	// passes by construction, and a certificate can be one the writer
	// chose (its own host name, its own "sslrootcert"). So the master's
	// credential may be used only in a form that is worthless to any
	// server but the one holding its verifier: an engine must refuse to
	// send it otherwise (PostgreSQL: SCRAM-SHA-256-PLUS over TLS only;
	// an engine without channel binding: nothing it could replay or
	// relay). A master secret with its own "host" is trusted as its owner
	// wrote it.
	FieldChannelBinding = "channel_binding"
)

// tlsRank orders the TLS modes by strictness.
var tlsRank = map[string]int{"disable": 0, "prefer": 1, "require": 2, "verify-ca": 3, "verify-full": 4}

// present reports whether a field is there and not null.
func present(s *rotator.Secret, field string) bool {
	raw, ok := s.Raw(field)
	return ok && strings.TrimSpace(string(raw)) != "null"
}

// tlsMode returns the TLS mode a secret's own fields ask for: "sslmode",
// else "ssl" (true: verify-full, false: disable, as the engines read it).
// ok is false when it sets neither, or sets them in a form the engine's
// validation refuses (which then reports it).
func tlsMode(s *rotator.Secret) (mode string, ok bool) {
	if present(s, fieldSSLMode) {
		v, isStr := s.String(fieldSSLMode)
		v = strings.ToLower(strings.TrimSpace(v))
		if _, known := tlsRank[v]; !isStr || !known {
			return "", false
		}
		return v, true
	}
	on, set, err := s.Bool(fieldSSL)
	if err != nil || !set {
		return "", false
	}
	if on {
		return "verify-full", true
	}
	return "disable", true
}

// masterError is a refusal of the master secret, naming "masterarn".
func masterError(reason string, err error) error {
	return &rotator.FieldError{Secret: "current", Field: rotator.FieldMasterARN, Reason: reason, Err: err}
}

// selfReference turns rotator.Rotation.Secret's refusals into errors
// naming "masterarn"; other errors (the secret cannot be read) pass
// unchanged.
func selfReference(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rotator.ErrSelfReference):
		return masterError("names the secret being rotated: it must name the master secret (the admin user's), not the application's own", err)
	case errors.Is(err, rotator.ErrNotAllowed):
		return masterError("cannot be told from the secret being rotated: "+err.Error(), err)
	}
	return fmt.Errorf("current secret: field %q names a secret that cannot be read: %w", rotator.FieldMasterARN, err)
}

// requireMasterARN returns the current secret's "masterarn": present, a
// string, and something that could be a secret's ARN or name (at most
// rotator.MaxSecretIDLength bytes of UTF-8 without control characters).
func requireMasterARN(cur *rotator.Secret) (string, error) {
	arn, err := cur.Require(rotator.FieldMasterARN)
	if err != nil {
		return "", fmt.Errorf("current secret: %w", err)
	}
	if len(arn) > rotator.MaxSecretIDLength || !utf8.ValidString(arn) || strings.ContainsFunc(arn, rotator.IsControlOrFormat) {
		return "", masterError("is not a secret's ARN or name: "+rotator.Quote(arn), rotator.ErrInvalidField)
	}
	return arn, nil
}

// CheckMasterARN refuses a "masterarn" that names the rotated secret
// itself, comparing ARNs as Secrets Manager returns them (arn is the
// rotated secret's, masterARN the master's). Empty ARNs compare unequal.
// The error names "masterarn" and wraps rotator.ErrSelfReference.
func CheckMasterARN(arn, masterARN string) error {
	if arn != "" && arn == masterARN {
		return selfReference(fmt.Errorf("master secret: %w", rotator.ErrSelfReference))
	}
	return nil
}

// checkMaster checks a master secret against the current one and returns
// it as it connects (see MasterConnection).
func checkMaster(master, cur *rotator.Secret, p Plan) (*rotator.Secret, error) {
	if present(master, rotator.FieldMasterARN) {
		return nil, masterError(`names a secret that has a "masterarn" of its own: an application's secret, not a master secret`, rotator.ErrNotAllowed)
	}
	mu := master.Username()
	if p.Named && mu == p.Next {
		return nil, notAllowed(fmt.Sprintf("names %s, the master's own user: an application's rotation never changes the master", rotator.Quote(mu)), nil)
	}
	for _, u := range []string{p.Current, p.Next, p.Base, p.CloneName} {
		if u != "" && mu == u {
			return nil, masterError(fmt.Sprintf("names a secret for %s, one of the users this rotation alternates: an application's secret, not a master secret", rotator.Quote(mu)), rotator.ErrNotAllowed)
		}
	}
	m := withConnection(master, cur)
	mport, err := m.Int(rotator.FieldPort, 5432)
	if err != nil {
		return nil, fmt.Errorf("master secret: %w", err)
	}
	cport, err := cur.Int(rotator.FieldPort, 5432)
	if err != nil {
		return nil, fmt.Errorf("current secret: %w", err)
	}
	if !strings.EqualFold(m.Host(), cur.Host()) || mport != cport {
		return nil, masterError(fmt.Sprintf("names a master secret for another server (host %s port %d; this secret's server is host %s port %d): a master secret is used only against the server of the secret it rotates",
			rotator.Quote(m.Host()), mport, rotator.Quote(cur.Host()), cport), rotator.ErrNotAllowed)
	}
	return m, nil
}

// withConnection fills the master's missing connection fields from the
// current secret (a master secret that RDS manages holds only a username
// and a password), then makes its TLS at least as strict as the current
// secret's:
//
//   - "ssl" and "sslmode" travel together: a master that sets neither gets
//     the current secret's (a master without them would otherwise connect
//     with the engine's default mode, not the secret's);
//   - "sslrootcert" comes from the current secret when the master has none;
//   - when the master's own mode is weaker than the current's (disable <
//     prefer < require < verify-ca < verify-full), the master connects with
//     the current's: "sslmode" set to it, "ssl" dropped.
//
// A current secret that sets no mode asks for the engine's default, which
// a master that sets none shares; a master's own explicit mode then stands.
func withConnection(master, cur *rotator.Secret) *rotator.Secret {
	m := master.Clone()
	if !present(master, rotator.FieldHost) {
		m.SetString(FieldChannelBinding, "require")
	}
	copyField := func(f string) {
		if raw, ok := cur.Raw(f); ok {
			m.SetRaw(f, raw)
		}
	}
	for _, f := range []string{rotator.FieldEngine, rotator.FieldHost, rotator.FieldPort, rotator.FieldDBName, fieldSSLRootCert} {
		if !present(m, f) {
			copyField(f)
		}
	}
	if !present(m, fieldSSL) && !present(m, fieldSSLMode) {
		m.Delete(fieldSSL)
		m.Delete(fieldSSLMode)
		copyField(fieldSSL)
		copyField(fieldSSLMode)
	}
	cm, cok := tlsMode(cur)
	mm, mok := tlsMode(m)
	if cok && mok && tlsRank[mm] < tlsRank[cm] {
		m.SetString(fieldSSLMode, cm)
		m.Delete(fieldSSL)
	}
	return m
}
