package demodir

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/jimlambrt/gldap"

	"github.com/ldapbridge/ldapbridge"
)

// pageState is a connection's paged search in progress (RFC 2696). Like
// OpenLDAP, a connection has at most one; starting another replaces it.
type pageState struct {
	cookie   []byte
	query    string   // the search it belongs to; a cookie is only valid for it
	keys     []string // the matching entries not yet returned
	exceeded bool     // the client's size limit cut the result short
}

// searchResult is what one search request answers: entries and a result.
type searchResult struct {
	entries []*gldap.SearchResponseEntry
	code    int
	message string
	matched string
	paging  *gldap.ControlPaging // response control, when the request was paged
}

func (s *Server) search(w *gldap.ResponseWriter, r *gldap.Request) {
	res := s.runSearch(r)
	for _, e := range res.entries {
		if err := w.Write(e); err != nil {
			return
		}
	}
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(res.code))
	if res.message != "" {
		done.SetDiagnosticMessage(res.message)
	}
	if res.matched != "" {
		done.SetMatchedDN(res.matched)
	}
	if res.paging != nil {
		done.SetControls(res.paging)
	}
	_ = w.Write(done)
}

func (s *Server) runSearch(r *gldap.Request) *searchResult {
	m, err := r.GetSearchMessage()
	if err != nil {
		return &searchResult{code: gldap.ResultProtocolError, message: err.Error()}
	}
	paging, res := requestPaging(m.Controls)
	if res != nil {
		return res
	}
	filter, err := compileFilter(m.Filter)
	if err != nil {
		return &searchResult{code: gldap.ResultProtocolError, message: err.Error()}
	}
	sel := newSelector(m.Attributes, m.TypesOnly)
	if m.BaseDN == "" && m.Scope == gldap.BaseObject {
		return s.rootDSE(r, filter, sel)
	}
	conn := r.ConnectionID()
	if !s.isBound(conn) {
		return &searchResult{code: gldap.ResultInsufficientAccessRights,
			message: "anonymous search is not allowed: bind as a user first (anonymous may read only the root DSE)"}
	}
	if paging != nil && len(paging.Cookie) > 0 {
		return s.continuePaging(r, conn, m, paging, sel)
	}
	keys, res := s.match(m, filter)
	if res != nil {
		return res
	}
	if paging != nil && (m.SizeLimit == 0 || int64(paging.PagingSize) < m.SizeLimit) {
		st := &pageState{query: queryKey(m), keys: keys}
		if m.SizeLimit > 0 && int64(len(keys)) > m.SizeLimit {
			st.keys, st.exceeded = keys[:m.SizeLimit], true
		}
		return s.nextPage(r, conn, st, paging.PagingSize, sel)
	}
	out := &searchResult{code: gldap.ResultSuccess}
	limit := int(m.SizeLimit)
	if paging == nil {
		limit = s.plainLimit(m.SizeLimit)
	}
	if limit > 0 && len(keys) > limit {
		keys, out.code = keys[:limit], gldap.ResultSizeLimitExceeded
	}
	out.entries = s.render(r, keys, sel)
	if paging != nil { // the size limit makes one page enough (RFC 2696 §3)
		out.paging = responsePaging(nil)
	}
	return out
}

// requestPaging finds the paged results control; any other control the
// request marks critical is refused, as RFC 4511 §4.1.11 requires.
func requestPaging(controls []gldap.Control) (*gldap.ControlPaging, *searchResult) {
	var paging *gldap.ControlPaging
	for _, c := range controls {
		switch c := c.(type) {
		case *gldap.ControlPaging:
			paging = c
		case *gldap.ControlString:
			if c.Criticality {
				return nil, &searchResult{code: gldap.ResultUnavailableCriticalExtension,
					message: "critical control " + c.ControlType + " is not supported"}
			}
		case *gldap.ControlManageDsaIT:
			// no referrals here, so there is nothing to manage
		default:
			return nil, &searchResult{code: gldap.ResultUnavailableCriticalExtension,
				message: "control " + c.GetControlType() + " is not supported"}
		}
	}
	return paging, nil
}

func (s *Server) plainLimit(clientLimit int64) int {
	s.mu.Lock()
	limit := s.sizeLimit
	s.mu.Unlock()
	if clientLimit > 0 && (limit == 0 || clientLimit < int64(limit)) {
		return int(clientLimit)
	}
	return limit
}

// match returns the keys of the entries in the search's scope that match
// its filter, in tree order.
func (s *Server) match(m *gldap.SearchMessage, filter *ber.Packet) ([]string, *searchResult) {
	t := s.tree
	t.mu.RLock()
	defer t.mu.RUnlock()
	baseRDNs, err := normDN(m.BaseDN)
	if err != nil {
		return nil, &searchResult{code: gldap.ResultInvalidDNSyntax, message: err.Error()}
	}
	base := t.byKey[strings.Join(baseRDNs, ",")]
	if base == nil {
		return nil, &searchResult{code: gldap.ResultNoSuchObject, matched: t.closestAncestor(baseRDNs),
			message: "no such object: " + m.BaseDN}
	}
	var keys []string
	for _, k := range t.order {
		rec := t.byKey[k]
		if !inScope(rec.rdns, baseRDNs, m.Scope) {
			continue
		}
		ok, err := evalFilter(filter, &candidate{dn: rec.dn, attrs: t.view(rec)})
		if err != nil {
			return nil, &searchResult{code: gldap.ResultProtocolError, message: err.Error()}
		}
		if ok == isTrue {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func inScope(rdns, base []string, scope gldap.Scope) bool {
	depth := len(rdns) - len(base)
	if depth < 0 {
		return false
	}
	for i := range base {
		if rdns[depth+i] != base[i] {
			return false
		}
	}
	switch scope {
	case gldap.BaseObject:
		return depth == 0
	case gldap.SingleLevel:
		return depth == 1
	}
	return true
}

func (t *tree) closestAncestor(rdns []string) string {
	for i := 1; i < len(rdns); i++ {
		if rec := t.byKey[strings.Join(rdns[i:], ",")]; rec != nil {
			return rec.dn
		}
	}
	return ""
}

// continuePaging serves the next page of the connection's paged search, or
// abandons it when the client asks for a page of size 0.
func (s *Server) continuePaging(r *gldap.Request, conn int, m *gldap.SearchMessage, paging *gldap.ControlPaging, sel selector) *searchResult {
	s.mu.Lock()
	st := s.paging[conn]
	valid := st != nil && bytes.Equal(st.cookie, paging.Cookie) && st.query == queryKey(m)
	if valid && paging.PagingSize == 0 {
		delete(s.paging, conn)
	}
	s.mu.Unlock()
	if !valid {
		return &searchResult{code: gldap.ResultProtocolError, message: "paged results cookie is invalid"}
	}
	if paging.PagingSize == 0 {
		return &searchResult{code: gldap.ResultSuccess, paging: responsePaging(nil)}
	}
	return s.nextPage(r, conn, st, paging.PagingSize, sel)
}

// nextPage returns up to size entries of st and a cookie while more remain.
func (s *Server) nextPage(r *gldap.Request, conn int, st *pageState, size uint32, sel selector) *searchResult {
	n := min(int(size), len(st.keys))
	out := &searchResult{code: gldap.ResultSuccess, entries: s.render(r, st.keys[:n], sel)}
	rest := &pageState{query: st.query, keys: st.keys[n:], exceeded: st.exceeded}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rest.keys) == 0 {
		delete(s.paging, conn)
		out.paging = responsePaging(nil)
		if rest.exceeded {
			out.code = gldap.ResultSizeLimitExceeded
		}
		return out
	}
	rest.cookie = make([]byte, 16)
	_, _ = rand.Read(rest.cookie)
	s.paging[conn] = rest
	out.paging = responsePaging(rest.cookie)
	return out
}

func responsePaging(cookie []byte) *gldap.ControlPaging {
	return &gldap.ControlPaging{PagingSize: 0, Cookie: cookie}
}

// queryKey identifies a search so a paging cookie cannot be replayed on
// another one.
func queryKey(m *gldap.SearchMessage) string {
	return fmt.Sprintf("%s\x00%d\x00%s\x00%q\x00%t", dnKey(m.BaseDN), m.Scope, m.Filter, m.Attributes, m.TypesOnly)
}

// render turns stored entries into response entries with the selected
// attributes. Entries deleted since the keys were collected are skipped.
func (s *Server) render(r *gldap.Request, keys []string, sel selector) []*gldap.SearchResponseEntry {
	t := s.tree
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*gldap.SearchResponseEntry, 0, len(keys))
	for _, k := range keys {
		rec := t.byKey[k]
		if rec == nil {
			continue
		}
		out = append(out, sel.entry(r, rec.dn, t.view(rec)))
	}
	return out
}

// rootDSE answers the base-scope search of the empty DN, open to anyone.
func (s *Server) rootDSE(r *gldap.Request, filter *ber.Packet, sel selector) *searchResult {
	attrs := []ldapbridge.Attribute{
		{Name: "objectClass", Values: toRaw([]string{"top", "OpenLDAProotDSE"})},
		{Name: "namingContexts", Values: toRaw([]string{SuffixDN})},
		{Name: "supportedControl", Values: toRaw([]string{gldap.ControlTypePaging})},
		{Name: "supportedLDAPVersion", Values: toRaw([]string{"3"})},
		{Name: "vendorName", Values: toRaw([]string{VendorName})},
		{Name: "subschemaSubentry", Values: toRaw([]string{"cn=Subschema"})},
	}
	ok, err := evalFilter(filter, &candidate{attrs: attrs})
	if err != nil {
		return &searchResult{code: gldap.ResultProtocolError, message: err.Error()}
	}
	out := &searchResult{code: gldap.ResultSuccess}
	if ok == isTrue {
		out.entries = []*gldap.SearchResponseEntry{sel.entry(r, "", attrs)}
	}
	return out
}

// selector decides which attributes a search returns: all user attributes
// for none or "*", all operational ones for "+", and any named ones.
type selector struct {
	user, ops bool
	names     map[string]bool
	typesOnly bool
}

func newSelector(attrs []string, typesOnly bool) selector {
	sel := selector{user: len(attrs) == 0, names: map[string]bool{}, typesOnly: typesOnly}
	for _, a := range attrs {
		switch a {
		case "*":
			sel.user = true
		case "+":
			sel.ops = true
		default:
			sel.names[canonicalAttr(a)] = true
		}
	}
	return sel
}

func (sel selector) wants(name string) bool {
	c := canonicalAttr(name)
	switch {
	case sel.names[c]:
		return true
	case operational[c] || isRootDSEAttr(c):
		return sel.ops
	}
	return sel.user
}

func isRootDSEAttr(c string) bool {
	switch c {
	case "namingcontexts", "supportedcontrol", "supportedldapversion", "vendorname":
		return true
	}
	return false
}

func (sel selector) entry(r *gldap.Request, dn string, attrs []ldapbridge.Attribute) *gldap.SearchResponseEntry {
	e := r.NewSearchResponseEntry(dn)
	for _, a := range attrs {
		if !sel.wants(a.Name) {
			continue
		}
		values := []string{}
		if !sel.typesOnly {
			values = make([]string, len(a.Values))
			for i, v := range a.Values {
				values[i] = string(v)
			}
		}
		e.AddAttribute(a.Name, values)
	}
	return e
}
