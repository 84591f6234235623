package ldapdir

import (
	"context"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// plainSearch reads a search without the paged-results control (a login's
// user and group searches, base reads) with go-ldap's synchronous Search:
// for a handful of entries its asynchronous reader, a goroutine and a
// channel per search, costs more than the read itself.
func (d *Dir) plainSearch(ctx context.Context, pc *pconn, sr *ldap.SearchRequest) (page []*ldapbridge.Entry, err error) {
	start := time.Now()
	d.stats.pages.Add(1)
	var res *ldap.SearchResult
	err = runCtx(ctx, pc.c, func() error {
		var err error
		res, err = pc.c.Search(sr)
		return err
	})
	if res != nil {
		page = make([]*ldapbridge.Entry, 0, len(res.Entries))
		for _, e := range res.Entries {
			page = append(page, toEntry(e))
		}
	}
	d.stats.entries.Add(int64(len(page)))
	if err == nil && res != nil && len(res.Referrals) > 0 {
		err = newKindError(fmt.Sprintf("%s: search under %q: the server returned a referral to %s — ldapbridge does not follow referrals; search a base this server holds", pc.srv.name(), sr.BaseDN, res.Referrals[0]), nil, ldapbridge.ErrIncomplete)
	} else if err != nil {
		err = d.searchError(ctx, pc, sr, err)
	}
	d.observe("search", pc.srv.url, start, err)
	return page, err
}

// paged reports whether sr carries the paged-results control.
func paged(sr *ldap.SearchRequest) bool {
	for _, c := range sr.Controls {
		if c.GetControlType() == ldap.ControlTypePaging {
			return true
		}
	}
	return false
}
