// Package ldaptext escapes values for LDAP filters (RFC 4515) and DNs
// (RFC 4514), fills {placeholder} templates with escaped values, and parses
// and compares DNs the way directories do: by component, case-insensitively.
//
// ldaptext must not import any other package of this module.
package ldaptext

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"
)

// EscapeFilter escapes a value for use inside an LDAP filter (RFC 4515):
// *, (, ), \, NUL and every non-ASCII byte become \XX.
func EscapeFilter(value string) string { return ldap.EscapeFilter(value) }

// EscapeDN escapes a value for use as an attribute value in a DN (RFC 4514).
func EscapeDN(value string) string { return ldap.EscapeDN(value) }

// Filter fills the {name} placeholders of a filter template with values
// escaped by EscapeFilter. An unknown placeholder is an error.
func Filter(template string, vars map[string]string) (string, error) {
	return fill(template, vars, EscapeFilter)
}

// DN fills the {name} placeholders of a DN template with values escaped by
// EscapeDN. An unknown placeholder is an error.
func DN(template string, vars map[string]string) (string, error) {
	return fill(template, vars, EscapeDN)
}

// Placeholders lists the {name} placeholders of a template, sorted, once each.
func Placeholders(template string) []string {
	seen := map[string]bool{}
	for rest := template; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		seen[rest[i+1:i+j]] = true
		rest = rest[i+j+1:]
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func fill(template string, vars map[string]string, escape func(string) string) (string, error) {
	var b strings.Builder
	rest := template
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		name := rest[i+1 : i+j]
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown placeholder {%s} in %q", name, template)
		}
		b.WriteString(rest[:i])
		b.WriteString(escape(v))
		rest = rest[i+j+1:]
	}
}

// ParseDN parses a DN (RFC 4514).
func ParseDN(dn string) (*ldap.DN, error) { return ldap.ParseDN(dn) }

// NormalizeDN returns a canonical form of dn for use as a map key: each
// attribute type and value lowercased, multi-valued RDNs sorted, values
// re-escaped, no spaces around separators. Two DNs that a directory treats
// as the same (cn=Sales\2C EMEA and CN=sales\, emea) normalise equally.
// It assumes case-insensitive values, true of the naming attributes
// directories use (cn, uid, ou, dc, o). An unparsable DN is an error.
func NormalizeDN(dn string) (string, error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("parse DN %q: %w", dn, err)
	}
	rdns := make([]string, len(parsed.RDNs))
	for i, rdn := range parsed.RDNs {
		avas := make([]string, len(rdn.Attributes))
		for k, a := range rdn.Attributes {
			if !validAttributeType(a.Type) {
				return "", fmt.Errorf("parse DN %q: %q is not an attribute type (a name such as cn, or an OID such as 2.5.4.3)", dn, a.Type)
			}
			avas[k] = strings.ToLower(a.Type) + "=" + EscapeDN(strings.ToLower(a.Value))
		}
		sort.Strings(avas)
		rdns[i] = strings.Join(avas, "+")
	}
	return strings.Join(rdns, ","), nil
}

// validAttributeType reports whether t is an RFC 4512 descriptor
// (cn, userPassword, x-my-attr) or numeric OID (2.5.4.3).
func validAttributeType(t string) bool {
	if t == "" {
		return false
	}
	if t[0] >= '0' && t[0] <= '9' {
		prevDot := true
		for _, c := range t {
			switch {
			case c == '.' && !prevDot:
				prevDot = true
			case c >= '0' && c <= '9':
				prevDot = false
			default:
				return false
			}
		}
		return !prevDot
	}
	for i, c := range t {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// MustNormalizeDN is NormalizeDN for DNs that came from the server; an
// unparsable one is lowercased and trimmed instead. Results are memoised
// (up to normCacheMax DNs), as the same group DNs recur on every login.
func MustNormalizeDN(dn string) string {
	if n, ok := normCache.Load(dn); ok {
		return n.(string)
	}
	n, err := NormalizeDN(dn)
	if err != nil {
		n = strings.ToLower(strings.TrimSpace(dn))
	}
	if normCacheLen.Load() < normCacheMax {
		if _, loaded := normCache.LoadOrStore(dn, n); !loaded {
			normCacheLen.Add(1)
		}
	}
	return n
}

// normCacheMax bounds the memo of MustNormalizeDN; past it, DNs are
// normalised on every call.
const normCacheMax = 20000

var (
	normCache    sync.Map
	normCacheLen atomic.Int64
)

// EqualDN reports whether two DNs name the same entry. Unparsable DNs are
// compared as lowercased strings.
func EqualDN(a, b string) bool { return MustNormalizeDN(a) == MustNormalizeDN(b) }

// FirstValue returns the value of the first (leftmost) RDN's first
// attribute, e.g. "Sales, EMEA" for cn=Sales\, EMEA,ou=Groups,dc=x.
func FirstValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}
