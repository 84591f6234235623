package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// dialServer opens one connection to s: TCP within dial_timeout, the TLS
// handshake for ldaps://, StartTLS when configured. No bind.
func (d *Dir) dialServer(ctx context.Context, s *server) (c *ldap.Conn, err error) {
	start := time.Now()
	d.stats.dials.Add(1)
	defer func() {
		if err != nil {
			d.stats.dialErrors.Add(1)
		}
		d.observe("dial", s.url, start, err)
	}()
	dctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", s.hostPort)
	if err != nil {
		return nil, d.dialError(ctx, s, err, false)
	}
	if s.scheme == "ldaps" {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, d.dialError(ctx, s, err, true)
		}
		c = ldap.NewConn(tc, true)
	} else {
		c = ldap.NewConn(raw, false)
	}
	c.Start()
	c.SetTimeout(d.requestTimeout)
	if d.cfg.StartTLS {
		err := runCtx(dctx, c, func() error { return c.StartTLS(s.tls) })
		if err != nil {
			c.Close()
			return nil, d.dialError(ctx, s, fmt.Errorf("StartTLS: %w", err), true)
		}
	}
	return c, nil
}

// dialError words a dial failure: key, URL, cause and the fix. connected
// says the TCP connection was made, so TLS or the protocol failed: then a
// port that speaks the other scheme is named with the URL to use, and a
// certificate that failed verification is described.
func (d *Dir) dialError(ctx context.Context, s *server, err error, connected bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: dial %s: %w", s.name(), s.url, ctx.Err())
	}
	kinds := []error{ldapbridge.ErrUnavailable}
	msg := fmt.Sprintf("%s: dial %s: %v — %s", s.name(), s.url, err, dialFix(err, d.cfg.TLS.CAFile != ""))
	if !connected {
		// Nothing answered on this URL (refused, unreachable, timed out).
		kinds = append(kinds, ldapbridge.ErrNoAnswer)
	}
	if connected {
		kinds = append(kinds, errConnected)
		if isCertError(err) {
			if PresentedCertificate(err) == nil && d.cfg.StartTLS {
				if chain := d.startTLSChain(ctx, s); len(chain) > 0 {
					err = errors.Join(err, &tls.CertificateVerificationError{UnverifiedCertificates: chain, Err: err})
				}
			}
			if leaf := PresentedCertificate(err); leaf != nil {
				msg += " (the server presented: " + DescribeCertificate(leaf) + ")"
			}
		} else if werr := d.wrongSchemeError(ctx, s, err); werr != nil {
			return werr
		}
	}
	return newKindError(msg, err, kinds...)
}

// runCtx runs a blocking go-ldap call, closing c if ctx ends first so the
// call returns; the context's error then replaces the call's.
func runCtx(ctx context.Context, c *ldap.Conn, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := f()
	if !stop() {
		return ctx.Err()
	}
	if cerr := ctx.Err(); cerr != nil {
		// ctx ended while f was returning, before the AfterFunc ran.
		// go-ldap's SearchAsync stops without an error when its context
		// is done, so f's nil may stand for a result cut short.
		return cerr
	}
	return err
}

// dialAny dials the servers in order, skipping those marked down; when
// every server is down it tries them all anyway.
func (d *Dir) dialAny(ctx context.Context) (*ldap.Conn, *server, error) {
	order := make([]*server, 0, len(d.servers))
	var down []*server
	for _, s := range d.servers {
		if s.isDown() {
			down = append(down, s)
		} else {
			order = append(order, s)
		}
	}
	order = append(order, down...)
	var errs []error
	for _, s := range order {
		c, err := d.dialServer(ctx, s)
		if err == nil {
			d.markServer(s, nil)
			return c, s, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		d.markServer(s, err)
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, nil, errs[0]
	}
	kinds := []error{ldapbridge.ErrUnavailable}
	if noneAnswered(errs) {
		kinds = append(kinds, ldapbridge.ErrNoAnswer)
	}
	return nil, nil, newKindError(fmt.Sprintf("no directory server reachable: %v", errors.Join(errs...)), nil, kinds...)
}

// noneAnswered reports whether every dial error says nothing answered
// (ErrNoAnswer): no server refused TLS, a bind or anything else.
func noneAnswered(errs []error) bool {
	for _, err := range errs {
		if !errors.Is(err, ldapbridge.ErrNoAnswer) {
			return false
		}
	}
	return len(errs) > 0
}

// serviceBind binds c as the service account, or leaves it anonymous.
func (d *Dir) serviceBind(ctx context.Context, c *ldap.Conn, s *server) error {
	if d.cfg.BindDN == "" {
		return nil
	}
	start := time.Now()
	d.stats.binds.Add(1)
	err := runCtx(ctx, c, func() error { return c.Bind(d.cfg.BindDN, d.bindPassword) })
	d.observe("bind", s.url, start, err)
	if err == nil {
		return nil
	}
	return d.opError(ctx, s, "bind as service account "+d.cfg.BindDN, err, true)
}

// opError words a failed operation on s. service says the operation ran as
// the service account, so a bind rejection is a configuration problem.
func (d *Dir) opError(ctx context.Context, s *server, op string, err error, service bool) error {
	prefix := fmt.Sprintf("%s: %s: ", s.name(), op)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s%w", prefix, ctx.Err())
	case isTimeout(err):
		return newKindError(prefix+fmt.Sprintf("no answer within %s — raise directory.request_timeout or check the server", d.requestTimeout), err, ldapbridge.ErrUnavailable, ldapbridge.ErrNoAnswer)
	case service && ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication):
		return newKindError(prefix+ldapDiagnostic(err)+" — check directory.bind_dn and directory.bind_password", err, ErrServiceBind, bindError(err))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) || ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired):
		var kinds []error
		if service {
			kinds = append(kinds, ErrServiceBind)
		}
		return newKindError(prefix+ldapDiagnostic(err)+" — the server requires TLS: use ldaps:// or set directory.start_tls", err, kinds...)
	case isNetworkError(err):
		if s.scheme == "ldap" {
			// Plain LDAP bytes sent to a TLS port get an alert or a
			// closed connection back: ask the port whether it is TLS.
			if werr := d.wrongSchemeError(ctx, s, err); werr != nil {
				return werr
			}
		}
		return newKindError(prefix+err.Error()+" — the connection broke; check the server and directory.urls", err, ldapbridge.ErrUnavailable)
	}
	if kind := BindErrorKind(err); kind != nil {
		msg := prefix + ldapDiagnostic(err)
		if code, reason, ok := ADSubCode(err); ok {
			msg += fmt.Sprintf(" (Active Directory %s: %s)", code, reason)
		}
		// The *ldapbridge.BindError goes in the chain so that callers
		// (auth) read the codes with errors.As instead of parsing text.
		return newKindError(msg, err, kind, bindError(err))
	}
	return fmt.Errorf("%s%s: %w", prefix, ldapDiagnostic(err), err)
}
