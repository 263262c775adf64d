package tlsplan

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rotatorkit/rotator/rotator"
)

// TLS modes, with libpq's meanings.
const (
	Disable    = "disable"
	Prefer     = "prefer"
	Require    = "require"
	VerifyCA   = "verify-ca"
	VerifyFull = "verify-full"
)

// Secret fields read by Settings.Plan.
const (
	FieldSSL            = "ssl"
	FieldSSLMode        = "sslmode"
	FieldSSLRootCert    = "sslrootcert"
	FieldChannelBinding = "channel_binding"
)

// Where Settings.LoadShipped looks for AWS's RDS CA bundle.
const (
	// CABundleFile is the bundle's name next to bootstrap in the
	// function's zip, read from $LAMBDA_TASK_ROOT (where Lambda unpacks
	// the zip).
	CABundleFile = "rds-ca-bundle.pem"
	// LayerCABundlePath is the bundle in a Lambda layer (unpacked under
	// /opt).
	LayerCABundlePath = "/opt/rotator/" + CABundleFile
	envTaskRoot       = "LAMBDA_TASK_ROOT"
)

// ValidMode reports whether m is one of the five modes.
func ValidMode(m string) bool {
	switch m {
	case Disable, Prefer, Require, VerifyCA, VerifyFull:
		return true
	}
	return false
}

// Settings is an engine's own TLS configuration. The zero value has no CA
// bundle and no default mode.
type Settings struct {
	// Bundle verifies servers for secrets that bring no "sslrootcert"
	// (nil: none configured).
	Bundle *x509.CertPool
	// BundleSource says where Bundle came from, for messages.
	BundleSource string
	// DefaultMode is the mode of secrets that set neither "ssl" nor
	// "sslmode" ("": verify-full with a CA bundle, else require).
	DefaultMode string
	// EnvCABundle is the engine's variable naming a bundle file, named in
	// messages that tell where a CA goes.
	EnvCABundle string
	// BindingNeedsBundle: the engine has no channel binding, so
	// "channel_binding": "require" means verify-full against Bundle only
	// (the MySQL engine). Without it the field is recorded in the plan
	// and the engine enforces it in its authentication.
	BindingNeedsBundle bool
}

// SetBundle makes pem (PEM certificates) the CA bundle.
func (s *Settings) SetBundle(pem []byte, source string) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("CA bundle from %s holds no PEM certificate", source)
	}
	s.Bundle, s.BundleSource = pool, source
	return nil
}

// SetBundleFile reads the CA bundle from a file.
func (s *Settings) SetBundleFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("CA bundle: %v", err)
	}
	return s.SetBundle(b, path)
}

// SetDefaultMode sets DefaultMode, normalised.
func (s *Settings) SetDefaultMode(mode string) error {
	m := strings.ToLower(strings.TrimSpace(mode))
	if !ValidMode(m) {
		return fmt.Errorf("default sslmode %s is not one of disable, prefer, require, verify-ca, verify-full", rotator.Quote(mode))
	}
	s.DefaultMode = m
	return nil
}

// FromEnv reads the bundle file named by $EnvCABundle and the default mode
// from $envMode, where set.
func (s *Settings) FromEnv(envMode string) error {
	var errs []error
	if p := os.Getenv(s.EnvCABundle); p != "" {
		if b, err := os.ReadFile(p); err != nil {
			errs = append(errs, fmt.Errorf("$%s: %v", s.EnvCABundle, err))
		} else if err := s.SetBundle(b, "$"+s.EnvCABundle); err != nil {
			errs = append(errs, err)
		}
	}
	if m := os.Getenv(envMode); m != "" {
		if err := s.SetDefaultMode(m); err != nil {
			errs = append(errs, fmt.Errorf("%v (from $%s)", err, envMode))
		}
	}
	return errors.Join(errs...)
}

// LoadShipped reads the bundle shipped with the function when neither an
// option nor $EnvCABundle gave one: the first that exists of
// $LAMBDA_TASK_ROOT/rds-ca-bundle.pem and layerPath (LayerCABundlePath,
// unless a test points elsewhere). One that exists but cannot be read or
// holds no certificate is an error.
func (s *Settings) LoadShipped(layerPath string) error {
	if s.Bundle != nil || os.Getenv(s.EnvCABundle) != "" {
		return nil
	}
	type candidate struct{ path, what string }
	var cands []candidate
	if root := os.Getenv(envTaskRoot); root != "" {
		cands = append(cands, candidate{filepath.Join(root, CABundleFile), "shipped in the function's zip"})
	}
	cands = append(cands, candidate{layerPath, "from a layer"})
	for _, c := range cands {
		b, err := os.ReadFile(c.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return fmt.Errorf("CA bundle %s: %v", c.what, err)
		}
		return s.SetBundle(b, c.path+" ("+c.what+")")
	}
	return nil
}

// Plan is how to use TLS for one secret.
type Plan struct {
	// Mode is one of the five modes.
	Mode string
	// Source says what chose the mode, for messages.
	Source string
	// Roots verify the server (nil: the system roots).
	Roots *x509.CertPool
	// RootsFrom says where Roots came from, for messages.
	RootsFrom string
	// RequireBinding: the secret's "channel_binding" is "require".
	RequireBinding bool
}

// Verified reports whether the plan verifies the server's certificate.
func (p Plan) Verified() bool { return p.Mode == VerifyCA || p.Mode == VerifyFull }

// Trust is "sslmode M, trusting R", for messages.
func (p Plan) Trust() string { return fmt.Sprintf("sslmode %s, trusting %s", p.Mode, p.RootsFrom) }

// Plan reads a secret's TLS fields. Errors are *rotator.FieldError naming
// the field.
func (s *Settings) Plan(sec *rotator.Secret) (Plan, error) {
	var p Plan
	mode := ""
	if v, set, err := sec.Optional(FieldSSLMode); err != nil {
		return p, err
	} else if set {
		mode = strings.ToLower(strings.TrimSpace(v))
		if !ValidMode(mode) {
			return p, &rotator.FieldError{Field: FieldSSLMode, Reason: fmt.Sprintf("is %s; want disable, prefer, require, verify-ca or verify-full", rotator.Quote(v)), Err: rotator.ErrInvalidField}
		}
		p.Source = fmt.Sprintf(`"sslmode": %q`, mode)
	}
	ssl, sslSet, err := sec.Bool(FieldSSL)
	if err != nil {
		return p, err
	}
	if sslSet {
		if mode != "" {
			// Both present: they must mean the same thing.
			agree := (ssl && (mode == Require || mode == VerifyCA || mode == VerifyFull)) || (!ssl && mode == Disable)
			if !agree {
				return p, &rotator.FieldError{Field: FieldSSL, Reason: fmt.Sprintf("is %v but \"sslmode\" is %s; they must agree (ssl true needs require, verify-ca or verify-full; false needs disable)", ssl, rotator.Quote(mode)), Err: rotator.ErrInvalidField}
			}
		} else if ssl {
			mode, p.Source = VerifyFull, `"ssl": true`
		} else {
			mode, p.Source = Disable, `"ssl": false`
		}
	}

	var secretRoots *x509.CertPool
	secretCA, systemCA := false, false
	if v, set, err := sec.Optional(FieldSSLRootCert); err != nil {
		return p, err
	} else if set {
		switch strings.TrimSpace(v) {
		case "":
		case "system":
			systemCA = true
		default:
			secretRoots = x509.NewCertPool()
			if !secretRoots.AppendCertsFromPEM([]byte(v)) {
				return p, &rotator.FieldError{Field: FieldSSLRootCert, Reason: "must hold PEM certificates (or \"system\"); file names are not read, use $" + s.EnvCABundle + " for a file", Err: rotator.ErrInvalidField}
			}
			secretCA = true
		}
	}
	if mode == "" {
		switch {
		case s.DefaultMode != "":
			mode, p.Source = s.DefaultMode, "the engine's default sslmode "+s.DefaultMode
		case secretCA || systemCA || s.Bundle != nil:
			mode, p.Source = VerifyFull, "the default (verify-full, as a CA bundle is configured)"
		default:
			mode, p.Source = Require, "the default (require: TLS without a CA bundle to verify against)"
		}
	}
	if mode == Require && secretCA {
		// libpq: with a root certificate, require verifies the chain.
		mode = VerifyCA
		p.Source += " with \"sslrootcert\""
	}
	p.Mode = mode
	if v, set, err := sec.Optional(FieldChannelBinding); err != nil {
		return p, err
	} else if set {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "require":
			p.RequireBinding = true
		case "", "prefer", "disable": // the engine's own rules apply
		default:
			return p, &rotator.FieldError{Field: FieldChannelBinding, Reason: fmt.Sprintf("is %s; want prefer or require", rotator.Quote(v)), Err: rotator.ErrInvalidField}
		}
	}
	switch {
	case p.RequireBinding && s.BindingNeedsBundle:
		// Only the function's own trust anchors: a master secret whose
		// host came from the application's secret must not trust what
		// that secret brings.
		p.Mode, p.Source = VerifyFull, `"channel_binding": "require" (a master secret whose host came from the application's secret)`
		p.Roots, p.RootsFrom = s.Bundle, "the function's CA bundle"
		if s.Bundle != nil {
			p.RootsFrom += " from " + s.BundleSource
		}
	case secretCA:
		p.Roots, p.RootsFrom = secretRoots, `the secret's "sslrootcert"`
	case systemCA:
		p.RootsFrom = "the system roots"
	case s.Bundle != nil:
		p.Roots, p.RootsFrom = s.Bundle, "the CA bundle from "+s.BundleSource
	default:
		p.RootsFrom = "the system roots"
	}
	return p, nil
}

// ClientConfig is the client TLS configuration of the plan for host (nil
// for disable).
func (p Plan) ClientConfig(host string) *tls.Config {
	switch p.Mode {
	case Prefer, Require:
		return &tls.Config{InsecureSkipVerify: true, ServerName: SNIName(host), MinVersion: tls.VersionTLS12} //nolint:gosec // libpq's prefer/require do not verify; the engines' authentication policies make up for it
	case VerifyCA:
		roots := p.Roots
		return &tls.Config{
			// Chain verification without the host name check, done by
			// VerifyConnection (crypto/tls cannot skip only the name
			// check).
			InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
			ServerName:         SNIName(host),
			MinVersion:         tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("server sent no certificate")
				}
				opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			},
		}
	case VerifyFull:
		return &tls.Config{RootCAs: p.Roots, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return nil
}

// SNIName is the TLS server name to send: host names only, as libpq.
func SNIName(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// CertFailure describes err when it is a failed certificate verification
// (ok false otherwise). The words come from crypto/x509 and name no
// secret.
func CertFailure(err error) (detail string, ok bool) {
	var (
		certErr *tls.CertificateVerificationError
		unkAuth x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &hostErr):
		return hostErr.Error(), true
	case errors.As(err, &unkAuth):
		return unkAuth.Error(), true
	case errors.As(err, &invalid):
		return invalid.Error(), true
	case errors.As(err, &certErr):
		return certErr.Err.Error(), true
	}
	return "", false
}

// HandshakeFailure reports whether err is a TLS protocol failure (a bad
// record or an alert from the server).
func HandshakeFailure(err error) bool {
	var (
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	return errors.As(err, &recErr) || errors.As(err, &alertErr)
}

// Describe says what a handshake under the plan established: the
// version, the server's certificate, and what was verified against what.
func (p Plan) Describe(cs tls.ConnectionState, now time.Time) string {
	detail := tls.VersionName(cs.Version)
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		detail += fmt.Sprintf(", certificate %s issued by %s, valid until %s", CertName(leaf), leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"))
		if left := leaf.NotAfter.Sub(now); left < 30*24*time.Hour {
			detail += fmt.Sprintf(" (expires in %d days)", int(left.Hours()/24))
		}
	}
	switch p.Mode {
	case VerifyFull:
		detail += "; chain and host name verified against " + p.RootsFrom
	case VerifyCA:
		detail += "; chain verified against " + p.RootsFrom + " (host name not checked: verify-ca)"
	default:
		detail += "; certificate not verified (sslmode " + p.Mode + ")"
	}
	return detail
}

// CertName names a certificate by its DNS names and IP addresses (at most
// four), else its quoted common name.
func CertName(c *x509.Certificate) string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return strconv.Quote(c.Subject.CommonName)
	}
	if len(names) > 4 {
		names = append(names[:4:4], fmt.Sprintf("and %d more", len(names)-4))
	}
	return "for " + strings.Join(names, ", ")
}

// CAFix tells where the CA that signed a server's certificate goes.
func (s *Settings) CAFix() string {
	return "put the CA that signed the server's certificate in the secret's \"sslrootcert\" (PEM text), in the file named by $" + s.EnvCABundle + ", or ship it with the function as " + CABundleFile + " (`make build CA_BUNDLE=...`, or a layer at " + LayerCABundlePath + "); for RDS: the global bundle, https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
}

// Diagnose explains a failed handshake under plan p with host, for a
// preflight check: what failed and how to fix it. serverFix is the advice
// when the failure is not the certificate's (the engine's own server
// settings).
func (s *Settings) Diagnose(p Plan, host string, err error, serverFix string) (reason, fix string) {
	var (
		hostErr x509.HostnameError
		unkAuth x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		certErr *tls.CertificateVerificationError
	)
	trust := p.Trust()
	switch {
	case errors.As(err, &hostErr):
		return "the certificate does not name " + strconv.Quote(host) + " (" + trust + "): " + hostErr.Error(),
			"set \"host\" to a name the certificate holds (the endpoint name, not an IP address or a CNAME), or use \"sslmode\": \"verify-ca\""
	case errors.As(err, &unkAuth):
		return "certificate signed by an unknown authority (" + trust + ")", s.CAFix()
	case errors.As(err, &invalid):
		return "invalid certificate (" + trust + "): " + invalid.Error(), "renew the server's certificate, or check this machine's clock"
	case errors.As(err, &certErr):
		return "certificate verification failed (" + trust + "): " + certErr.Err.Error(), s.CAFix()
	case !HandshakeFailure(err) && (strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "certificate")):
		return "certificate verification failed (" + trust + "): " + err.Error(), s.CAFix()
	}
	return "TLS handshake failed: " + err.Error(), serverFix
}
