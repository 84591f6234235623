package demodir

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// tri is an LDAP filter result: RFC 4511 §4.5.1.7 filters are three-valued.
type tri int8

const (
	isFalse tri = iota
	isTrue
	isUndefined
)

// candidate is what a filter is evaluated against: the entry's DN and every
// attribute, operational ones included.
type candidate struct {
	dn    string
	attrs []ldapbridge.Attribute
}

func (c *candidate) values(name string) [][]byte {
	for _, a := range c.attrs {
		if canonicalAttr(a.Name) == name {
			return a.Values
		}
	}
	return nil
}

// compileFilter parses an RFC 4515 filter string into go-ldap's BER form.
func compileFilter(filter string) (*ber.Packet, error) {
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", filter, err)
	}
	return p, nil
}

// evalFilter evaluates a compiled filter against c.
func evalFilter(p *ber.Packet, c *candidate) (tri, error) {
	if p.ClassType != ber.ClassContext {
		return isUndefined, fmt.Errorf("filter: unexpected BER class %d", p.ClassType)
	}
	switch p.Tag {
	case ldap.FilterAnd:
		return evalSet(p, c, isFalse, isTrue)
	case ldap.FilterOr:
		return evalSet(p, c, isTrue, isFalse)
	case ldap.FilterNot:
		if len(p.Children) != 1 {
			return isUndefined, fmt.Errorf("filter: not must have one child")
		}
		r, err := evalFilter(p.Children[0], c)
		switch r {
		case isTrue:
			return isFalse, err
		case isFalse:
			return isTrue, err
		}
		return isUndefined, err
	case ldap.FilterPresent:
		if len(c.values(canonicalAttr(p.Data.String()))) > 0 {
			return isTrue, nil
		}
		return isFalse, nil
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return isUndefined, fmt.Errorf("filter: assertion must have two children")
		}
		attr := canonicalAttr(p.Children[0].Data.String())
		return compare(c, attr, p.Tag, p.Children[1].Data.Bytes()), nil
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return isUndefined, fmt.Errorf("filter: substrings must have two children")
		}
		return substrings(c, canonicalAttr(p.Children[0].Data.String()), p.Children[1].Children), nil
	case ldap.FilterExtensibleMatch:
		return extensible(c, p.Children), nil
	}
	return isUndefined, fmt.Errorf("filter: unknown filter type %d", p.Tag)
}

// evalSet evaluates and/or: stop is the result that decides the set (false
// for and, true for or), empty is the result of the empty set.
func evalSet(p *ber.Packet, c *candidate, stop, empty tri) (tri, error) {
	result := empty
	for _, child := range p.Children {
		r, err := evalFilter(child, c)
		if err != nil {
			return isUndefined, err
		}
		if r == stop {
			return stop, nil
		}
		if r == isUndefined {
			result = isUndefined
		}
	}
	return result, nil
}

// absent is the result of an assertion on an attribute the entry lacks:
// false for attributes the schema knows, undefined for unknown ones.
func absent(attr string) tri {
	if schemaAttrs[attr] {
		return isFalse
	}
	return isUndefined
}

func compare(c *candidate, attr string, op ber.Tag, assertion []byte) tri {
	values := c.values(attr)
	if len(values) == 0 {
		return absent(attr)
	}
	kind := attrKind(attr)
	want := normalize(kind, assertion)
	for _, v := range values {
		got := normalize(kind, v)
		var ok bool
		switch op {
		case ldap.FilterGreaterOrEqual:
			ok = order(kind, got, want) >= 0
		case ldap.FilterLessOrEqual:
			ok = order(kind, got, want) <= 0
		default:
			ok = got == want
		}
		if ok {
			return isTrue
		}
	}
	return isFalse
}

func substrings(c *candidate, attr string, parts []*ber.Packet) tri {
	values := c.values(attr)
	if len(values) == 0 {
		return absent(attr)
	}
	kind := attrKind(attr)
	for _, v := range values {
		if substringMatch(subNormalize(kind, v), parts, kind) {
			return isTrue
		}
	}
	return isFalse
}

func substringMatch(v string, parts []*ber.Packet, kind valueKind) bool {
	for _, part := range parts {
		s := subNormalize(kind, part.Data.Bytes())
		switch part.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case ldap.FilterSubstringsAny:
			i := strings.Index(v, s)
			if i < 0 {
				return false
			}
			v = v[i+len(s):]
		case ldap.FilterSubstringsFinal:
			if !strings.HasSuffix(v, s) {
				return false
			}
			v = ""
		}
	}
	return true
}

// extensible handles (attr:rule:=value) and (attr:dn:=value). Matching rules
// other than the common equality rules evaluate to undefined, as on a server
// that does not implement them.
func extensible(c *candidate, parts []*ber.Packet) tri {
	var rule, attr string
	var value []byte
	dnAttrs := false
	for _, p := range parts {
		switch p.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			rule = p.Data.String()
		case ldap.MatchingRuleAssertionType:
			attr = canonicalAttr(p.Data.String())
		case ldap.MatchingRuleAssertionMatchValue:
			value = p.Data.Bytes()
		case ldap.MatchingRuleAssertionDNAttributes:
			b, _ := p.Value.(bool)
			dnAttrs = b || bytes.Equal(p.Data.Bytes(), []byte{0xff})
		}
	}
	if attr == "" {
		return isUndefined
	}
	kind := attrKind(attr)
	switch strings.ToLower(rule) {
	case "":
	case "2.5.13.2", "caseignorematch":
		kind = kindText
	case "2.5.13.5", "caseexactmatch":
		kind = kindExact
	case "2.5.13.1", "distinguishednamematch":
		kind = kindDN
	case "2.5.13.14", "integermatch":
		kind = kindInteger
	default:
		return isUndefined
	}
	want := normalize(kind, value)
	for _, v := range c.values(attr) {
		if normalize(kind, v) == want {
			return isTrue
		}
	}
	if dnAttrs {
		if parsed, err := ldap.ParseDN(c.dn); err == nil {
			for _, rdn := range parsed.RDNs {
				for _, ava := range rdn.Attributes {
					if canonicalAttr(ava.Type) == attr && normalize(kind, []byte(ava.Value)) == want {
						return isTrue
					}
				}
			}
		}
	}
	if len(c.values(attr)) == 0 && !dnAttrs {
		return absent(attr)
	}
	return isFalse
}

type valueKind int

const (
	kindText    valueKind = iota // caseIgnoreMatch: case and surrounding/extra spaces ignored
	kindExact                    // caseExactMatch / caseExactIA5Match
	kindBinary                   // octetStringMatch
	kindDN                       // distinguishedNameMatch
	kindInteger                  // integerMatch, numeric ordering
	kindPhone                    // telephoneNumberMatch: spaces and hyphens ignored
)

var attrKinds = map[string]valueKind{
	"member": kindDN, "uniquemember": kindDN, "memberof": kindDN, "manager": kindDN,
	"owner": kindDN, "seealso": kindDN, "secretary": kindDN, "creatorsname": kindDN,
	"modifiersname": kindDN, "entrydn": kindDN, "subschemasubentry": kindDN,
	"jpegphoto": kindBinary, "photo": kindBinary, "audio": kindBinary,
	"usercertificate": kindBinary, "userpkcs12": kindBinary, "usersmimecertificate": kindBinary,
	"userpassword":  kindBinary,
	"homedirectory": kindExact, "loginshell": kindExact, "memberuid": kindExact,
	"uidnumber": kindInteger, "gidnumber": kindInteger,
	"telephonenumber": kindPhone, "mobile": kindPhone, "homephone": kindPhone,
	"pager": kindPhone, "facsimiletelephonenumber": kindPhone,
}

func attrKind(attr string) valueKind { return attrKinds[attr] }

// normalize gives the form two values are compared in.
func normalize(kind valueKind, v []byte) string {
	switch kind {
	case kindBinary, kindExact:
		return string(v)
	case kindDN:
		return dnKey(string(v))
	case kindInteger:
		return strings.TrimSpace(string(v))
	case kindPhone:
		return subNormalize(kind, v)
	}
	return strings.ToLower(strings.Join(strings.Fields(string(v)), " "))
}

// subNormalize is normalize for substring assertions, where spaces at the
// edges of a fragment are significant.
func subNormalize(kind valueKind, v []byte) string {
	switch kind {
	case kindBinary, kindExact:
		return string(v)
	case kindPhone:
		return strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(string(v)))
	}
	return strings.ToLower(string(v))
}

// order compares two normalized values: numerically for integers, else by text.
func order(kind valueKind, a, b string) int {
	if kind == kindInteger {
		x, okx := new(big.Int).SetString(a, 10)
		y, oky := new(big.Int).SetString(b, 10)
		if okx && oky {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a, b)
}
