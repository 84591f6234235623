package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// URLReport is what Check found for one configured server.
type URLReport struct {
	Index     int    `json:"index"`
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	// TLS is "TLS 1.3, TLS_AES_128_GCM_SHA256", or "" for plain LDAP.
	TLS          string    `json:"tls,omitempty"`
	PeerSubject  string    `json:"peer_subject,omitempty"`
	PeerIssuer   string    `json:"peer_issuer,omitempty"`
	PeerNotAfter time.Time `json:"peer_not_after,omitzero"`
	// PeerSANs are the DNS names and IP addresses of the certificate.
	// The Peer fields are also filled when the certificate failed
	// verification: they say what the server presented.
	PeerSANs []string `json:"peer_sans,omitempty"`
	// ServiceBind is true when the service account (or anonymous) bind worked.
	ServiceBind bool              `json:"service_bind"`
	Flavor      ldapbridge.Flavor `json:"flavor,omitempty"`
	Vendor      string            `json:"vendor,omitempty"`
	// Domain, NetBIOSDomain and the functional levels (e.g. "4 (Windows
	// Server 2008 R2)") are Active Directory's; empty elsewhere.
	Domain              string `json:"domain,omitempty"`
	NetBIOSDomain       string `json:"netbios_domain,omitempty"`
	DomainFunctionality string `json:"domain_functionality,omitempty"`
	ForestFunctionality string `json:"forest_functionality,omitempty"`
	// Error names what failed and the fix; "" when all went well.
	Error string `json:"error,omitempty"`
	Err   error  `json:"-"`
}

// Check dials every configured server independently of the pools and of
// their up/down marks, and reports reachability, TLS details, the service
// bind and the root DSE flavor for each.
func (d *Dir) Check(ctx context.Context) []URLReport {
	out := make([]URLReport, len(d.servers))
	for i, s := range d.servers {
		out[i] = d.checkServer(ctx, s)
	}
	return out
}

func (d *Dir) checkServer(ctx context.Context, s *server) URLReport {
	r := URLReport{Index: s.index, URL: s.url}
	fail := func(err error) URLReport {
		r.Err = err
		r.Error = err.Error()
		return r
	}
	c, err := d.dialServer(ctx, s)
	d.markServer(s, err)
	if err != nil {
		// A TLS or protocol failure came after the server answered.
		r.Reachable = Connected(err)
		if leaf := PresentedCertificate(err); leaf != nil {
			fillLeaf(&r, leaf)
		}
		return fail(err)
	}
	defer c.Close()
	r.Reachable = true
	if st, ok := c.TLSConnectionState(); ok {
		fillPeer(&r, st)
	}
	if err := d.serviceBind(ctx, c, s); err != nil {
		return fail(err)
	}
	r.ServiceBind = true
	info, err := d.readInfo(ctx, &pconn{c: c, srv: s})
	if err != nil {
		return fail(err)
	}
	r.Flavor, r.Vendor = info.Flavor, info.Vendor
	if info.Flavor == ldapbridge.FlavorActiveDirectory {
		r.Domain, r.NetBIOSDomain = info.DNSDomain, info.NetBIOSDomain
		r.DomainFunctionality = FunctionalLevel(info.DomainFunctionality)
		r.ForestFunctionality = FunctionalLevel(info.ForestFunctionality)
	}
	return r
}

func fillPeer(r *URLReport, st tls.ConnectionState) {
	r.TLS = describeTLS(st)
	if len(st.PeerCertificates) > 0 {
		fillLeaf(r, st.PeerCertificates[0])
	}
}

func fillLeaf(r *URLReport, leaf *x509.Certificate) {
	r.PeerSubject = leaf.Subject.String()
	r.PeerIssuer = leaf.Issuer.String()
	r.PeerNotAfter = leaf.NotAfter
	r.PeerSANs = SANs(leaf)
}
