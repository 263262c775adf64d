package postgres

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
)

// Authentication without a verified certificate.
//
// With sslmode disable, prefer or require nobody has checked who answers
// the connection: a man in the middle can present any certificate (or
// none) and ask for whatever authentication suits it. A cleartext password
// request hands it the password; an md5 request hands it a response it can
// relay to the real server, and a trust "login" takes whatever statement
// comes next. So on these connections the engine accepts SCRAM-SHA-256
// only, which never reveals the password and, when it completes, proves
// that the peer knows the user's verifier. Over TLS it also requires
// channel binding (SCRAM-SHA-256-PLUS): the SCRAM proof then covers the
// certificate the client saw, so a man in the middle with its own
// certificate cannot relay the exchange to the real server, and one that
// removes SCRAM-SHA-256-PLUS from the server's offer is refused instead
// of being answered with plain SCRAM. PostgreSQL 11 and later offer it on
// every TLS connection whose user has a SCRAM verifier; poolers such as
// PgBouncer do not, and need a verified certificate.
//
// The operator may opt in to md5 (WithAllowMD5, $ROTATOR_PG_ALLOW_MD5) and
// to cleartext passwords (WithAllowCleartextPassword,
// $ROTATOR_PG_ALLOW_CLEARTEXT_PASSWORD); channel binding is still required
// whenever the server offers SCRAM over TLS.
//
// pgx enforces the same through RequireAuth and ChannelBinding. Its
// errors do not say what the server asked for (channel_binding=require
// rejects a cleartext request before require_auth can name it), and pgx's
// "require" also rejects md5, so the engine reads the server's first
// authentication request itself (authGuard) and stops the connection
// before pgx answers it. With verify-ca and verify-full the peer is the
// server the certificate names, and pgx's defaults apply (any method;
// channel binding when offered).

// authPolicy says what a connection whose certificate is not verified
// accepts. A nil *authPolicy accepts what pgx accepts.
type authPolicy struct {
	// md5 and cleartext are the operator's opt-ins.
	md5, cleartext bool
	// channelBinding: the connection uses TLS, so a SCRAM offer must
	// include SCRAM-SHA-256-PLUS.
	channelBinding bool
}

// authPolicyFor returns the policy of a connection with TLS plan p;
// overTLS says whether this attempt uses TLS (prefer's plaintext fallback
// does not). A plan that requires channel binding accepts
// SCRAM-SHA-256-PLUS only, even with a verified certificate: the
// certificate may be one the application's secret chose (its host, its
// "sslrootcert"), and only a SCRAM proof bound to the TLS channel is
// worthless to a server other than the one that holds the verifier.
func (e *Engine) authPolicyFor(p tlsplan.Plan, overTLS bool) *authPolicy {
	if p.RequireBinding {
		return &authPolicy{channelBinding: true}
	}
	switch p.Mode {
	case SSLVerifyCA, SSLVerifyFull:
		return nil
	}
	return &authPolicy{md5: e.allowMD5, cleartext: e.allowCleartext, channelBinding: overTLS}
}

// apply configures pgx to enforce the policy, and installs the guard that
// reads the server's first authentication request.
func (p *authPolicy) apply(cc *pgx.ConnConfig) {
	if p == nil {
		cc.ChannelBinding, cc.RequireAuth = "prefer", ""
		cc.BuildFrontend = pgproto3.NewFrontend
		return
	}
	methods := []string{"scram-sha-256"}
	if p.md5 {
		methods = append(methods, "md5")
	}
	if p.cleartext {
		methods = append(methods, "password")
	}
	cc.RequireAuth = strings.Join(methods, ",")
	// pgx's "require" refuses md5 and cleartext requests too: with an
	// opt-in the guard alone insists on SCRAM-SHA-256-PLUS, and pgx's
	// "prefer" then uses it.
	cc.ChannelBinding = "prefer"
	if p.channelBinding && !p.md5 && !p.cleartext {
		cc.ChannelBinding = "require"
	}
	cc.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(&authGuard{r: r, policy: p}, w)
	}
}

// Authentication request codes (the first int32 of an 'R' message).
const (
	authOK                = 0
	authKerberosV5        = 2
	authCleartextPassword = 3
	authMD5Password       = 5
	authGSS               = 7
	authSSPI              = 9
	authSASL              = 10
)

// maxAuthRequest bounds the body of the authentication request the guard
// reads (a SASL mechanism list is a few dozen bytes).
const maxAuthRequest = 4096

// authGuard sits between pgx's protocol reader and the connection. It
// follows the framing of what the server sends (type byte, int32 length)
// up to the first authentication request and, when the policy refuses the
// request, fails the read: pgx then closes the connection without having
// seen the request, so it never answers it. After that request the guard
// passes bytes through untouched. It sees only what the server sends,
// never what the client writes.
type authGuard struct {
	r      io.Reader
	policy *authPolicy

	done bool
	hdr  [5]byte
	hdrN int
	skip int    // bytes left of a message before the request
	body []byte // the request's body so far
	need int    // bytes left of the request's body
}

func (g *authGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if n > 0 && !g.done {
		if ferr := g.feed(p[:n]); ferr != nil {
			return 0, ferr
		}
	}
	return n, err
}

// feed follows the message framing through b.
func (g *authGuard) feed(b []byte) error {
	for len(b) > 0 && !g.done {
		switch {
		case g.skip > 0:
			k := min(g.skip, len(b))
			g.skip, b = g.skip-k, b[k:]
		case g.need > 0:
			k := min(g.need, len(b))
			g.body, g.need, b = append(g.body, b[:k]...), g.need-k, b[k:]
			if g.need == 0 {
				g.done = true
				return g.policy.check(g.body)
			}
		default:
			k := copy(g.hdr[g.hdrN:], b)
			g.hdrN, b = g.hdrN+k, b[k:]
			if g.hdrN < len(g.hdr) {
				continue
			}
			g.hdrN = 0
			n := int(binary.BigEndian.Uint32(g.hdr[1:])) - 4
			switch {
			case g.hdr[0] != 'R':
				// An error, a notice or a protocol negotiation before
				// the request: pgx handles them.
				g.skip = max(n, 0)
			case n < 4 || n > maxAuthRequest:
				g.done = true
				return &authRefusedError{Method: fmt.Sprintf("a malformed authentication request (%d bytes)", n+4), Kind: ErrAuthMethod}
			default:
				g.need = n
			}
		}
	}
	return nil
}

// check decides on the server's first authentication request.
func (p *authPolicy) check(body []byte) error {
	refuse := func(method string, optIn string) error {
		return &authRefusedError{Method: method, OptIn: optIn, Kind: ErrAuthMethod}
	}
	switch code := binary.BigEndian.Uint32(body[:4]); code {
	case authOK:
		return refuse(methodNone, "")
	case authCleartextPassword:
		if !p.cleartext {
			return refuse(methodCleartext, EnvAllowCleartext)
		}
	case authMD5Password:
		if !p.md5 {
			return refuse(methodMD5, EnvAllowMD5)
		}
	case authSASL:
		var mechs []string
		for m := range bytes.SplitSeq(body[4:], []byte{0}) {
			if len(m) > 0 {
				mechs = append(mechs, string(m))
			}
		}
		switch {
		case !slices.Contains(mechs, "SCRAM-SHA-256"):
			return refuse("SASL authentication with "+strings.Join(mechs, ", "), "")
		case p.channelBinding && !slices.Contains(mechs, "SCRAM-SHA-256-PLUS"):
			return &authRefusedError{Method: methodNoBinding, Kind: ErrChannelBinding}
		}
	case authGSS:
		return refuse("GSSAPI authentication", "")
	case authSSPI:
		return refuse("SSPI authentication", "")
	case authKerberosV5:
		return refuse("Kerberos V5 authentication", "")
	default:
		return refuse(fmt.Sprintf("authentication request %d", code), "")
	}
	return nil
}

// What a server asked for, as the errors say it.
const (
	methodNone      = "no authentication at all"
	methodCleartext = "cleartext password authentication"
	methodMD5       = "md5 password authentication"
	methodNoBinding = "SCRAM-SHA-256 without channel binding (no SCRAM-SHA-256-PLUS over TLS)"
)

// authRefusedError is the guard's refusal: what the server asked for, the
// package sentinel (ErrAuthMethod or ErrChannelBinding) and the variable
// that would allow it. connectError turns it into an *Error that says what
// to do.
type authRefusedError = dbengine.AuthRefusal

// authRefusalReason is the text of a refused authentication request on a
// connection with plan p.
func authRefusalReason(r *authRefusedError, p tlsplan.Plan) string {
	verify := fmt.Sprintf("verify the server's certificate (\"sslmode\": \"verify-full\" with its CA in \"sslrootcert\", $%s, or %s shipped with the function)", EnvCABundle, CABundleFile)
	mode := "sslmode " + p.Mode
	if p.Source != fmt.Sprintf(`"sslmode": %q`, p.Mode) {
		mode += ", set by " + p.Source + ","
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the server asked for %s", r.Method)
	if p.RequireBinding {
		b.WriteString(`; the secret requires channel binding ("channel_binding": "require", which the alternating strategy sets on a master secret whose host came from the application's secret), so the engine accepts SCRAM-SHA-256-PLUS over TLS only and sent nothing. ` +
			`Let the server offer it (PostgreSQL 11+ with TLS and a SCRAM verifier for the user, no pooler in between), or give the master secret its own "host" and "port"`)
		return b.String()
	}
	if p.Mode == SSLDisable || p.Mode == SSLPrefer {
		fmt.Fprintf(&b, "; with %s nothing verifies who answers", mode)
	} else {
		fmt.Fprintf(&b, "; with %s the certificate is not verified", mode)
	}
	switch r.Method {
	case methodNone:
		b.WriteString(", and a server that checks no password proves nothing about itself: the engine accepts SCRAM-SHA-256 only and sent nothing. Make pg_hba.conf ask for scram-sha-256 (no trust), or " + verify)
	case methodCleartext:
		b.WriteString(", so the engine accepts SCRAM-SHA-256 only and did not send the password (cleartext would hand it to whoever answered). Make pg_hba.conf ask for scram-sha-256, or " + verify + ", or accept the risk with $" + r.OptIn + "=true")
	case methodMD5:
		b.WriteString(", so the engine accepts SCRAM-SHA-256 only and sent nothing (an md5 exchange can be relayed by whoever answered). Store SCRAM verifiers (password_encryption = scram-sha-256, then set the password again) and make pg_hba.conf ask for scram-sha-256, or " + verify + ", or accept md5 with $" + r.OptIn + "=true")
	case methodNoBinding:
		b.WriteString(", so only channel binding would show that no one sits in between, and the engine sent nothing. A connection pooler in front of the server (PgBouncer) and PostgreSQL before 11 cannot bind the channel, and a man in the middle removes it: " + verify)
	default:
		b.WriteString(", and the engine accepts SCRAM-SHA-256 only on such a connection; it sent nothing. Make pg_hba.conf ask for scram-sha-256, or " + verify)
	}
	return b.String()
}
