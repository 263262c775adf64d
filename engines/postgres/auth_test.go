package postgres

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5" //nolint:gosec // the md5 forms a man in the middle must not get
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// pgMessage frames a backend message: type, int32 length, body.
func pgMessage(typ byte, body []byte) []byte {
	m := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[1:], uint32(4+len(body)))
	return append(m, body...)
}

// authRequestMsg is an 'R' message with code and what follows it.
func authRequestMsg(code uint32, rest []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, code)
	return pgMessage('R', append(body, rest...))
}

// saslRequest offers SASL mechanisms.
func saslRequest(mechs ...string) []byte {
	var rest []byte
	for _, m := range mechs {
		rest = append(append(rest, m...), 0)
	}
	return authRequestMsg(authSASL, append(rest, 0))
}

var md5Salt = []byte{0x01, 0x02, 0x03, 0x04}

// md5Response is what a client answers to an md5 request with md5Salt.
func md5Response(user, password string) string {
	inner := md5.Sum([]byte(password + user)) //nolint:gosec // the wire format
	outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), md5Salt...))
	return "md5" + hex.EncodeToString(outer[:])
}

// selfSignedCert is a certificate for 127.0.0.1 signed by nobody: what a
// man in the middle presents.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mitm"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// fakeServer is a man in the middle that speaks just enough of the
// PostgreSQL protocol: it answers the SSLRequest ('S' and TLS with a
// self-signed certificate, or 'N'), reads the StartupMessage, sends one
// authentication request (and, after AuthenticationOk, ReadyForQuery), and
// then records whatever the client sends next and hangs up with a FATAL
// error. It keeps every byte it received after the TLS handshake.
type fakeServer struct {
	port int
	cert []byte // DER of its self-signed certificate
	ln   net.Listener
	wg   sync.WaitGroup

	mu      sync.Mutex
	startup []byte // the StartupMessages
	after   []byte // everything the client sent after them
	conns   int
}

func startFakeServer(t *testing.T, offerTLS bool, request []byte) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedCert(t)
	f := &fakeServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, cert: cert.Certificate[0]}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Go(func() { f.serve(c, offerTLS, cfg, request) })
		}
	})
	t.Cleanup(f.stop)
	return f
}

// certPEM is the server's certificate in PEM: a CA that verifies it.
func (f *fakeServer) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.cert})
}

func (f *fakeServer) stop() {
	_ = f.ln.Close()
	f.wg.Wait()
}

// received returns what the server got; it waits for every connection to
// end first.
func (f *fakeServer) received() (startup, after []byte, conns int) {
	f.stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startup, f.after, f.conns
}

func (f *fakeServer) serve(raw net.Conn, offerTLS bool, cfg *tls.Config, request []byte) {
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	var conn net.Conn = raw
	first := make([]byte, 8)
	if _, err := io.ReadFull(conn, first); err != nil {
		return
	}
	if binary.BigEndian.Uint32(first[4:]) == 80877103 { // SSLRequest
		if !offerTLS {
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
			first = nil
		} else {
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(raw, cfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, first = tc, nil
		}
	}
	// The StartupMessage (first holds its first 8 bytes when the client
	// asked for no TLS).
	startup := first
	if len(startup) < 4 {
		startup = make([]byte, 4)
		if _, err := io.ReadFull(conn, startup); err != nil {
			return
		}
	}
	n := int(binary.BigEndian.Uint32(startup[:4]))
	if n < len(startup) || n > 10000 {
		return
	}
	rest := make([]byte, n-len(startup))
	if _, err := io.ReadFull(conn, rest); err != nil {
		return
	}
	f.mu.Lock()
	f.conns++
	f.startup = append(append(f.startup, startup...), rest...)
	f.mu.Unlock()

	out := request
	if binary.BigEndian.Uint32(request[5:9]) == authOK {
		out = append(append([]byte{}, request...), pgMessage('Z', []byte{'I'})...)
	}
	if _, err := conn.Write(out); err != nil {
		return
	}
	buf := make([]byte, 4096)
	n, _ = conn.Read(buf)
	if n == 0 {
		return // the client hung up
	}
	f.mu.Lock()
	f.after = append(f.after, buf[:n]...)
	f.mu.Unlock()
	// Keep what else arrives in the same flight, then refuse.
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := conn.Read(buf); n > 0 {
		f.mu.Lock()
		f.after = append(f.after, buf[:n]...)
		f.mu.Unlock()
	}
	_, _ = conn.Write(pgMessage('E', []byte("SFATAL\x00VFATAL\x00C28P01\x00Mno\x00\x00")))
}

// TestAuthUnverifiedMITM: a man in the middle with a certificate nobody
// verifies (sslmode require, the default without a CA bundle; disable;
// prefer and its plaintext fallback) asks for a weaker authentication than
// SCRAM, or none, or strips channel binding. Login and SetPassword refuse
// with an error that names what was asked, and the man in the middle never
// receives a byte after the StartupMessage: not the password, not its md5
// forms, not a SCRAM exchange it could relay.
func TestAuthUnverifiedMITM(t *testing.T) {
	const user = "app"
	pw, next := "Cur-"+pgtest.RandomPassword(24), "New-"+pgtest.RandomPassword(24)
	cases := []struct {
		name     string
		offerTLS bool
		sslmode  string
		request  []byte
		opts     []Option
		want     error
		inMsg    string
		sent     bool // the client answers (an opt-in allows it)
	}{
		{name: "cleartext over require", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authCleartextPassword, nil), want: ErrAuthMethod, inMsg: "cleartext password"},
		{name: "md5 over require", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authMD5Password, md5Salt), want: ErrAuthMethod, inMsg: "md5 password authentication"},
		{name: "trust over require", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authOK, nil), want: ErrAuthMethod, inMsg: "no authentication"},
		{name: "SCRAM without PLUS over require", offerTLS: true, sslmode: SSLRequire, request: saslRequest("SCRAM-SHA-256"), want: ErrChannelBinding, inMsg: "channel binding"},
		{name: "GSSAPI over require", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authGSS, nil), want: ErrAuthMethod, inMsg: "GSSAPI"},
		{name: "cleartext over the default mode", offerTLS: true, request: authRequestMsg(authCleartextPassword, nil), want: ErrAuthMethod, inMsg: "the default (require"},
		{name: "cleartext over prefer", offerTLS: true, sslmode: SSLPrefer, request: authRequestMsg(authCleartextPassword, nil), want: ErrAuthMethod, inMsg: "cleartext password"},
		{name: "cleartext on prefer's plaintext fallback", sslmode: SSLPrefer, request: authRequestMsg(authCleartextPassword, nil), want: ErrAuthMethod, inMsg: "cleartext password"},
		{name: "md5 on prefer's plaintext fallback", sslmode: SSLPrefer, request: authRequestMsg(authMD5Password, md5Salt), want: ErrAuthMethod, inMsg: "md5"},
		{name: "cleartext over disable", sslmode: SSLDisable, request: authRequestMsg(authCleartextPassword, nil), want: ErrAuthMethod, inMsg: "sslmode disable"},
		{name: "md5 over disable", sslmode: SSLDisable, request: authRequestMsg(authMD5Password, md5Salt), want: ErrAuthMethod, inMsg: EnvAllowMD5},
		{name: "md5 opt-in still requires channel binding", offerTLS: true, sslmode: SSLRequire, request: saslRequest("SCRAM-SHA-256"), opts: []Option{WithAllowMD5(true)}, want: ErrChannelBinding},
		{name: "md5 opt-in does not allow cleartext", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authCleartextPassword, nil), opts: []Option{WithAllowMD5(true)}, want: ErrAuthMethod, inMsg: EnvAllowCleartext},
		// The opt-ins do what they say (the man in the middle then gets an
		// md5 response, or the password).
		{name: "md5 opt-in answers md5", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authMD5Password, md5Salt), opts: []Option{WithAllowMD5(true)}, want: rotator.ErrLoginFailed, sent: true},
		{name: "cleartext opt-in answers cleartext", offerTLS: true, sslmode: SSLRequire, request: authRequestMsg(authCleartextPassword, nil), opts: []Option{WithAllowCleartextPassword(true)}, want: rotator.ErrLoginFailed, sent: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, op := range []string{"login", "set password"} {
				f := startFakeServer(t, c.offerTLS, c.request)
				e, _ := newEngine(t, append([]Option{WithConnectTimeout(3 * time.Second)}, c.opts...)...)
				sec := with(t, rotator.NewSecret(nil), map[string]any{"engine": "postgres", "host": "127.0.0.1", "port": f.port, "username": user, "password": pw})
				if c.sslmode != "" {
					sec = with(t, sec, map[string]any{"sslmode": c.sslmode})
				}
				var err error
				if op == "login" {
					err = e.Login(ctxT(t), sec)
				} else {
					err = e.SetPassword(ctxT(t), rotator.SetPasswordRequest{Conn: sec, Username: user, Password: next})
				}
				t.Logf("%s: %v", op, err)
				wantErr(t, err, c.want)
				noSecrets(t, err, pw, next)
				if c.inMsg != "" && !strings.Contains(err.Error(), c.inMsg) {
					t.Fatalf("%s: error %q does not say %q", op, err, c.inMsg)
				}
				if !c.sent && !errors.Is(err, rotator.ErrUnreachable) {
					t.Fatalf("%s: a refused method must wrap ErrUnreachable (the strategies stop, they do not try another password)", op)
				}
				startup, after, conns := f.received()
				if conns == 0 || !bytes.Contains(startup, []byte(user)) {
					t.Fatalf("%s: the fake server saw no StartupMessage", op)
				}
				all := string(startup) + string(after)
				for _, s := range []string{pw, next, md5Verifier(user, pw), md5Verifier(user, next), md5Verifier(user, pw)[3:], md5Verifier(user, next)[3:]} {
					if strings.Contains(all, s) && !(c.sent && s == pw && strings.Contains(c.name, "cleartext")) {
						t.Fatalf("%s: the man in the middle received the password or an md5 verifier", op)
					}
				}
				switch {
				case c.sent && len(after) == 0:
					t.Fatalf("%s: with the opt-in the client did not answer", op)
				case !c.sent && len(after) > 0 && !bytes.Equal(after, []byte{'X', 0, 0, 0, 4}):
					// A lone Terminate (pgx closing the refused connection)
					// carries nothing; whether the fake server reads it
					// before the check is a race.
					t.Fatalf("%s: the client sent %d bytes after the StartupMessage (type %q)", op, len(after), after[0])
				case c.sent && strings.Contains(c.name, "md5") && !strings.Contains(string(after), md5Response(user, pw)):
					t.Fatalf("%s: the md5 opt-in did not answer the md5 request", op)
				}
			}
		})
	}
}

// The guard follows the message framing whatever the read sizes: the
// request split across reads, after other messages, or in one piece.
func TestAuthGuardFraming(t *testing.T) {
	notice := pgMessage('N', []byte("SNOTICE\x00Mhello\x00\x00"))
	negotiate := pgMessage('v', []byte{0, 0, 0, 0, 0, 0, 0, 0})
	strict := &authPolicy{channelBinding: true}
	cases := []struct {
		name   string
		stream []byte
		policy *authPolicy
		want   error // nil: passed through
	}{
		{"SCRAM with PLUS", saslRequest("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"), strict, nil},
		{"SCRAM without PLUS", saslRequest("SCRAM-SHA-256"), strict, ErrChannelBinding},
		{"SCRAM without PLUS, no TLS", saslRequest("SCRAM-SHA-256"), &authPolicy{}, nil},
		{"OAUTHBEARER only", saslRequest("OAUTHBEARER"), strict, ErrAuthMethod},
		{"cleartext after a notice", append(append([]byte{}, notice...), authRequestMsg(authCleartextPassword, nil)...), strict, ErrAuthMethod},
		{"md5 after a protocol negotiation", append(append([]byte{}, negotiate...), authRequestMsg(authMD5Password, md5Salt)...), strict, ErrAuthMethod},
		{"md5 allowed", authRequestMsg(authMD5Password, md5Salt), &authPolicy{md5: true, channelBinding: true}, nil},
		{"cleartext allowed", authRequestMsg(authCleartextPassword, nil), &authPolicy{cleartext: true}, nil},
		{"trust", authRequestMsg(authOK, nil), &authPolicy{md5: true, cleartext: true}, ErrAuthMethod},
		{"an error before any request", pgMessage('E', []byte("SFATAL\x00C28000\x00Mno pg_hba.conf entry\x00\x00")), strict, nil},
		{"a short request", pgMessage('R', []byte{0, 0}), strict, ErrAuthMethod},
		{"an oversized request", pgMessage('R', make([]byte, maxAuthRequest+1)), strict, ErrAuthMethod},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 3, 7, len(c.stream)} {
			g := &authGuard{r: &chunkReader{data: c.stream, n: chunk}, policy: c.policy}
			got, err := io.ReadAll(g)
			switch {
			case c.want == nil && (err != nil || !bytes.Equal(got, c.stream)):
				t.Errorf("%s, reads of %d: err %v, %d of %d bytes passed", c.name, chunk, err, len(got), len(c.stream))
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("%s, reads of %d: err %v, want %v", c.name, chunk, err, c.want)
			case c.want != nil && len(got) >= len(c.stream):
				// pgx acts on a message once it holds all of it.
				t.Errorf("%s, reads of %d: the whole refused request reached the reader", c.name, chunk)
			}
		}
	}
}

// chunkReader returns data n bytes at a time.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(r.n, len(p), len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// tlsSecret is sv's secret with the given TLS fields and no others.
func tlsSecret(t *testing.T, s *pgtest.Server, user, pw string, fields map[string]any) *rotator.Secret {
	t.Helper()
	base := with(t, s.Secret(user, pw), map[string]any{"ssl": del, "sslrootcert": del})
	return with(t, base, fields)
}

// TestPostgresWeakAuthServers: real servers whose pg_hba.conf asks TCP
// clients for a cleartext password, or for md5. Without a verified
// certificate the engine refuses both unless the operator opted in; with
// verify-full it logs in as before. md5 verifiers are made only with the
// opt-in, whatever the connection.
func TestPostgresWeakAuthServers(t *testing.T) {
	clear := pgtest.Shared(t, pgtest.WithTLS(), pgtest.WithHostAuth("password"))
	md5srv := pgtest.Shared(t, pgtest.WithTLS(), pgtest.WithPasswordEncryption("md5"), pgtest.WithHostAuth("md5"))
	ctx := ctxT(t)
	type account struct {
		s        *pgtest.Server
		user, pw string
	}
	mk := func(s *pgtest.Server) account {
		u, p := pgtest.UniqueName("weak"), pgtest.RandomPassword(24)
		s.CreateRole(t, u, p, "LOGIN")
		return account{s, u, p}
	}
	C, M := mk(clear), mk(md5srv)
	if got := storedPassword(t, md5srv, M.user); !strings.HasPrefix(got, "md5") {
		t.Fatalf("the md5 server stored %.6s...", got)
	}
	verifyFull := func(a account) map[string]any {
		return map[string]any{"sslmode": "verify-full", "sslrootcert": string(a.s.CAPEM)}
	}
	md5In, clearIn := WithAllowMD5(true), WithAllowCleartextPassword(true)

	t.Run("login", func(t *testing.T) {
		cases := []struct {
			name   string
			a      account
			fields map[string]any
			opts   []Option
			want   []error
			inMsg  string
		}{
			{name: "cleartext server, require", a: C, fields: map[string]any{"sslmode": "require"}, want: []error{ErrAuthMethod, rotator.ErrUnreachable}, inMsg: "cleartext password"},
			{name: "cleartext server, the default mode", a: C, want: []error{ErrAuthMethod}, inMsg: "cleartext password"},
			{name: "cleartext server, prefer", a: C, fields: map[string]any{"sslmode": "prefer"}, want: []error{ErrAuthMethod}},
			{name: "cleartext server, disable", a: C, fields: map[string]any{"sslmode": "disable"}, want: []error{ErrAuthMethod}},
			{name: "cleartext server, md5 opt-in", a: C, fields: map[string]any{"sslmode": "require"}, opts: []Option{md5In}, want: []error{ErrAuthMethod}, inMsg: EnvAllowCleartext},
			{name: "cleartext server, verify-full", a: C, fields: verifyFull(C)},
			{name: "cleartext server, cleartext opt-in", a: C, fields: map[string]any{"sslmode": "require"}, opts: []Option{clearIn}},
			{name: "md5 server, require", a: M, fields: map[string]any{"sslmode": "require"}, want: []error{ErrAuthMethod, rotator.ErrUnreachable}, inMsg: "md5 password authentication"},
			{name: "md5 server, disable", a: M, fields: map[string]any{"sslmode": "disable"}, want: []error{ErrAuthMethod}, inMsg: EnvAllowMD5},
			{name: "md5 server, verify-full", a: M, fields: verifyFull(M)},
			{name: "md5 server, verify-ca", a: M, fields: map[string]any{"sslmode": "verify-ca", "sslrootcert": string(M.s.CAPEM)}},
			{name: "md5 server, md5 opt-in, require", a: M, fields: map[string]any{"sslmode": "require"}, opts: []Option{md5In}},
			{name: "md5 server, md5 opt-in, disable", a: M, fields: map[string]any{"sslmode": "disable"}, opts: []Option{md5In}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e, _ := newEngine(t, c.opts...)
				err := e.Login(ctx, tlsSecret(t, c.a.s, c.a.user, c.a.pw, c.fields))
				wantErr(t, err, c.want...)
				noSecrets(t, err, c.a.pw)
				if err != nil {
					t.Logf("error: %v", err)
				}
				if c.inMsg != "" && !strings.Contains(err.Error(), c.inMsg) {
					t.Fatalf("error %q does not say %q", err, c.inMsg)
				}
			})
		}
	})

	t.Run("md5 verifiers only with the opt-in", func(t *testing.T) {
		e, _ := newEngine(t)
		next := pgtest.RandomPassword(24)
		before := storedPassword(t, md5srv, M.user)
		err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: tlsSecret(t, md5srv, M.user, M.pw, verifyFull(M)), Username: M.user, Password: next})
		wantErr(t, err, ErrMD5Verifier)
		noSecrets(t, err, M.pw, next, md5Verifier(M.user, next))
		if !strings.Contains(err.Error(), "the server's password_encryption is md5; ") || !strings.Contains(err.Error(), EnvAllowMD5) {
			t.Fatalf("error %q does not explain the refusal", err)
		}
		if storedPassword(t, md5srv, M.user) != before {
			t.Fatal("the password changed")
		}

		master, masterPW := pgtest.UniqueName("weakmaster"), pgtest.RandomPassword(24)
		md5srv.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
		allowManage(t, md5srv, master, M.user)
		twin := M.user + "_clone"
		_, err = e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: tlsSecret(t, md5srv, master, masterPW, verifyFull(M)), Username: twin, Password: next, Template: M.user})
		wantErr(t, err, ErrMD5Verifier)
		noSecrets(t, err, masterPW, next)
		if ok, _ := md5srv.RoleExists(ctx, twin); ok {
			t.Fatal("EnsureUser created the user")
		}

		// With the opt-in, over require: md5 login, md5 verifier.
		e, _ = newEngine(t, md5In)
		wantErr(t, e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: tlsSecret(t, md5srv, M.user, M.pw, map[string]any{"sslmode": "require"}), Username: M.user, Password: next}))
		if storedPassword(t, md5srv, M.user) != md5Verifier(M.user, next) {
			t.Fatal("the opt-in did not store the md5 verifier")
		}
		wantErr(t, e.Login(ctx, tlsSecret(t, md5srv, M.user, next, map[string]any{"sslmode": "require"})))
	})

	t.Run("the opt-ins from the environment", func(t *testing.T) {
		for _, c := range []struct {
			env, value string
			s          *pgtest.Server
			want       []error
		}{
			{EnvAllowMD5, "true", md5srv, nil},
			{EnvAllowMD5, "false", md5srv, []error{ErrAuthMethod}},
			{EnvAllowCleartext, "yes", clear, nil},
			{EnvAllowCleartext, "sometimes", clear, []error{ErrConfig}},
		} {
			t.Run(c.env+"="+c.value, func(t *testing.T) {
				newEngine(t) // clears the engine's other variables
				t.Setenv(c.env, c.value)
				e, a := New(), mk(c.s)
				wantErr(t, e.Login(ctx, tlsSecret(t, a.s, a.user, a.pw, map[string]any{"sslmode": "require"})), c.want...)
			})
		}
	})
}

// startRelay is a man in the middle in front of a real server: it answers
// the client's SSLRequest with 'S' and TLS under its own self-signed
// certificate, connects to the server (with TLS when upstreamTLS, without
// verifying it; else in plaintext, which the test servers allow) and
// relays the bytes both ways, so it holds whatever session the client
// authenticates. It returns the port to connect to.
func startRelay(t *testing.T, server *pgtest.Server, upstreamTLS bool) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	cfg := &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t)}, MinVersion: tls.VersionTLS12}
	serve := func(raw net.Conn) {
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
		req := make([]byte, 8)
		if _, err := io.ReadFull(raw, req); err != nil || binary.BigEndian.Uint32(req[4:]) != 80877103 {
			return
		}
		if _, err := raw.Write([]byte{'S'}); err != nil {
			return
		}
		client := tls.Server(raw, cfg)
		if err := client.Handshake(); err != nil {
			return
		}
		up, err := net.Dial("tcp", net.JoinHostPort(server.Host, strconv.Itoa(server.Port)))
		if err != nil {
			return
		}
		defer up.Close()
		_ = up.SetDeadline(time.Now().Add(20 * time.Second))
		var upstream net.Conn = up
		if upstreamTLS {
			answer := make([]byte, 1)
			if _, err := up.Write(req); err != nil {
				return
			}
			if _, err := io.ReadFull(up, answer); err != nil || answer[0] != 'S' {
				return
			}
			tc := tls.Client(up, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // a man in the middle
			if err := tc.Handshake(); err != nil {
				return
			}
			upstream = tc
		}
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(upstream, client); done <- struct{}{} }()
		go func() { _, _ = io.Copy(client, upstream); done <- struct{}{} }()
		<-done
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serve(c) })
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPostgresSCRAMChannelBinding: over sslmode require the engine logs in
// to a real PostgreSQL with SCRAM-SHA-256-PLUS (pgx's channel_binding =
// require, require_auth = scram-sha-256), and a man in the middle with its
// own certificate gets nothing out of it: one that relays to the server in
// plaintext offers no SCRAM-SHA-256-PLUS and is refused before any
// exchange (a client without channel binding logs in through it, and the
// relay holds the session); one that relays over TLS passes the offer
// through, and the server itself rejects the proof, which is bound to the
// relay's certificate.
func TestPostgresSCRAMChannelBinding(t *testing.T) {
	s := pgtest.Shared(t, pgtest.WithTLS())
	ctx := ctxT(t)
	user, pw := pgtest.UniqueName("bind"), pgtest.RandomPassword(24)
	s.CreateRole(t, user, pw, "LOGIN")
	e, _ := newEngine(t)
	direct := tlsSecret(t, s, user, pw, map[string]any{"sslmode": "require"})

	tg, err := e.parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := e.connConfig(tg)
	if err != nil {
		t.Fatal(err)
	}
	if cc.ChannelBinding != "require" || cc.RequireAuth != "scram-sha-256" {
		t.Fatalf("sslmode require: channel_binding=%s require_auth=%s", cc.ChannelBinding, cc.RequireAuth)
	}
	gotTLS, err := tlsState(t, e, direct)
	if err != nil || !gotTLS {
		t.Fatalf("require against the real server: TLS %v, %v", gotTLS, err)
	}
	wantErr(t, e.Login(ctx, direct))
	wantErr(t, e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: direct, Username: user, Password: pw}))

	// verify-full keeps pgx's defaults.
	vf, _ := e.parse(s.Secret(user, pw))
	if cc, _ := e.connConfig(vf); cc.ChannelBinding != "prefer" || cc.RequireAuth != "" {
		t.Fatalf("verify-full: channel_binding=%s require_auth=%s", cc.ChannelBinding, cc.RequireAuth)
	}

	through := func(port int) *rotator.Secret {
		return with(t, direct, map[string]any{"host": "127.0.0.1", "port": port})
	}
	t.Run("relay in plaintext to the server", func(t *testing.T) {
		port := startRelay(t, s, false)
		err := e.Login(ctx, through(port))
		wantErr(t, err, ErrChannelBinding, rotator.ErrUnreachable)
		noSecrets(t, err, pw)
		t.Logf("error: %v", err)
		// The relay works: what the engine did before (require without
		// channel binding) logs in through it.
		old, err := e.parse(through(port))
		if err != nil {
			t.Fatal(err)
		}
		occ, err := e.connConfig(old)
		if err != nil {
			t.Fatal(err)
		}
		(*authPolicy)(nil).apply(occ)
		conn, err := pgx.ConnectConfig(ctx, occ)
		if err != nil {
			t.Fatalf("the relay does not work: %v", err)
		}
		_ = conn.Close(ctx)
	})
	t.Run("relay over TLS to the server", func(t *testing.T) {
		err := e.Login(ctx, through(startRelay(t, s, true)))
		wantErr(t, err, rotator.ErrLoginFailed)
		noSecrets(t, err, pw)
		if !strings.Contains(err.Error(), "channel binding") {
			t.Fatalf("error %q is not the server's channel binding check", err)
		}
	})
}

// "channel_binding": "require" accepts SCRAM-SHA-256-PLUS over TLS and
// nothing else: not even with a verified certificate (the certificate may
// be one the application's secret chose), nor with the md5 or cleartext
// opt-ins. The man in the middle gets nothing after the StartupMessage.
func TestAuthChannelBindingRequired(t *testing.T) {
	const user = "master"
	pw := "Master-" + pgtest.RandomPassword(24)
	cases := []struct {
		name     string
		offerTLS bool
		sslmode  string
		request  []byte
		want     error
	}{
		{"cleartext with a verified certificate", true, SSLVerifyCA, authRequestMsg(authCleartextPassword, nil), ErrAuthMethod},
		{"md5 with a verified certificate", true, SSLVerifyCA, authRequestMsg(authMD5Password, md5Salt), ErrAuthMethod},
		{"SCRAM without PLUS with a verified certificate", true, SSLVerifyCA, saslRequest("SCRAM-SHA-256"), ErrChannelBinding},
		{"trust with a verified certificate", true, SSLVerifyCA, authRequestMsg(authOK, nil), ErrAuthMethod},
		{"SCRAM in plaintext", false, SSLDisable, saslRequest("SCRAM-SHA-256"), ErrChannelBinding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFakeServer(t, c.offerTLS, c.request)
			e, _ := newEngine(t, WithConnectTimeout(3*time.Second), WithAllowMD5(true), WithAllowCleartextPassword(true))
			fields := map[string]any{"engine": "postgres", "host": "127.0.0.1", "port": f.port, "username": user, "password": pw,
				"sslmode": c.sslmode, FieldChannelBinding: "require"}
			if c.offerTLS {
				fields["sslrootcert"] = string(f.certPEM())
			}
			err := e.Login(ctxT(t), with(t, rotator.NewSecret(nil), fields))
			wantErr(t, err, c.want)
			noSecrets(t, err, pw)
			if !strings.Contains(err.Error(), "channel_binding") {
				t.Fatalf("the error does not name channel_binding: %v", err)
			}
			if _, after, _ := f.received(); len(after) > 0 {
				t.Fatalf("the client sent %d bytes after the StartupMessage", len(after))
			}
		})
	}
	// The same field against a real server with TLS: SCRAM-SHA-256-PLUS.
	pg := pgtest.Shared(t, pgtest.WithTLS())
	name := pgtest.UniqueName("cb")
	pg.CreateRole(t, name, pw, "LOGIN")
	e, _ := newEngine(t)
	if err := e.Login(ctxT(t), tlsSecret(t, pg, name, pw, map[string]any{"sslmode": SSLRequire, FieldChannelBinding: "require"})); err != nil {
		t.Fatalf("a real server with TLS: %v", err)
	}
}
