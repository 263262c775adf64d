package webhook

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// readCABundle reads a PEM file of CA certificates.
func readCABundle(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("the CA bundle holds no PEM certificate")
	}
	return pool, nil
}
