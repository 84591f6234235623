package membership

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// fakeDir is an in-memory Searcher: it records every request and answers it
// by evaluating the filter (AND, OR, NOT, equality, presence and AD's
// in-chain rule) over its entries. Values that look like DNs compare as
// normalised DNs, others case-insensitively.
type fakeDir struct {
	entries  []*ldapbridge.Entry
	requests []ldapbridge.SearchRequest
	fail     error
	norm     map[string]string
}

func newFake(entries ...*ldapbridge.Entry) *fakeDir {
	return &fakeDir{entries: entries, norm: map[string]string{}}
}

func (f *fakeDir) normDN(dn string) string {
	if n, ok := f.norm[dn]; ok {
		return n
	}
	n := ldaptext.MustNormalizeDN(dn)
	f.norm[dn] = n
	return n
}

func (f *fakeDir) Search(_ context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	f.requests = append(f.requests, *req)
	if f.fail != nil {
		return nil, f.fail
	}
	flt, rest, err := parseFilter(req.Filter)
	if err != nil || rest != "" {
		return nil, fmt.Errorf("fake: bad filter %q: %v (rest %q)", req.Filter, err, rest)
	}
	base := f.normDN(req.BaseDN)
	var out []*ldapbridge.Entry
	for _, e := range f.entries {
		if inScope(f.normDN(e.DN), base, req.Scope) && f.match(flt, e) {
			out = append(out, project(e, req.Attributes))
		}
	}
	return out, nil
}

func (f *fakeDir) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	es, err := f.Search(ctx, req)
	if err != nil {
		return err
	}
	return fn(es)
}

// project keeps only the requested attributes, as a server would.
func project(e *ldapbridge.Entry, attrs []string) *ldapbridge.Entry {
	if attrs == nil {
		return e
	}
	out := &ldapbridge.Entry{DN: e.DN}
	for _, a := range attrs {
		if v := e.Raw(a); v != nil {
			out.SetRaw(a, v...)
		}
	}
	return out
}

type filterNode struct {
	op    byte // '&', '|', '!', '=', '*' (presence), 'c' (in-chain)
	attr  string
	value string
	subs  []filterNode
}

func parseFilter(s string) (filterNode, string, error) {
	if !strings.HasPrefix(s, "(") {
		return filterNode{}, s, fmt.Errorf("want ( at %q", s)
	}
	s = s[1:]
	if s != "" && (s[0] == '&' || s[0] == '|' || s[0] == '!') {
		n := filterNode{op: s[0]}
		s = s[1:]
		for strings.HasPrefix(s, "(") {
			sub, rest, err := parseFilter(s)
			if err != nil {
				return n, rest, err
			}
			n.subs = append(n.subs, sub)
			s = rest
		}
		if !strings.HasPrefix(s, ")") {
			return n, s, fmt.Errorf("want ) at %q", s)
		}
		return n, s[1:], nil
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return filterNode{}, s, fmt.Errorf("unterminated item")
	}
	item, rest := s[:end], s[end+1:]
	eq := strings.IndexByte(item, '=')
	if eq < 0 {
		return filterNode{}, rest, fmt.Errorf("no = in %q", item)
	}
	attr, raw := item[:eq], item[eq+1:]
	if raw == "*" {
		return filterNode{op: '*', attr: attr}, rest, nil
	}
	value, err := unescapeFilter(raw)
	if err != nil {
		return filterNode{}, rest, err
	}
	if strings.HasSuffix(attr, ":"+InChainRule+":") {
		return filterNode{op: 'c', attr: strings.TrimSuffix(attr, ":"+InChainRule+":"), value: value}, rest, nil
	}
	if strings.ContainsAny(attr, ":~<>") || strings.Contains(raw, "*") {
		return filterNode{}, rest, fmt.Errorf("fake: unsupported item %q", item)
	}
	return filterNode{op: '=', attr: attr, value: value}, rest, nil
}

func unescapeFilter(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("short escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func (f *fakeDir) match(n filterNode, e *ldapbridge.Entry) bool {
	switch n.op {
	case '&':
		for _, s := range n.subs {
			if !f.match(s, e) {
				return false
			}
		}
		return true
	case '|':
		for _, s := range n.subs {
			if f.match(s, e) {
				return true
			}
		}
		return false
	case '!':
		return !f.match(n.subs[0], e)
	case '*':
		return strings.EqualFold(n.attr, "objectClass") || e.Has(n.attr)
	case 'c':
		return f.inChain(n.attr, n.value, e, map[string]bool{})
	}
	for _, v := range e.Values(n.attr) {
		if f.equal(v, n.value) {
			return true
		}
	}
	return false
}

func (f *fakeDir) equal(stored, asserted string) bool {
	if strings.EqualFold(stored, asserted) {
		return true
	}
	if !strings.Contains(asserted, "=") {
		return false
	}
	return f.normDN(StripUID(stored)) == f.normDN(asserted)
}

// inChain reports whether dn is in e's attr values, directly or through
// groups that are.
func (f *fakeDir) inChain(attr, dn string, e *ldapbridge.Entry, seen map[string]bool) bool {
	key := f.normDN(e.DN)
	if seen[key] {
		return false
	}
	seen[key] = true
	for _, v := range e.Values(attr) {
		if f.equal(v, dn) {
			return true
		}
		for _, sub := range f.entries {
			if f.normDN(sub.DN) == f.normDN(v) && f.inChain(attr, dn, sub, seen) {
				return true
			}
		}
	}
	return false
}
