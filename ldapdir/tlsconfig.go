package ldapdir

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/ldapbridge/ldapbridge/config"
)

var tlsVersions = map[string]uint16{
	"":    tls.VersionTLS12,
	"1.0": tls.VersionTLS10,
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// buildTLSConfig turns directory.tls into a tls.Config without a
// ServerName; each server gets a clone with its own.
func buildTLSConfig(c config.TLS) (*tls.Config, error) {
	minV, ok := tlsVersions[c.MinVersion]
	if !ok {
		return nil, fmt.Errorf("directory.tls.min_version: %q is not one of 1.0, 1.1, 1.2, 1.3", c.MinVersion)
	}
	tc := &tls.Config{MinVersion: minV, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory.tls.ca_file: %s holds no PEM certificate — point it at the CA certificate in PEM form", c.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.ClientCertFile != "" && c.ClientKeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("directory.tls.client_cert_file/client_key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case c.ClientCertFile != "":
		return nil, fmt.Errorf("directory.tls.client_key_file: required with directory.tls.client_cert_file")
	case c.ClientKeyFile != "":
		return nil, fmt.Errorf("directory.tls.client_cert_file: required with directory.tls.client_key_file")
	}
	return tc, nil
}

// serverTLS returns a copy of base for one server: ServerName is
// directory.tls.server_name or else the URL's host.
func serverTLS(base *tls.Config, serverName, host string) *tls.Config {
	tc := base.Clone()
	tc.ServerName = serverName
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	return tc
}

// describeTLS renders a connection state as "TLS 1.3, TLS_AES_128_GCM_SHA256".
func describeTLS(st tls.ConnectionState) string {
	return tls.VersionName(st.Version) + ", " + tls.CipherSuiteName(st.CipherSuite)
}
