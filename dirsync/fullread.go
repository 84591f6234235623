package dirsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
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

// fullReadKind is the cursor kind of the full-read source: it resumes from
// nothing.
const fullReadKind = "full"

// fullReadSource is the full paged read as a ChangeSource of its own: every
// run reads every user with users.sync_filter and removes whom it did not
// see. It is for directories that track no changes a sync can use; the
// built-in choice never needs it, as every built-in source reads full runs
// the same way.
type fullReadSource struct {
	pagedRead
	syncFilter string
}

// NewFullReadSource returns an Options.NewSource that makes every run a
// full paged read of cfg's users.search bases with users.sync_filter,
// requesting the attributes m maps.
func NewFullReadSource(cfg *config.Config, m *auth.Mapper) func(Directory) ChangeSource {
	return func(dir Directory) ChangeSource {
		return &fullReadSource{pagedRead: pagedRead{dir: dir, search: cfg.Users.Search, attrs: m.Attributes()}, syncFilter: cfg.Users.SyncFilter}
	}
}

func (*fullReadSource) Kind() string { return fullReadKind }

func (f *fullReadSource) Open(ctx context.Context) (Directory, *ldapbridge.ServerInfo, error) {
	info, err := f.dir.Info(ctx)
	f.searches++
	if err != nil {
		return nil, nil, fmt.Errorf("reading the server's root DSE: %w", err)
	}
	return f.dir, info, nil
}

func (*fullReadSource) Incremental() error {
	return errors.New("the full-read source tracks no changes; every run reads everyone")
}

func (*fullReadSource) Resume(*Cursor) error {
	return errors.New("the full-read source has no cursor to resume from")
}

func (f *fullReadSource) Read(ctx context.Context, _ *Cursor, out UserSink) error {
	return f.readAll(ctx, orEverything(f.syncFilter), out)
}

func (*fullReadSource) Checkpoint(next *Cursor) { next.Kind = fullReadKind }

func (*fullReadSource) Close() error { return nil }
