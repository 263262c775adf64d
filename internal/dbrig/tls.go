package dbrig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CertBundle is a CA and a server certificate it signed, in PEM: what a
// test server (PostgreSQL, MariaDB) needs for TLS, and what its clients
// verify against.
type CertBundle struct {
	CAPEM, CertPEM, KeyPEM []byte
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// newCA makes a self-signed CA named cn, valid for a week.
func newCA(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"rotator"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NewCAPEM returns the PEM certificate of a fresh CA that signed nothing:
// a "wrong CA" that no server's certificate chains to, for tests of a
// client's certificate verification.
func NewCAPEM() ([]byte, error) {
	_, _, p, err := newCA("rotator test rig unrelated CA " + RandomHex(4))
	if err != nil {
		return nil, fmt.Errorf("dbrig: CA: %w", err)
	}
	return p, nil
}

// NewServerCert makes a CA and a server certificate it signs for hosts
// (host names and IP addresses); the key is a traditional (SEC 1) EC key,
// which both PostgreSQL and MariaDB read.
func NewServerCert(hosts []string) (CertBundle, error) {
	ca, caKey, caPEM, err := newCA("rotator test rig CA " + RandomHex(4))
	if err != nil {
		return CertBundle{}, fmt.Errorf("dbrig: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertBundle{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return CertBundle{}, fmt.Errorf("dbrig: server certificate: %w", err)
	}
	ecDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return CertBundle{}, err
	}
	return CertBundle{
		CAPEM:   caPEM,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
	}, nil
}

// TLSClientConfig verifies that the server's certificate chains to caPEM,
// and not the host name: the CA was made for one server and signed nothing
// else (see pgserver.Server.ConnConfig).
func TLSClientConfig(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified below
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}
}
