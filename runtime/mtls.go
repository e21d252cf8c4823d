package runtime

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
	"os"
	"path/filepath"
	"time"

	"github.com/plugctl/plugctl/store"
)

// HostCertFile is the name, inside a home's private run/ directory, of the
// host's mTLS certificate and key (one PEM file, mode 0600). It is made once
// per home and reused by every launch with mTLS on; only the plugin's side
// of the pair is new at each start.
const HostCertFile = "host-cert.pem"

// hostCertificate returns the home's host certificate, creating it on first
// use. Without a home it makes a throwaway one.
//
// go-plugin's AutoMTLS makes a fresh P-521 pair on both sides at every
// start, so every launch pays for key generation. This one is ECDSA P-256,
// made once per home, which go-plugin's plugin side accepts (it only adds
// our PEM to its ClientCAs pool and requires a certificate for client auth
// that chains to it), and which is cheaper to load and sign with.
func hostCertificate(home store.Paths) (tls.Certificate, []byte, error) {
	if home.Home == "" {
		certPEM, keyPEM, err := newHostCert()
		if err != nil {
			return tls.Certificate{}, nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		return cert, certPEM, err
	}
	dir, err := home.EnsureRun()
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("host certificate: %w", err)
	}
	path := filepath.Join(dir, HostCertFile)
	if b, err := os.ReadFile(path); err == nil {
		if cert, certPEM, err := parseHostCert(b); err == nil {
			return cert, certPEM, nil
		}
	}
	certPEM, keyPEM, err := newHostCert()
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("host certificate: %w", err)
	}
	// One file written atomically: a concurrent plugctl sees an old pair or
	// a new one, never a certificate with another process's key. Two racing
	// first launches each use their own pair; the last rename is kept.
	if err := store.WriteFileAtomic(path, append(append([]byte{}, certPEM...), keyPEM...), 0o600); err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("host certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, err
}

func parseHostCert(b []byte) (tls.Certificate, []byte, error) {
	var certPEM, keyPEM []byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			certPEM = pem.EncodeToMemory(blk)
		case "EC PRIVATE KEY":
			keyPEM = pem.EncodeToMemory(blk)
		}
	}
	if certPEM == nil || keyPEM == nil {
		return tls.Certificate{}, nil, errors.New("incomplete host certificate file")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if time.Until(cert.Leaf.NotAfter) < 24*time.Hour {
		return tls.Certificate{}, nil, errors.New("host certificate expires soon")
	}
	return cert, certPEM, nil
}

// newHostCert makes a self-signed certificate shaped like go-plugin's
// generateCert (mtls.go): a CA for "localhost" usable for client and server
// auth, so go-plugin's plugin side verifies it against itself.
func newHostCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"plugctl host"}},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
