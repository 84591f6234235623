package slapdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles are the PEM files written by writeTLS.
type tlsFiles struct {
	ca, wrongCA, serverCert, serverKey, clientCert, clientKey string
}

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// writeTLS generates a CA, a server certificate for 127.0.0.1/localhost, a
// client certificate and an unrelated CA into dir.
func writeTLS(dir string) (tlsFiles, error) {
	f := tlsFiles{
		ca:         filepath.Join(dir, "ca.pem"),
		wrongCA:    filepath.Join(dir, "wrong-ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"),
		serverKey:  filepath.Join(dir, "server-key.pem"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client-key.pem"),
	}
	ca, err := newCert("slapdtest CA", nil, func(c *x509.Certificate) {
		c.IsCA = true
		c.BasicConstraintsValid = true
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	})
	if err != nil {
		return f, err
	}
	wrong, err := newCert("slapdtest unrelated CA", nil, func(c *x509.Certificate) {
		c.IsCA = true
		c.BasicConstraintsValid = true
		c.KeyUsage = x509.KeyUsageCertSign
	})
	if err != nil {
		return f, err
	}
	server, err := newCert("localhost", &ca, func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.DNSNames = []string{"localhost"}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	})
	if err != nil {
		return f, err
	}
	client, err := newCert("slapdtest client", &ca, func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	if err != nil {
		return f, err
	}
	writes := []struct {
		path string
		kp   keyPair
		key  bool
	}{
		{f.ca, ca, false}, {f.wrongCA, wrong, false},
		{f.serverCert, server, false}, {f.serverKey, server, true},
		{f.clientCert, client, false}, {f.clientKey, client, true},
	}
	for _, w := range writes {
		if err := writePEM(w.path, w.kp, w.key); err != nil {
			return f, err
		}
	}
	return f, nil
}

func newCert(cn string, parent *keyPair, edit func(*x509.Certificate)) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate key for %q: %w", cn, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"ldapbridge tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
	}
	edit(tmpl)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return keyPair{}, fmt.Errorf("create certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{cert: cert, key: key}, nil
}

func writePEM(path string, kp keyPair, key bool) error {
	block := &pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw}
	if key {
		der, err := x509.MarshalPKCS8PrivateKey(kp.key)
		if err != nil {
			return err
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}
