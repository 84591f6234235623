package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// ErrWrongScheme means a directory URL's scheme does not match what its
// port speaks: ldap:// to a port that answered with TLS, or ldaps:// to a
// port that answered plain LDAP. The error's text names the URL to use.
var ErrWrongScheme = errors.New("the URL's scheme does not match what the port speaks")

// errConnected marks a dial error that came after the TCP connection was
// made: the server is reachable, and TLS (or the protocol) failed.
var errConnected = errors.New("TCP connection made")

// Connected reports whether err is a dial error that happened after the
// TCP connection was made (a TLS or protocol failure): the server is
// reachable even though the dial failed.
func Connected(err error) bool { return errors.Is(err, errConnected) }

// PresentedCertificate returns the certificate the server presented when
// err is a certificate verification failure, or nil.
func PresentedCertificate(err error) *x509.Certificate {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		return cve.UnverifiedCertificates[0]
	}
	return nil
}

// DescribeCertificate renders what a certificate says about itself on one
// line: subject, issuer, subject alternative names and expiry.
func DescribeCertificate(c *x509.Certificate) string {
	sans := SANs(c)
	san := "none"
	if len(sans) > 0 {
		san = strings.Join(sans, ", ")
	}
	return fmt.Sprintf("subject %q, issuer %q, SANs %s, expires %s",
		c.Subject.String(), c.Issuer.String(), san, c.NotAfter.UTC().Format(time.DateOnly))
}

// SANs lists a certificate's DNS names and IP addresses.
func SANs(c *x509.Certificate) []string {
	out := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// isCertError reports whether err is about the certificate the server
// presented: then the server does speak TLS.
func isCertError(err error) bool {
	var (
		cve     *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	if errors.As(err, &cve) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) {
		return true
	}
	return strings.Contains(err.Error(), "x509: ")
}

// wrongSchemeError checks, after a failure on a connection to s that
// reached the server, whether s's port speaks the protocol the other
// scheme names. It returns the error that says so with the URL to use, or
// nil when the port does not (or the probe cannot tell).
func (d *Dir) wrongSchemeError(ctx context.Context, s *server, cause error) error {
	if ctx.Err() != nil {
		return nil
	}
	other := "ldaps"
	answered := "answered with TLS"
	if s.scheme == "ldaps" {
		other, answered = "ldap", "answered plain LDAP, not TLS"
	}
	if !d.speaks(ctx, s, other) {
		return nil
	}
	use := other + s.url[strings.Index(s.url, "://"):]
	fix := "use " + use
	if other == "ldaps" && d.cfg.StartTLS {
		fix += " and remove directory.start_tls"
	}
	msg := fmt.Sprintf("%s: %s %s — %s", s.name(), s.url, answered, fix)
	return newKindError(msg, cause, ldapbridge.ErrUnavailable, ErrWrongScheme, errConnected)
}

// speaks dials s's host and port afresh and reports whether it answers
// scheme's protocol: a TLS handshake for "ldaps" (certificate not verified:
// the connection only answers the question and is closed, no credentials
// are sent), a root DSE read for "ldap".
func (d *Dir) speaks(ctx context.Context, s *server, scheme string) bool {
	dctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", s.hostPort)
	if err != nil {
		return false
	}
	defer raw.Close()
	if dl, ok := dctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	if scheme == "ldaps" {
		cfg := &tls.Config{InsecureSkipVerify: true, ServerName: s.host()} //nolint:gosec // describes the port, never used for data
		if s.tls != nil {
			cfg.ServerName = s.tls.ServerName
		}
		err := tls.Client(raw, cfg).HandshakeContext(dctx)
		var opErr *net.OpError
		// A server that refuses our (absent) client certificate still
		// speaks TLS: its refusal is an alert.
		return err == nil || errors.As(err, &opErr) && opErr.Op == "remote error"
	}
	c := ldap.NewConn(raw, false)
	c.Start()
	defer c.Close()
	c.SetTimeout(d.dialTimeout)
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	var le *ldap.Error
	// Any LDAP result, even a refusal, is an LDAP server talking.
	return err == nil || errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// startTLSChain opens a connection to s, runs StartTLS without verifying
// the certificate and returns the chain the server presented, to describe
// it after a failed verification (go-ldap's StartTLS flattens the handshake
// error to text, so the chain is not in it). Nothing is sent over it.
func (d *Dir) startTLSChain(ctx context.Context, s *server) []*x509.Certificate {
	dctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", s.hostPort)
	if err != nil {
		return nil
	}
	c := ldap.NewConn(raw, false)
	c.Start()
	defer c.Close()
	c.SetTimeout(d.dialTimeout)
	cfg := s.tls.Clone()
	cfg.InsecureSkipVerify = true //nolint:gosec // only to read the chain; the connection is closed unused
	cfg.Certificates = nil
	if err := runCtx(dctx, c, func() error { return c.StartTLS(cfg) }); err != nil {
		return nil
	}
	st, ok := c.TLSConnectionState()
	if !ok {
		return nil
	}
	return st.PeerCertificates
}
