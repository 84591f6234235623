package membership

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
)

// RangeStep is how many values one ranged read of a member attribute asks
// for: Active Directory's default MaxValRange.
const RangeStep = 1500

// PrimaryGroupSID returns the binary objectSid of an Active Directory user's
// primary group: the domain SID (the user's objectSid without its last
// sub-authority) followed by primaryGroupID. ok is false when the entry
// lacks either attribute or they are malformed.
func PrimaryGroupSID(user *ldapbridge.Entry) (sid []byte, ok bool) {
	own := user.Raw("objectSid")
	rid, err := strconv.ParseUint(strings.TrimSpace(user.First("primaryGroupID")), 10, 32)
	if len(own) == 0 || err != nil || !validSID(own[0]) {
		return nil, false
	}
	sid = append([]byte(nil), own[0]...)
	binary.LittleEndian.PutUint32(sid[len(sid)-4:], uint32(rid))
	return sid, true
}

func validSID(b []byte) bool {
	return len(b) >= 12 && b[0] == 1 && b[1] > 0 && len(b) == 8+4*int(b[1])
}

// FormatSID renders a binary SID as S-1-5-21-...; "" when malformed.
func FormatSID(b []byte) string {
	if !validSID(b) {
		return ""
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := "S-1-" + strconv.FormatUint(auth, 10)
	for i := 8; i < len(b); i += 4 {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[i:])), 10)
	}
	return s
}

// primaryTerm is the filter term matching the user's primary group by
// objectSid (every byte escaped), or "" when the resolver is not on Active
// Directory or the user carries no primary group.
func (r *Resolver) primaryTerm(user *ldapbridge.Entry) string {
	if !r.ad {
		return ""
	}
	sid, ok := PrimaryGroupSID(user)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString("(objectSid=")
	for _, x := range sid {
		fmt.Fprintf(&b, "\\%02x", x)
	}
	b.WriteString(")")
	return b.String()
}

// markPrimary records which resolved group is the user's primary group.
func (st *state) markPrimary(user *ldapbridge.Entry) {
	sid, ok := PrimaryGroupSID(user)
	if !ok {
		return
	}
	for _, n := range st.byKey {
		if n.sid != "" && n.sid == string(sid) {
			n.group.Direct = true
			st.res.PrimaryGroupDN = n.group.DN
		}
	}
}

// ReadMembers reads every value of a group's member attribute with
// Active Directory's ranged retrieval: member;range=0-1499, then from the
// end of each returned range until a range ending in "*". A server that
// answers with the plain attribute ends the loop at once. Each read is one
// base search, recorded in the returned queries.
func (r *Resolver) ReadMembers(ctx context.Context, s ldapbridge.Searcher, groupDN string) ([]string, []Query, error) {
	return r.readRanges(ctx, s, groupDN, 0, nil, nil)
}

// CompleteMembers returns the member DNs of a group entry read by a sync,
// following a ranged member attribute (member;range=0-1499, as Active
// Directory sends for large groups) with further ranged reads.
func (r *Resolver) CompleteMembers(ctx context.Context, s ldapbridge.Searcher, group *ldapbridge.Entry) ([]string, error) {
	vals, next, done := rangedValues(group, r.memberAttr)
	if done {
		dns, _ := r.Members(group)
		if len(vals) > 0 {
			dns = stripAll(vals)
		}
		return dns, nil
	}
	all, _, err := r.readRanges(ctx, s, group.DN, next, vals, nil)
	return stripAll(all), err
}

func (r *Resolver) readRanges(ctx context.Context, s ldapbridge.Searcher, dn string, low int, acc []string, queries []Query) ([]string, []Query, error) {
	for {
		attr := fmt.Sprintf("%s;range=%d-%d", r.memberAttr, low, low+RangeStep-1)
		req := &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: []string{attr}}
		entries, err := s.Search(ctx, req)
		queries = append(queries, Query{BaseDN: dn, Scope: "base", Filter: req.Filter + " " + attr, Entries: len(entries)})
		if err != nil {
			return acc, queries, fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if len(entries) == 0 {
			return acc, queries, fmt.Errorf("read %s of %s: %w", attr, dn, ldapbridge.ErrNotFound)
		}
		vals, next, done := rangedValues(entries[0], r.memberAttr)
		acc = append(acc, vals...)
		if done {
			return acc, queries, nil
		}
		if next <= low {
			return acc, queries, fmt.Errorf("read %s of %s: the server returned a range that does not advance: %w", attr, dn, ldapbridge.ErrIncomplete)
		}
		low = next
	}
}

// rangedValues finds attr or attr;range=L-H on e. It returns the values,
// the next range's start, and done when the values are the last ones (a
// range ending in "*", the plain attribute, or neither present).
func rangedValues(e *ldapbridge.Entry, attr string) (vals []string, next int, done bool) {
	prefix := strings.ToLower(attr) + ";range="
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, v := range a.Values {
			vals = append(vals, string(v))
		}
		lo, hi, ok := strings.Cut(name[len(prefix):], "-")
		if !ok || hi == "*" {
			return vals, 0, true
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || h < l {
			return vals, 0, true
		}
		return vals, h + 1, false
	}
	return e.Values(attr), 0, true
}

func stripAll(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = StripUID(v)
	}
	return out
}

// sidKey returns the entry's objectSid as a map key, or "".
func sidKey(e *ldapbridge.Entry) string {
	if raw := e.Raw("objectSid"); len(raw) > 0 {
		return string(raw[0])
	}
	return ""
}
