package ldapdir

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// adCapability is LDAP_CAP_ACTIVE_DIRECTORY_OID.
const adCapability = "1.2.840.113556.1.4.800"

var rootDSEAttributes = []string{
	"namingContexts", "supportedControl", "supportedExtension", "supportedCapabilities",
	"supportedLDAPVersion", "vendorName", "vendorVersion", "objectClass", "structuralObjectClass",
	"forestFunctionality", "domainFunctionality", "defaultNamingContext", "dnsHostName",
	"highestCommittedUSN", "contextCSN", "configurationNamingContext",
}

// Info reads the root DSE of the server the service pool is using, and
// contextCSN of each naming context where the bind account may read it.
// The configured directory.flavor wins over detection unless it is auto.
func (d *Dir) Info(ctx context.Context) (*ldapbridge.ServerInfo, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	var info *ldapbridge.ServerInfo
	err := d.withConn(ctx, d.svc, func(pc *pconn) error {
		var err error
		info, err = d.readInfo(ctx, pc)
		return err
	})
	return info, err
}

func (d *Dir) readInfo(ctx context.Context, pc *pconn) (*ldapbridge.ServerInfo, error) {
	var root *ldapbridge.Entry
	req := &ldapbridge.SearchRequest{Scope: ldapbridge.ScopeBase, Attributes: rootDSEAttributes}
	err := d.searchOn(ctx, pc, req, func(page []*ldapbridge.Entry) error {
		root = page[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if root == nil {
		root = &ldapbridge.Entry{}
	}
	info := RootDSEInfo(root, pc.srv.host(), d.cfg.Flavor)
	info.URL = pc.srv.url
	if info.Flavor == ldapbridge.FlavorActiveDirectory {
		d.ad.Store(true)
		info.NetBIOSDomain = d.netBIOSDomain(ctx, pc, root.First("configurationNamingContext"), info.DefaultNamingContext)
	}
	if st, ok := pc.c.TLSConnectionState(); ok {
		info.TLS = describeTLS(st)
	}
	if len(info.ContextCSN) == 0 && info.Flavor != ldapbridge.FlavorActiveDirectory {
		for _, nc := range info.NamingContexts {
			var csn []string
			creq := &ldapbridge.SearchRequest{BaseDN: nc, Scope: ldapbridge.ScopeBase, Attributes: []string{"contextCSN"}, SizeLimit: 1}
			err := d.searchOn(ctx, pc, creq, func(page []*ldapbridge.Entry) error {
				csn = page[0].Values("contextCSN")
				return nil
			})
			if err != nil && pc.bad {
				return nil, err
			}
			info.ContextCSN = append(info.ContextCSN, csn...)
		}
	}
	return info, nil
}

// RootDSEInfo turns a root DSE entry read from host into a ServerInfo. configured is
// directory.flavor: anything but auto (or empty) is used as is; otherwise
// the flavor is detected with DetectFlavor.
func RootDSEInfo(root *ldapbridge.Entry, host string, configured ldapbridge.Flavor) *ldapbridge.ServerInfo {
	info := &ldapbridge.ServerInfo{
		NamingContexts:       root.Values("namingContexts"),
		SupportedControl:     root.Values("supportedControl"),
		SupportedExtension:   root.Values("supportedExtension"),
		DefaultNamingContext: root.First("defaultNamingContext"),
		DNSHostName:          root.First("dnsHostName"),
		DomainFunctionality:  root.First("domainFunctionality"),
		ForestFunctionality:  root.First("forestFunctionality"),
		HighestCommittedUSN:  root.First("highestCommittedUSN"),
		ContextCSN:           root.Values("contextCSN"),
	}
	info.DNSDomain = dnsDomain(info.DefaultNamingContext)
	info.Vendor = strings.TrimSpace(root.First("vendorName") + " " + root.First("vendorVersion"))
	info.Flavor = configured
	if configured == "" || configured == ldapbridge.FlavorAuto {
		info.Flavor = DetectFlavor(root, host)
	}
	return info
}

// DetectFlavor guesses the server kind from its root DSE and host name:
// Active Directory by its capability OID or forestFunctionality; JumpCloud
// by a host under jumpcloud.com or naming contexts all under
// dc=jumpcloud,dc=com (a server that also holds other suffixes is not
// JumpCloud's service); 389-DS by vendorName; OpenLDAP by its
// OpenLDAProotDSE object class. It returns FlavorAuto when unsure.
func DetectFlavor(root *ldapbridge.Entry, host string) ldapbridge.Flavor {
	if contains(root.Values("supportedCapabilities"), adCapability) || root.Has("forestFunctionality") {
		return ldapbridge.FlavorActiveDirectory
	}
	if isJumpCloudHost(host) || isJumpCloudHost(root.First("dnsHostName")) {
		return ldapbridge.FlavorJumpCloud
	}
	if ncs := root.Values("namingContexts"); len(ncs) > 0 {
		all := true
		for _, nc := range ncs {
			all = all && isJumpCloudDN(nc)
		}
		if all {
			return ldapbridge.FlavorJumpCloud
		}
	}
	if strings.Contains(root.First("vendorName"), "389") {
		return ldapbridge.Flavor389DS
	}
	for _, oc := range root.Values("objectClass") {
		if strings.EqualFold(oc, "OpenLDAProotDSE") {
			return ldapbridge.FlavorOpenLDAP
		}
	}
	if strings.Contains(strings.ToLower(root.First("vendorName")), "openldap") {
		return ldapbridge.FlavorOpenLDAP
	}
	return ldapbridge.FlavorAuto
}

// netBIOSDomain reads the domain's NetBIOS name from its crossRef under
// CN=Partitions of the configuration partition; "" when unreadable.
func (d *Dir) netBIOSDomain(ctx context.Context, pc *pconn, configNC, domainNC string) string {
	if configNC == "" || domainNC == "" {
		return ""
	}
	var name string
	req := &ldapbridge.SearchRequest{BaseDN: "CN=Partitions," + configNC, Scope: ldapbridge.ScopeOne,
		Filter: "(&(objectClass=crossRef)(nCName=" + ldap.EscapeFilter(domainNC) + "))", Attributes: []string{"nETBIOSName"}, SizeLimit: 1}
	_ = d.searchOn(ctx, pc, req, func(page []*ldapbridge.Entry) error {
		name = page[0].First("nETBIOSName")
		return nil
	})
	return name
}

// dnsDomain turns DC=corp,DC=example,DC=com into corp.example.com; "" when
// the DN has other attribute types.
func dnsDomain(dn string) string {
	if dn == "" {
		return ""
	}
	var labels []string
	for _, rdn := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "dc") {
			return ""
		}
		labels = append(labels, strings.TrimSpace(v))
	}
	return strings.ToLower(strings.Join(labels, "."))
}

// FunctionalLevel names an AD domain or forest functionality value, e.g.
// "4" → "4 (Windows Server 2008 R2)"; unknown values are returned as is.
func FunctionalLevel(v string) string {
	names := map[string]string{"0": "Windows 2000", "1": "Windows Server 2003 interim", "2": "Windows Server 2003",
		"3": "Windows Server 2008", "4": "Windows Server 2008 R2", "5": "Windows Server 2012",
		"6": "Windows Server 2012 R2", "7": "Windows Server 2016"}
	if n, ok := names[v]; ok {
		return v + " (" + n + ")"
	}
	return v
}

func isJumpCloudHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return h == "jumpcloud.com" || strings.HasSuffix(h, ".jumpcloud.com")
}

// isJumpCloudDN reports whether a naming context ends in dc=jumpcloud,dc=com.
func isJumpCloudDN(dn string) bool {
	n := strings.ReplaceAll(strings.ToLower(dn), " ", "")
	return n == "dc=jumpcloud,dc=com" || strings.HasSuffix(n, ",dc=jumpcloud,dc=com")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
