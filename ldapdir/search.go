package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// DomainScopeOID is LDAP_SERVER_DOMAIN_SCOPE_OID, the Active Directory
// control that stops a search from returning referrals to other partitions
// or domains. Searches carry it (non-critical) once the flavor is
// active_directory.
const DomainScopeOID = "1.2.840.113556.1.4.1339"

// errTimeout marks go-ldap's request timeout, which a retry would only repeat.
var errTimeout = errors.New("request timeout")

// Search returns every entry matching req, reading it page by page as the
// service account. When the result is incomplete (size limit, referral) the
// entries read so far are returned with an error wrapping ErrIncomplete.
func (d *Dir) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	var out []*ldapbridge.Entry
	err := d.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// SearchPages runs req with the paged-results control (directory.page_size)
// and calls fn once per page, holding one page in memory at a time. A
// request with SizeLimit > 0, or a root DSE read, is one plain search. A
// broken connection is retried once on a fresh one if fn has not been called.
func (d *Dir) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func(page []*ldapbridge.Entry) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := validateRequest(req); err != nil {
		return err
	}
	d.stats.searches.Add(1)
	return d.withConn(ctx, d.svc, func(pc *pconn) error {
		return d.searchOn(ctx, pc, req, fn)
	})
}

// withConn runs f on a service or auth connection, retrying once on a fresh
// connection when f says a retry may help.
func (d *Dir) withConn(ctx context.Context, p *pool, f func(pc *pconn) error) error {
	for attempt := 0; ; attempt++ {
		pc, err := p.get(ctx, attempt > 0)
		if err != nil {
			return err
		}
		err = f(pc)
		// Read what f learnt before put: once pc is back in the pool,
		// another goroutine may take it and reset it.
		retry := pc.retry
		p.put(pc)
		if err == nil || attempt > 0 || !retry || ctx.Err() != nil {
			return err
		}
		d.stats.retries.Add(1)
		d.log.Debug("retrying on a fresh connection", "pool", p.name, "error", err.Error())
	}
}

func validateRequest(req *ldapbridge.SearchRequest) error {
	if req == nil {
		return errors.New("ldapdir: nil search request")
	}
	if req.Filter != "" {
		if _, err := ldap.CompileFilter(req.Filter); err != nil {
			return fmt.Errorf("search filter %q is not valid LDAP filter syntax (RFC 4515): %w", req.Filter, err)
		}
	}
	if req.SizeLimit < 0 {
		return fmt.Errorf("search size limit %d is negative", req.SizeLimit)
	}
	return nil
}

func isRootDSE(req *ldapbridge.SearchRequest) bool {
	return req.BaseDN == "" && req.Scope == ldapbridge.ScopeBase
}

func (d *Dir) ldapRequest(req *ldapbridge.SearchRequest) (*ldap.SearchRequest, *ldap.ControlPaging) {
	filter := req.Filter
	if filter == "" {
		filter = "(objectClass=*)"
	}
	attrs := req.Attributes
	if isRootDSE(req) && attrs == nil {
		attrs = []string{"*", "+"}
	}
	scope := ldap.ScopeWholeSubtree
	switch req.Scope {
	case ldapbridge.ScopeBase:
		scope = ldap.ScopeBaseObject
	case ldapbridge.ScopeOne:
		scope = ldap.ScopeSingleLevel
	}
	timeLimit := int((d.requestTimeout + time.Second - 1) / time.Second)
	sr := ldap.NewSearchRequest(req.BaseDN, scope, ldap.NeverDerefAliases, req.SizeLimit, timeLimit, false, filter, attrs, nil)
	if isRootDSE(req) {
		return sr, nil
	}
	if d.ad.Load() {
		// A subtree search from an AD domain root returns continuation
		// references to the Configuration and DNS partitions, which hold no
		// users or groups; this control asks the DC to leave them out.
		sr.Controls = append(sr.Controls, ldap.NewControlString(DomainScopeOID, false, ""))
	}
	if req.SizeLimit > 0 || req.Scope == ldapbridge.ScopeBase || req.Few {
		// At most one entry, or a handful: the paged-results control
		// would only cost (searchOn pages a Few search the server's size
		// limit cut short).
		return sr, nil
	}
	return sr, d.addPaging(sr)
}

// addPaging adds the paged-results control (directory.page_size) to sr.
func (d *Dir) addPaging(sr *ldap.SearchRequest) *ldap.ControlPaging {
	paging := ldap.NewControlPaging(uint32(d.pageSize))
	sr.Controls = append(sr.Controls, paging)
	return paging
}

// searchOn runs the whole (paged) search on one connection, with the extra
// request controls. It sets pc.bad when the connection must not be reused
// and pc.retry when a fresh connection may succeed.
func (d *Dir) searchOn(ctx context.Context, pc *pconn, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error, extra ...ldap.Control) error {
	sr, paging := d.ldapRequest(req)
	sr.Controls = append(sr.Controls, extra...)
	delivered := false
	for {
		page, cookie, err := d.onePage(ctx, pc, sr)
		if err != nil && paging == nil && req.Few && req.SizeLimit == 0 && req.Scope != ldapbridge.ScopeBase &&
			!pc.bad && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			// More entries than the server returns unpaged: read them
			// again, paged; nothing of the cut result was delivered.
			paging = d.addPaging(sr)
			continue
		}
		if err != nil && pc.bad {
			// A broken connection: drop the partial page; a fresh
			// connection may succeed if nothing was delivered yet.
			pc.retry = !delivered && !errors.Is(err, errTimeout)
			return err
		}
		if len(page) > 0 {
			delivered = true
			if ferr := fn(page); ferr != nil {
				pc.bad = pc.bad || len(cookie) > 0 // abandon the server's paging state
				return ferr
			}
		}
		if err != nil {
			return err
		}
		if paging == nil || len(cookie) == 0 {
			return nil
		}
		paging.SetCookie(cookie)
	}
}

// onePage reads one page. It returns the next paging cookie (empty at the end).
func (d *Dir) onePage(ctx context.Context, pc *pconn, sr *ldap.SearchRequest) (page []*ldapbridge.Entry, cookie []byte, err error) {
	if !paged(sr) {
		page, err = d.plainSearch(ctx, pc, sr)
		return page, nil, err
	}
	start := time.Now()
	d.stats.pages.Add(1)
	var referral string
	err = runCtx(ctx, pc.c, func() error {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		resp := pc.c.SearchAsync(sctx, sr, 64)
		for resp.Next() {
			if r := resp.Referral(); r != "" && referral == "" {
				referral = r
				cancel()
			}
			if e := resp.Entry(); e != nil {
				page = append(page, toEntry(e))
			}
			if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				cookie = c.Cookie
			}
		}
		return resp.Err()
	})
	d.stats.entries.Add(int64(len(page)))
	if err == nil && referral != "" {
		pc.bad = true
		err = newKindError(fmt.Sprintf("%s: search under %q: the server returned a referral to %s — ldapbridge does not follow referrals; search a base this server holds", pc.srv.name(), sr.BaseDN, referral), nil, ldapbridge.ErrIncomplete)
	} else if err != nil {
		err = d.searchError(ctx, pc, sr, err)
	}
	d.observe("search", pc.srv.url, start, err)
	return page, cookie, err
}

func (d *Dir) searchError(ctx context.Context, pc *pconn, sr *ldap.SearchRequest, err error) error {
	op := fmt.Sprintf("search %s under %q", sr.Filter, sr.BaseDN)
	prefix := pc.srv.name() + ": " + op + ": "
	switch {
	case ctx.Err() != nil:
		pc.bad = true
		return fmt.Errorf("%s%w", prefix, ctx.Err())
	case isTimeout(err):
		pc.bad = true
		return newKindError(prefix+fmt.Sprintf("no answer within %s — raise directory.request_timeout or narrow the search", d.requestTimeout), err, ldapbridge.ErrUnavailable, ldapbridge.ErrNoAnswer, errTimeout)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server's size limit cut the result short; use a paged search (no size limit) or raise the limit for the bind account", err, ldapbridge.ErrIncomplete)
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server stopped the search early", err, ldapbridge.ErrIncomplete)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultReferral):
		return newKindError(prefix+ldapDiagnostic(err)+" — ldapbridge does not follow referrals; search a base this server holds", err, ldapbridge.ErrIncomplete)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return newKindError(prefix+ldapDiagnostic(err)+" — the base DN does not exist; check the search's base_dn", err, ldapbridge.ErrNotFound)
	case isNetworkError(err):
		pc.bad = true
	}
	return d.opError(ctx, pc.srv, op, err, false)
}

func toEntry(e *ldap.Entry) *ldapbridge.Entry {
	out := &ldapbridge.Entry{DN: e.DN, Attributes: make([]ldapbridge.Attribute, 0, len(e.Attributes))}
	for _, a := range e.Attributes {
		out.Attributes = append(out.Attributes, ldapbridge.Attribute{Name: a.Name, Values: a.ByteValues})
	}
	return out
}
