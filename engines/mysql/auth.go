package mysql

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/engines/internal/tlsplan"
)

// Authentication without a verified certificate.
//
// MySQL's password exchanges, as go-sql-driver/mysql speaks them:
//
//   - mysql_native_password, caching_sha2_password's fast path and
//     MariaDB's client_ed25519 answer a challenge: the answer proves the
//     password without revealing it, and is worthless for any other
//     challenge. A man in the middle who reaches the real server can still
//     relay a live exchange (MySQL has no channel binding), which gives it
//     that one session but never the password;
//   - caching_sha2_password's full authentication (the server's cache
//     misses, e.g. on the first login after a password change) and
//     sha256_password send the password itself: in cleartext over TLS, or
//     RSA-encrypted with a public key the server sends;
//   - mysql_clear_password sends the password in cleartext;
//   - mysql_old_password is broken.
//
// On a connection whose certificate is not verified (sslmode disable,
// prefer, require) the engine therefore answers challenges only: it refuses
// before sending anything a server that asks for a full authentication, the
// RSA exchange, a cleartext password (unless WithAllowCleartextPassword) or
// the old password. With verify-ca and verify-full the peer is the server
// the certificate names and every exchange but the old password is
// answered, inside TLS. A master secret whose host came from the
// application's secret ("channel_binding": "require") connects only with
// verify-full against the function's own CA bundle, since a relay could
// otherwise take its session.
//
// The driver cannot be told to refuse a full authentication, so the engine
// does the TLS itself, under the driver: guardConn is the net.Conn the
// driver dials. It reads the server's greeting (version, capabilities),
// asks for TLS with the driver's own capabilities (the SSLRequest packet),
// runs the handshake with the engine's configuration, then passes the
// driver's packets through, renumbering their sequence ids by the one
// packet it inserted, and reads every server packet of the authentication
// phase before the driver does. A request the policy refuses fails the
// read: the driver never sees it, so it never answers it. After the
// server's OK the connection is passed through untouched.

// MySQL protocol constants the guard uses.
const (
	capConnectWithDB = 0x00000008
	capSSL           = 0x00000800
	pktOK            = 0x00
	pktMoreData      = 0x01
	pktSwitch        = 0xfe
	pktErr           = 0xff
	// caching_sha2_password's AuthMoreData codes.
	sha2FastOK   = 0x03
	sha2FullAuth = 0x04
	// maxGuardPacket bounds the packets the guard buffers (the greeting and
	// the authentication exchange are a few hundred bytes).
	maxGuardPacket = 1 << 16
)

// authPolicy says what a connection accepts.
type authPolicy struct {
	// tlsWanted: ask for TLS; tlsRequired: fail when the server has none
	// (prefer allows plaintext).
	tlsWanted, tlsRequired bool
	tlsConfig              *tls.Config
	// verified: the certificate is verified (verify-ca, verify-full).
	verified bool
	// cleartext: the operator's opt-in for mysql_clear_password on
	// unverified connections.
	cleartext bool
	timeout   time.Duration
}

// guardPhase is where the guard is in the connection phase.
type guardPhase int

const (
	phaseGreeting guardPhase = iota // waiting for the server's handshake
	phaseResponse                   // waiting for the driver's handshake response
	phaseAuth                       // the authentication exchange
	phaseDone                       // passed through
)

// guardConn is the connection the driver dials (see above).
type guardConn struct {
	raw    net.Conn
	cur    net.Conn // raw, or the TLS connection over it
	policy *authPolicy

	mu       sync.Mutex
	phase    guardPhase
	version  string // the server's version string, from its greeting
	caps     uint32
	useTLS   bool
	shift    byte   // 1 once the guard inserted its SSLRequest packet
	plugin   string // the authentication plugin in use
	rbuf     []byte // packets checked and ready for the driver
	wbuf     []byte // a partial packet from the driver
	refusal  *authRefusedError
	tlsErr   error // the TLS handshake's failure
	fellBack bool  // prefer, and the server has no TLS
}

// info is what the guard learnt, for the engine once the driver connected.
type guardInfo struct {
	version  string
	tls      bool
	verified bool
	fellBack bool
	// serverTLS: the server offers TLS.
	serverTLS bool
	refusal   *authRefusedError
	tlsErr    error
}

func (g *guardConn) info() guardInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	return guardInfo{version: g.version, tls: g.useTLS, verified: g.useTLS && g.policy.verified,
		fellBack: g.fellBack, serverTLS: g.caps&capSSL != 0, refusal: g.refusal, tlsErr: g.tlsErr}
}

// authRefusedError is the guard's refusal.
type authRefusedError = dbengine.AuthRefusal

func (g *guardConn) refuse(r *authRefusedError) error {
	g.refusal = r
	g.phase = phaseDone
	return r
}

// Read gives the driver the server's bytes, checked while the connection
// phase lasts.
func (g *guardConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	if g.refusal != nil {
		g.mu.Unlock()
		return 0, g.refusal
	}
	if len(g.rbuf) == 0 && g.phase == phaseDone {
		cur := g.cur
		g.mu.Unlock()
		return cur.Read(p)
	}
	defer g.mu.Unlock()
	for len(g.rbuf) == 0 {
		pkt, err := g.readPacket()
		if err != nil {
			return 0, err
		}
		if err := g.inspect(pkt); err != nil {
			return 0, err
		}
		if g.phase == phaseAuth {
			pkt = padEd25519Nonce(pkt)
		}
		pkt[3] -= g.shift
		g.rbuf = append(g.rbuf, pkt...)
	}
	n := copy(p, g.rbuf)
	g.rbuf = g.rbuf[n:]
	return n, nil
}

// readPacket reads one whole packet (header and payload) from the server.
func (g *guardConn) readPacket() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(g.cur, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > maxGuardPacket {
		return nil, g.refuse(&authRefusedError{Method: fmt.Sprintf("a %d-byte packet during authentication", n), Kind: ErrAuthMethod})
	}
	pkt := make([]byte, 4+n)
	copy(pkt, hdr[:])
	if _, err := io.ReadFull(g.cur, pkt[4:]); err != nil {
		return nil, err
	}
	return pkt, nil
}

// padEd25519Nonce works around go-sql-driver/mysql (v1.10.1), which strips
// a trailing NUL from an authentication switch's data: for client_ed25519
// that NUL may be the last byte of the 32-byte nonce (one login in 256),
// and the driver then fails with "malformed packet". A switch to
// client_ed25519 whose 32-byte nonce ends in NUL gets one NUL more, which
// the driver strips instead. Any other packet is returned as it is.
func padEd25519Nonce(pkt []byte) []byte {
	payload := pkt[4:]
	if len(payload) == 0 || payload[0] != pktSwitch {
		return pkt
	}
	i := bytes.IndexByte(payload[1:], 0)
	if i < 0 || string(payload[1:1+i]) != "client_ed25519" {
		return pkt
	}
	if nonce := payload[1+i+1:]; len(nonce) != 32 || nonce[31] != 0 {
		return pkt
	}
	out := append(append(make([]byte, 0, len(pkt)+1), pkt...), 0)
	n := len(out) - 4
	out[0], out[1], out[2] = byte(n), byte(n>>8), byte(n>>16)
	return out
}

// inspect decides on one server packet of the connection phase.
func (g *guardConn) inspect(pkt []byte) error {
	payload := pkt[4:]
	if len(payload) == 0 {
		return g.refuse(&authRefusedError{Method: "an empty packet", Kind: ErrAuthMethod})
	}
	switch g.phase {
	case phaseGreeting:
		if payload[0] == pktErr {
			g.phase = phaseDone // the driver reports the server's error
			return nil
		}
		if err := g.greeting(payload); err != nil {
			return err
		}
		g.phase = phaseResponse
		return nil
	case phaseAuth:
		switch payload[0] {
		case pktOK, pktErr:
			g.phase = phaseDone
			return nil
		case pktSwitch:
			if len(payload) == 1 {
				return g.refuse(&authRefusedError{Method: "mysql_old_password (pre-4.1 hashing)", Kind: ErrAuthMethod})
			}
			name := payload[1:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			g.plugin = string(name)
			return g.checkPlugin()
		case pktMoreData:
			return g.checkMoreData(payload[1:])
		}
		return g.refuse(&authRefusedError{Method: fmt.Sprintf("an unknown authentication packet (0x%02x)", payload[0]), Kind: ErrAuthMethod})
	}
	return nil
}

// greeting reads the server's handshake and decides on TLS.
func (g *guardConn) greeting(p []byte) error {
	if p[0] != 10 {
		return g.refuse(&authRefusedError{Method: fmt.Sprintf("protocol version %d (MySQL and MariaDB speak 10)", p[0]), Kind: ErrAuthMethod})
	}
	end := bytes.IndexByte(p[1:], 0)
	if end < 0 {
		return g.refuse(&authRefusedError{Method: "a malformed greeting", Kind: ErrAuthMethod})
	}
	g.version = string(p[1 : 1+end])
	pos := 1 + end + 1 + 4 + 8 + 1
	if len(p) < pos+2 {
		return g.refuse(&authRefusedError{Method: "a malformed greeting", Kind: ErrAuthMethod})
	}
	g.caps = uint32(binary.LittleEndian.Uint16(p[pos:]))
	if len(p) >= pos+2+3+2 {
		g.caps |= uint32(binary.LittleEndian.Uint16(p[pos+5:])) << 16
	}
	if !g.policy.tlsWanted {
		return nil
	}
	if g.caps&capSSL == 0 {
		if g.policy.tlsRequired {
			return g.refuse(&authRefusedError{Method: "no TLS", Kind: ErrServerNoTLS})
		}
		g.fellBack = true
		return nil
	}
	g.useTLS = true
	return nil
}

// checkPlugin decides on an authentication switch to g.plugin.
func (g *guardConn) checkPlugin() error {
	switch g.plugin {
	case "mysql_native_password", "caching_sha2_password", "client_ed25519":
		return nil
	case "mysql_clear_password":
		if g.verified() || g.policy.cleartext {
			return nil
		}
		return g.refuse(&authRefusedError{Method: methodCleartext, OptIn: EnvAllowCleartext, Kind: ErrAuthMethod})
	case "sha256_password":
		if g.verified() {
			return nil
		}
		return g.refuse(&authRefusedError{Method: methodSHA256, Kind: ErrAuthMethod})
	}
	return g.refuse(&authRefusedError{Method: fmt.Sprintf("the authentication plugin %q", g.plugin), Kind: ErrAuthMethod})
}

// checkMoreData decides on an AuthMoreData packet.
func (g *guardConn) checkMoreData(data []byte) error {
	if g.plugin == "caching_sha2_password" && len(data) == 1 && data[0] == sha2FastOK {
		return nil
	}
	if g.verified() {
		return nil
	}
	if g.plugin == "caching_sha2_password" && len(data) == 1 && data[0] == sha2FullAuth {
		return g.refuse(&authRefusedError{Method: methodFullAuth, Kind: ErrAuthMethod})
	}
	return g.refuse(&authRefusedError{Method: fmt.Sprintf("more authentication data for %s (a public key to encrypt the password with)", g.plugin), Kind: ErrAuthMethod})
}

func (g *guardConn) verified() bool { return g.useTLS && g.policy.verified }

// Write sends the driver's packets: the handshake response after the guard's
// TLS upgrade, later packets renumbered.
func (g *guardConn) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal != nil {
		return 0, g.refusal
	}
	if g.phase == phaseDone {
		return g.cur.Write(b)
	}
	g.wbuf = append(g.wbuf, b...)
	for len(g.wbuf) >= 4 {
		n := int(g.wbuf[0]) | int(g.wbuf[1])<<8 | int(g.wbuf[2])<<16
		if len(g.wbuf) < 4+n {
			break
		}
		pkt := g.wbuf[:4+n]
		if err := g.writePacket(pkt); err != nil {
			g.wbuf = nil
			return 0, err
		}
		g.wbuf = g.wbuf[4+n:]
	}
	return len(b), nil
}

func (g *guardConn) writePacket(pkt []byte) error {
	if g.phase == phaseResponse {
		g.phase = phaseAuth
		g.plugin = responsePlugin(pkt[4:])
		if g.useTLS {
			if err := g.startTLS(pkt); err != nil {
				return err
			}
			binary.LittleEndian.PutUint32(pkt[4:], binary.LittleEndian.Uint32(pkt[4:])|capSSL)
		}
	}
	pkt[3] += g.shift
	_, err := g.cur.Write(pkt)
	return err
}

// startTLS sends the SSLRequest (the first 32 bytes of the driver's
// handshake response, with the SSL capability) and runs the handshake.
func (g *guardConn) startTLS(resp []byte) error {
	if len(resp) < 4+32 {
		return g.refuse(&authRefusedError{Method: "a handshake response the engine cannot read", Kind: ErrAuthMethod})
	}
	req := make([]byte, 4+32)
	copy(req[4:], resp[4:4+32])
	req[0] = 32
	req[3] = resp[3]
	binary.LittleEndian.PutUint32(req[4:], binary.LittleEndian.Uint32(req[4:])|capSSL)
	if _, err := g.raw.Write(req); err != nil {
		return err
	}
	tc := tls.Client(g.raw, g.policy.tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), g.policy.timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		g.tlsErr = err
		g.phase = phaseDone
		return err
	}
	g.cur, g.shift = tc, 1
	return nil
}

// responsePlugin reads the plugin name at the end of a handshake response
// (caps, max packet, charset, filler, user, auth data, database, plugin).
func responsePlugin(p []byte) string {
	if len(p) < 32 {
		return ""
	}
	caps := binary.LittleEndian.Uint32(p)
	rest := p[32:]
	i := bytes.IndexByte(rest, 0) // user
	if i < 0 {
		return ""
	}
	rest = rest[i+1:]
	if len(rest) == 0 {
		return ""
	}
	n := int(rest[0]) // length-encoded auth data: short in practice
	if n >= 0xfb || len(rest) < 1+n {
		return ""
	}
	rest = rest[1+n:]
	if caps&capConnectWithDB != 0 {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	if i := bytes.IndexByte(rest, 0); i >= 0 {
		return string(rest[:i])
	}
	return ""
}

func (g *guardConn) Close() error { return g.raw.Close() }

func (g *guardConn) LocalAddr() net.Addr  { return g.raw.LocalAddr() }
func (g *guardConn) RemoteAddr() net.Addr { return g.raw.RemoteAddr() }

// Deadlines go to the TCP connection, which the TLS connection reads and
// writes through.
func (g *guardConn) SetDeadline(t time.Time) error      { return g.raw.SetDeadline(t) }
func (g *guardConn) SetReadDeadline(t time.Time) error  { return g.raw.SetReadDeadline(t) }
func (g *guardConn) SetWriteDeadline(t time.Time) error { return g.raw.SetWriteDeadline(t) }

// What a server asked for, as the errors say it.
const (
	methodCleartext = "the password in cleartext (mysql_clear_password)"
	methodSHA256    = "sha256_password, which sends the password in cleartext over TLS or encrypted with a key the server sends"
	methodFullAuth  = "caching_sha2_password's full authentication, which sends the password in cleartext over TLS or encrypted with a key the server sends (the server's cache does not hold the account: the first login after a restart or a password change)"
)

// authRefusalReason is the text of a refused exchange on a connection with
// plan p.
func authRefusalReason(r *authRefusedError, p tlsplan.Plan) string {
	verify := fmt.Sprintf("verify the server's certificate (\"sslmode\": \"verify-full\" with its CA in \"sslrootcert\", $%s, or %s shipped with the function)", EnvCABundle, CABundleFile)
	if errors.Is(r, ErrServerNoTLS) {
		return fmt.Sprintf("the server does not support TLS, and %s requires it; there is no fallback to plaintext (set \"sslmode\" to \"prefer\" to allow one, or to \"disable\")", p.Source)
	}
	mode := "sslmode " + p.Mode
	if p.Source != fmt.Sprintf(`"sslmode": %q`, p.Mode) {
		mode += ", set by " + p.Source + ","
	}
	s := fmt.Sprintf("the server asked for %s; with %s the certificate is not verified", r.Method, mode)
	if p.Mode == SSLDisable || p.Mode == SSLPrefer {
		s = fmt.Sprintf("the server asked for %s; with %s nothing verifies who answers", r.Method, mode)
	}
	switch r.Method {
	case methodCleartext:
		return s + ", so the engine answers challenges only and did not send the password. " + verify + ", or accept the risk with $" + r.OptIn + "=true"
	case methodFullAuth, methodSHA256:
		return s + ", so the engine answers challenges only and did not send the password. " + verify + " (MySQL 8's caching_sha2_password needs it: its full authentication sends the password itself)"
	}
	return s + ", and the engine answers challenges only on such a connection; it sent nothing. " + verify
}
