package dirsync

import (
	"context"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// pagedRead is the full paged read: one paged search per users.search base
// with a filter, handing each page to the sink as it arrives, so a run
// never holds the whole population. Every built-in source reads a full run
// with it (users.sync_filter); modifyTimestamp and uSNChanged read their
// incremental runs with it too, with a narrower filter.
type pagedRead struct {
	dir      Directory
	search   config.Searches
	attrs    []string
	searches int
}

// readAll reads every users.search base with filter.
func (p *pagedRead) readAll(ctx context.Context, filter string, out UserSink) error {
	for _, srch := range p.search {
		req := &ldapbridge.SearchRequest{BaseDN: srch.BaseDN, Scope: srch.LDAPScope(), Filter: filter, Attributes: p.attrs}
		p.searches++
		err := p.dir.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error { return out.Entries(ctx, page) })
		if err != nil {
			return fmt.Errorf("reading users under %q with %s: %w", srch.BaseDN, filter, err)
		}
	}
	return nil
}

// Searches is the number of searches made.
func (p *pagedRead) Searches() int { return p.searches }
