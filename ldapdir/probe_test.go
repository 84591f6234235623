package ldapdir

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestWrongSchemeNamesTheURLToUse: ldap:// to the LDAPS port and ldaps://
// to the plain port are found by what the port answers, in logins (the
// user bind) as in the service account's searches and in Check, and the
// one-line error names the corrected URL.
func TestWrongSchemeNamesTheURLToUse(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ctx := context.Background()
	plainHost := strings.TrimPrefix(srv.URL, "ldap://")
	tlsHost := strings.TrimPrefix(srv.LDAPSURL, "ldaps://")
	tests := []struct {
		name, url, want  string
		startTLS, bindDN bool
	}{
		{"ldap:// to the LDAPS port", "ldap://" + tlsHost, "directory.urls[0]: ldap://" + tlsHost + " answered with TLS — use ldaps://" + tlsHost, false, true},
		{"ldap:// to the LDAPS port, anonymous", "ldap://" + tlsHost, "answered with TLS — use ldaps://" + tlsHost, false, false},
		{"ldap:// with StartTLS to the LDAPS port", "ldap://" + tlsHost, "answered with TLS — use ldaps://" + tlsHost + " and remove directory.start_tls", true, true},
		{"ldaps:// to the plain port", "ldaps://" + plainHost, "directory.urls[0]: ldaps://" + plainHost + " answered plain LDAP, not TLS — use ldap://" + plainHost, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := jcConfig(tt.url)
			cfg.TLS.CAFile = srv.CAFile
			cfg.StartTLS = tt.startTLS
			if !tt.bindDN {
				cfg.BindDN, cfg.BindPassword = "", ""
			}
			d := openDir(t, cfg)
			for what, err := range map[string]error{
				"search": func() error { _, err := d.Search(ctx, usersReq); return err }(),
				"login":  d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword),
			} {
				if !errors.Is(err, ErrWrongScheme) || !errors.Is(err, ldapbridge.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: %v\nwant ErrWrongScheme and %q", what, err, tt.want)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: error has more than one line: %q", what, err)
				}
			}
			rep := d.Check(ctx)[0]
			if !rep.Reachable || rep.ServiceBind && tt.bindDN || !strings.Contains(rep.Error, tt.want) {
				t.Errorf("check: %+v", rep)
			}
		})
	}

	t.Run("the right scheme is not probed into an error", func(t *testing.T) {
		for _, u := range []string{srv.URL, srv.LDAPSURL} {
			cfg := jcConfig(u)
			cfg.TLS.CAFile = srv.CAFile
			rep := openDir(t, cfg).Check(ctx)[0]
			if rep.Error != "" || !rep.ServiceBind {
				t.Errorf("%s: %+v", u, rep)
			}
		}
	})
}

// TestCertificateFailureDescribesWhatTheServerPresented: with the wrong CA,
// the error and Check describe the server's certificate (subject, issuer,
// SANs, expiry), over LDAPS and StartTLS, and Check does not call the
// server unreachable.
func TestCertificateFailureDescribesWhatTheServerPresented(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ctx := context.Background()
	for _, startTLS := range []bool{false, true} {
		u := srv.LDAPSURL
		if startTLS {
			u = srv.URL
		}
		cfg := jcConfig(u)
		cfg.StartTLS = startTLS
		cfg.TLS.CAFile = srv.WrongCAFile
		d := openDir(t, cfg)
		_, err := d.Search(ctx, usersReq)
		leaf := PresentedCertificate(err)
		if leaf == nil {
			t.Fatalf("startTLS=%v: no presented certificate in %v", startTLS, err)
		}
		msg := err.Error()
		for _, want := range []string{"directory.tls.ca_file", "the server presented: subject \"" + leaf.Subject.String() + "\"",
			"issuer \"" + leaf.Issuer.String() + "\"", "SANs localhost, 127.0.0.1", "expires " + leaf.NotAfter.UTC().Format("2006-01-02")} {
			if !strings.Contains(msg, want) {
				t.Errorf("startTLS=%v: %q lacks %q", startTLS, msg, want)
			}
		}
		if errors.Is(err, ErrWrongScheme) {
			t.Errorf("startTLS=%v: a certificate failure called a wrong scheme: %v", startTLS, err)
		}
		rep := d.Check(ctx)[0]
		if !rep.Reachable || rep.PeerSubject != leaf.Subject.String() || rep.PeerIssuer == "" || len(rep.PeerSANs) == 0 || rep.PeerNotAfter.IsZero() {
			t.Errorf("startTLS=%v: check %+v", startTLS, rep)
		}
	}
	t.Run("a closed port is unreachable", func(t *testing.T) {
		cfg := jcConfig("ldaps://" + closedPort(t))
		cfg.TLS.CAFile = srv.CAFile
		rep := openDir(t, cfg).Check(ctx)[0]
		if rep.Reachable || rep.Error == "" {
			t.Errorf("check: %+v", rep)
		}
	})
}
