package membership

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// Members returns the members a group entry lists, per the group type:
// member DNs (uniqueMember's optional #'0101'B suffix stripped), or, for
// posix groups, memberUid usernames. A posix group's primary-gidNumber
// members are not listed in the entry; see IsPrimaryGroupOf.
func (r *Resolver) Members(group *ldapbridge.Entry) (dns []string, uids []string) {
	values := group.Values(r.memberAttr)
	if r.typ == TypePosix {
		return nil, values
	}
	for _, v := range values {
		dns = append(dns, StripUID(v))
	}
	return dns, nil
}

// IsPrimaryGroupOf reports whether the group is the user's primary group,
// which the group's member values do not list: for posix groups, the
// group's gidNumber equals the user's gidNumber; on Active Directory, the
// group's objectSid is the user's domain SID followed by its
// primaryGroupID. The entries must carry GroupAttributes and
// UserAttributes. Always false for the other types.
func (r *Resolver) IsPrimaryGroupOf(group, user *ldapbridge.Entry) bool {
	k := r.PrimaryGroupKey(user)
	return k != "" && k == r.GroupPrimaryKey(group)
}

// PrimaryGroupKey returns the key of the user's primary group, as
// GroupPrimaryKey returns it for that group: the user's gidNumber for
// posix groups, the primary group's binary objectSid (PrimaryGroupSID) on
// Active Directory, or "" (no primary group, or another type). A login
// finds the same group with the same key (UserGroups), so a sync that
// reads every group joins users to their primary group locally with it,
// without a search per user.
func (r *Resolver) PrimaryGroupKey(user *ldapbridge.Entry) string {
	switch {
	case r.typ == TypePosix:
		if g := strings.TrimSpace(user.First("gidNumber")); isDigits(g) {
			return g
		}
	case r.ad:
		if sid, ok := PrimaryGroupSID(user); ok {
			return string(sid)
		}
	}
	return ""
}

// GroupPrimaryKey returns the key under which a group entry is the primary
// group of users (see PrimaryGroupKey): its gidNumber for posix groups,
// its binary objectSid on Active Directory, or "".
func (r *Resolver) GroupPrimaryKey(group *ldapbridge.Entry) string {
	switch {
	case r.typ == TypePosix:
		if g := strings.TrimSpace(group.First("gidNumber")); isDigits(g) {
			return g
		}
	case r.ad:
		return sidKey(group)
	}
	return ""
}

// PrimaryMembersTerm returns a filter term matching the users whose
// primary group is the group entry, "(gidNumber=5000)" for posix groups or
// "(primaryGroupID=1104)" (the last sub-authority of the group's objectSid)
// on Active Directory; "" when the group has no primary-group key. A
// matching user may still be in another domain: PrimaryGroupKey decides.
func (r *Resolver) PrimaryMembersTerm(group *ldapbridge.Entry) string {
	key := r.GroupPrimaryKey(group)
	switch {
	case key == "":
		return ""
	case r.typ == TypePosix:
		return "(gidNumber=" + key + ")"
	case validSID([]byte(key)):
		return "(primaryGroupID=" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32([]byte(key)[len(key)-4:])), 10) + ")"
	}
	return ""
}

// StripUID removes the optional unique identifier suffix (#'0101'B, RFC 4517
// NameAndOptionalUID) from a uniqueMember value.
func StripUID(v string) string {
	if !strings.HasSuffix(v, "'B") {
		return v
	}
	i := strings.LastIndex(v, "#'")
	if i <= 0 || v[i-1] == '\\' {
		return v
	}
	for _, c := range v[i+2 : len(v)-2] {
		if c != '0' && c != '1' {
			return v
		}
	}
	return v[:i]
}

// Contains returns a membership predicate for ldapbridge.GroupQuery.Eval:
// it reports whether a DN names one of groups, comparing normalised DNs.
func (r *Resolver) Contains(groups []Group) func(dn string) bool {
	set := make(map[string]bool, len(groups))
	for _, g := range groups {
		set[ldaptext.MustNormalizeDN(g.DN)] = true
	}
	return func(dn string) bool { return set[ldaptext.MustNormalizeDN(dn)] }
}

// GroupName returns the group's name: its name attribute's first value, or
// the value of its DN's first RDN when the attribute is missing.
func (r *Resolver) GroupName(group *ldapbridge.Entry) string {
	if n := group.First(r.nameAttr); n != "" {
		return n
	}
	return ldaptext.FirstValue(group.DN)
}

// StableID returns the group's immutable id as a string (an AD objectGUID
// in its canonical dashed form), or "" when the entry carries none.
func (r *Resolver) StableID(group *ldapbridge.Entry) string {
	for _, a := range r.stableIDs {
		raw := group.Raw(a)
		if len(raw) == 0 || len(raw[0]) == 0 {
			continue
		}
		if strings.EqualFold(a, "objectGUID") && len(raw[0]) == 16 {
			return FormatGUID(raw[0])
		}
		return string(raw[0])
	}
	return ""
}

// FormatGUID renders a 16-byte Active Directory objectGUID in the canonical
// form, whose first three fields are stored little-endian.
func FormatGUID(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:])
}

func normalize(dn string) (string, error) { return ldaptext.NormalizeDN(dn) }

// inScope reports whether the normalised DN dn lies within a search of the
// normalised base with scope.
func inScope(dn, base string, scope ldapbridge.Scope) bool {
	switch {
	case dn == base:
		return scope != ldapbridge.ScopeOne
	case base == "":
		return scope == ldapbridge.ScopeSub || !strings.Contains(dn, ",")
	case !strings.HasSuffix(dn, ","+base):
		return false
	case scope == ldapbridge.ScopeSub:
		return true
	case scope == ldapbridge.ScopeOne:
		return parent(dn) == base
	}
	return false
}

// parent returns the normalised DN's parent, splitting at the first
// unescaped comma (NormalizeDN leaves no spaces around separators).
func parent(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[i+1:]
		}
	}
	return ""
}
