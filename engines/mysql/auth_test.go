package mysql

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/rotator"
)

// fakeServer speaks just enough of MySQL's connection phase to ask a client
// for whatever authentication a test wants (as a man in the middle could),
// and records every byte the client sent after its greeting.
type fakeServer struct {
	t       *testing.T
	ln      net.Listener
	tls     *tls.Config // nil: no TLS offered
	caPEM   []byte
	plugin  string // the greeting's plugin
	respond func(c *fakeConn)

	mu       sync.Mutex
	received []byte
	done     chan struct{}
}

type fakeConn struct {
	s   *fakeServer
	c   net.Conn
	seq byte
}

func (f *fakeConn) write(payload []byte) {
	hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), f.seq}
	f.seq++
	_, _ = f.c.Write(append(hdr, payload...))
}

func (f *fakeConn) read() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f.c, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	f.seq = hdr[3] + 1
	p := make([]byte, n)
	if _, err := io.ReadFull(f.c, p); err != nil {
		return nil, err
	}
	f.s.mu.Lock()
	f.s.received = append(f.s.received, p...)
	f.s.mu.Unlock()
	return p, nil
}

// stealRSA answers a request for the server's public key with its own, and
// records the password the client then encrypts with it.
func (f *fakeConn) stealRSA() {
	p, err := f.read()
	if err != nil || len(p) != 1 || (p[0] != 2 && p[0] != 1) {
		return
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	f.write(append([]byte{pktMoreData}, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...))
	enc, err := f.read()
	if err != nil {
		return
	}
	plain, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, key, enc, nil) //nolint:gosec // the protocol's OAEP hash
	if err != nil {
		return
	}
	seed := []byte("abcdefghijklmnopqrst")
	for i := range plain {
		plain[i] ^= seed[i%len(seed)]
	}
	f.s.mu.Lock()
	f.s.received = append(f.s.received, plain...)
	f.s.mu.Unlock()
	ok(f)
}

// drain records what the client still sends until it hangs up.
func (f *fakeConn) drain() {
	_ = f.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, err := f.read(); err != nil {
			return
		}
	}
}

func newFakeServer(t *testing.T, withTLS bool, plugin string, respond func(c *fakeConn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, plugin: plugin, respond: respond, done: make(chan struct{})}
	if withTLS {
		s.tls, s.caPEM = fakeCert(t)
	}
	go s.serve()
	t.Cleanup(func() { ln.Close(); <-s.done })
	return s
}

func (s *fakeServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *fakeServer) sent(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.received, b)
}

func (s *fakeServer) serve() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		func() {
			defer c.Close()
			f := &fakeConn{s: s, c: c}
			f.write(s.greeting())
			p, err := f.read()
			if err != nil {
				return
			}
			if s.tls != nil && len(p) == 32 && binary.LittleEndian.Uint32(p)&capSSL != 0 {
				tc := tls.Server(c, s.tls)
				if err := tc.Handshake(); err != nil {
					return
				}
				f.c = tc
				if _, err := f.read(); err != nil {
					return
				}
			}
			s.respond(f)
			f.drain()
		}()
	}
}

func (s *fakeServer) greeting() []byte {
	caps := uint32(0x00000001 | 0x00000008 | 0x00000200 | 0x00008000 | 0x00080000 | 0x00200000)
	if s.tls != nil {
		caps |= capSSL
	}
	var b bytes.Buffer
	b.WriteByte(10)
	b.WriteString("8.0.36-fake\x00")
	b.Write([]byte{1, 0, 0, 0})
	b.WriteString("abcdefgh")
	b.WriteByte(0)
	_ = binary.Write(&b, binary.LittleEndian, uint16(caps))
	b.WriteByte(45)
	b.Write([]byte{2, 0})
	_ = binary.Write(&b, binary.LittleEndian, uint16(caps>>16))
	b.WriteByte(21)
	b.Write(make([]byte, 10))
	b.WriteString("ijklmnopqrst\x00")
	b.WriteString(s.plugin + "\x00")
	return b.Bytes()
}

// fakeCert makes a CA and a certificate for 127.0.0.1.
func fakeCert(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Server answers a fake server sends after the client's handshake response.
var (
	switchTo = func(plugin string) func(c *fakeConn) {
		return func(c *fakeConn) {
			c.write(append([]byte{pktSwitch}, []byte(plugin+"\x00abcdefghijklmnopqrst\x00")...))
		}
	}
	// fullAuth asks for caching_sha2_password's full authentication and,
	// if the client asks for a public key, gives its own and decrypts what
	// comes back: what a man in the middle does.
	fullAuth = func(c *fakeConn) { c.write([]byte{pktMoreData, sha2FullAuth}); c.stealRSA() }
	oldAuth  = func(c *fakeConn) { c.write([]byte{pktSwitch}) }
	ok       = func(c *fakeConn) { c.write([]byte{pktOK, 0, 0, 2, 0, 0, 0}) }
)

// TestMySQLAuthGuard plays a server (or a man in the middle) that asks for
// what reveals the password, on connections whose certificate is and is not
// verified, and checks what the client sends.
func TestMySQLAuthGuard(t *testing.T) {
	const password = "the-password-that-must-not-leave"
	tests := []struct {
		name    string
		tls     bool
		plugin  string
		respond func(c *fakeConn)
		fields  func(s *fakeServer) map[string]any
		opts    []Option
		// wantErr: the connection is refused with this; nil: it succeeds.
		wantErr error
		// leaks: the password itself reaches the server (by design).
		leaks bool
	}{
		{name: "plaintext, cleartext asked", plugin: "mysql_native_password", respond: switchTo("mysql_clear_password"),
			fields: disableTLS, wantErr: ErrAuthMethod},
		{name: "plaintext, cleartext asked, opt-in", plugin: "mysql_native_password", respond: func(c *fakeConn) { switchTo("mysql_clear_password")(c); _, _ = c.read(); ok(c) },
			fields: disableTLS, opts: []Option{WithAllowCleartextPassword(true)}, leaks: true},
		{name: "plaintext, full authentication asked", plugin: "caching_sha2_password", respond: fullAuth,
			fields: disableTLS, wantErr: ErrAuthMethod},
		{name: "plaintext, sha256_password asked", plugin: "mysql_native_password", respond: func(c *fakeConn) { switchTo("sha256_password")(c); c.stealRSA() },
			fields: disableTLS, wantErr: ErrAuthMethod},
		{name: "plaintext, old password asked", plugin: "mysql_native_password", respond: oldAuth,
			fields: disableTLS, wantErr: ErrAuthMethod},
		{name: "plaintext, an unknown plugin asked", plugin: "mysql_native_password", respond: switchTo("dialog"),
			fields: disableTLS, wantErr: ErrAuthMethod},
		{name: "plaintext, a challenge answered", plugin: "mysql_native_password", respond: ok, fields: disableTLS},
		{name: "unverified TLS, cleartext asked", tls: true, plugin: "mysql_native_password", respond: switchTo("mysql_clear_password"),
			fields: requireTLS, wantErr: ErrAuthMethod},
		{name: "unverified TLS, full authentication asked", tls: true, plugin: "caching_sha2_password", respond: fullAuth,
			fields: requireTLS, wantErr: ErrAuthMethod},
		{name: "unverified TLS, a challenge answered", tls: true, plugin: "caching_sha2_password", respond: func(c *fakeConn) { c.write([]byte{pktMoreData, sha2FastOK}); ok(c) },
			fields: requireTLS},
		{name: "verified TLS, cleartext answered inside TLS", tls: true, plugin: "mysql_native_password",
			respond: func(c *fakeConn) { switchTo("mysql_clear_password")(c); _, _ = c.read(); ok(c) },
			fields:  verifyTLS, leaks: true},
		{name: "verified TLS, old password asked", tls: true, plugin: "mysql_native_password", respond: oldAuth,
			fields: verifyTLS, wantErr: ErrAuthMethod},
		{name: "TLS required, none offered", plugin: "mysql_native_password", respond: ok,
			fields: requireTLS, wantErr: ErrServerNoTLS},
		{name: "prefer, none offered: challenges only", plugin: "mysql_native_password", respond: switchTo("mysql_clear_password"),
			fields: preferTLS, wantErr: ErrAuthMethod},
		{name: "verified TLS against another CA", tls: true, plugin: "mysql_native_password", respond: ok,
			fields: func(s *fakeServer) map[string]any {
				m := verifyTLS(s)
				m[FieldSSLRootCert] = string(mustCA(t))
				return m
			}, wantErr: ErrCertificate},
		{name: "a master whose host came from the application's secret, no CA bundle", tls: true, plugin: "mysql_native_password", respond: ok,
			fields: func(s *fakeServer) map[string]any {
				m := verifyTLS(s)
				m[FieldChannelBinding] = "require"
				return m
			}, wantErr: ErrVerificationRequired},
		{name: "a master whose host came from the application's secret, its sslrootcert ignored", tls: true, plugin: "mysql_native_password", respond: ok,
			fields: func(s *fakeServer) map[string]any {
				m := verifyTLS(s)
				m[FieldChannelBinding] = "require"
				return m
			}, opts: []Option{WithCABundle(mustCA(t))}, wantErr: ErrCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, tt.tls, tt.plugin, tt.respond)
			m := map[string]any{rotator.FieldHost: "127.0.0.1", rotator.FieldPort: s.port(), rotator.FieldUsername: "app", rotator.FieldPassword: password}
			for k, v := range tt.fields(s) {
				m[k] = v
			}
			sec := secretOf(t, m)
			e := New(append([]Option{WithConnectTimeout(3 * time.Second)}, tt.opts...)...)
			tg, err := e.parse(sec)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := e.connect(context.Background(), "login", tg)
			if sess != nil {
				sess.close()
			}
			// Let the server record the rest.
			time.Sleep(50 * time.Millisecond)
			if got := s.sent([]byte(password)); got != tt.leaks {
				t.Errorf("the password reached the server: %v, want %v", got, tt.leaks)
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("want an error wrapping %v, got %v", tt.wantErr, err)
			case tt.wantErr != nil && !errors.Is(err, rotator.ErrUnreachable):
				t.Fatalf("the refusal does not wrap rotator.ErrUnreachable: %v", err)
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
		})
	}
}

func disableTLS(*fakeServer) map[string]any { return map[string]any{FieldSSLMode: SSLDisable} }
func preferTLS(*fakeServer) map[string]any  { return map[string]any{FieldSSLMode: SSLPrefer} }
func requireTLS(*fakeServer) map[string]any { return map[string]any{FieldSSLMode: SSLRequire} }
func verifyTLS(s *fakeServer) map[string]any {
	return map[string]any{FieldSSLMode: SSLVerifyFull, FieldSSLRootCert: string(s.caPEM)}
}

func mustCA(t *testing.T) []byte {
	t.Helper()
	_, p := fakeCert(t)
	return p
}

func secretOf(t *testing.T, m map[string]any) *rotator.Secret {
	t.Helper()
	s := rotator.NewSecret(nil)
	for k, v := range m {
		if err := s.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
