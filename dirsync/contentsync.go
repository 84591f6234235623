package dirsync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// contentSyncKind is the cursor kind of RFC 4533 content-sync runs.
const contentSyncKind = "contentSync"

// ContentSyncer runs RFC 4533 refreshOnly searches; *ldapdir.Dir does. A
// Directory that implements it, on an OpenLDAP or JumpCloud server whose
// root DSE lists the sync request control, gets content-sync incremental
// runs, which also report deletions.
type ContentSyncer = ldapbridge.ContentSyncer

// contentSyncSource is RFC 4533 content sync (OpenLDAP's syncprov). Its
// cursor holds one cookie per users.search base. A full run takes the
// cookies before its paged read (one base-scoped refreshOnly search per
// base that matches nothing), so changes made during the read come again
// next time. An incremental run sends each cookie in one refreshOnly
// search with users.sync_filter; deletions arrive as entryUUIDs (sync state
// delete, or a syncIdSet with refreshDeletes), or, when the server answers
// with the present phase, as the users in the base's scope it did not
// report present. The refresh is one unpaged search: it must finish within
// directory.request_timeout and is subject to the bind account's size
// limit; a refused cookie or the size limit makes the run full.
type contentSyncSource struct {
	pagedRead
	syncer     ldapbridge.ContentSyncer
	info       *ldapbridge.ServerInfo // read by the chooser
	syncFilter string
	dryRun     bool      // a dry run takes no cookies
	start      time.Time // the modifyTimestamp kept beside the cookies
	// cookies are the next run's, per users.search base DN, base64.
	cookies map[string]string
}

func (*contentSyncSource) Kind() string { return contentSyncKind }

func (c *contentSyncSource) Open(context.Context) (Directory, *ldapbridge.ServerInfo, error) {
	return c.dir, c.info, nil
}

func (*contentSyncSource) Incremental() error { return nil }

// Resume checks that the cursor holds a usable cookie for every base.
func (c *contentSyncSource) Resume(since *Cursor) error {
	for _, srch := range c.search {
		raw, ok := since.Cookies[srch.BaseDN]
		if !ok {
			return fmt.Errorf("the stored content-sync cursor has no cookie for users.search base %q", srch.BaseDN)
		}
		if _, err := decodeCookie(raw); err != nil {
			return fmt.Errorf("the stored content-sync cookie for %q is not usable (%v)", srch.BaseDN, err)
		}
	}
	return nil
}

func (c *contentSyncSource) Read(ctx context.Context, since *Cursor, out UserSink) error {
	if since == nil {
		c.takeCookies(ctx, out)
		return c.readAll(ctx, c.syncFilter, out)
	}
	for _, srch := range c.search {
		if err := c.refresh(ctx, srch.BaseDN, srch.LDAPScope(), since.Cookies[srch.BaseDN], out); err != nil {
			return err
		}
	}
	return nil
}

// refresh resumes the refresh of one base from its stored cookie and hands
// the entries, deletions and (after a present phase) the present set to out.
func (c *contentSyncSource) refresh(ctx context.Context, base string, scope ldapbridge.Scope, stored string, out UserSink) error {
	cookie, _ := decodeCookie(stored) // checked by Resume
	req := &ldapbridge.SearchRequest{BaseDN: base, Scope: scope, Filter: c.syncFilter, Attributes: c.attrs}
	var present []string
	c.searches++
	res, err := c.syncer.ContentSync(ctx, req, cookie, func(b ldapbridge.SyncBatch) error {
		entries := make([]*ldapbridge.Entry, len(b.Entries))
		for i, se := range b.Entries {
			entries[i] = se.Entry
			present = append(present, se.UUID)
		}
		deleted := make([]string, len(b.Deleted))
		for i, id := range b.Deleted {
			deleted[i] = strings.ToLower(id)
		}
		out.Deleted(deleted...)
		present = append(present, b.Present...)
		return out.Entries(ctx, entries)
	})
	if errors.Is(err, ldapbridge.ErrSyncRefreshRequired) || errors.Is(err, ldapbridge.ErrSyncSizeLimit) {
		return err
	}
	if err != nil {
		return fmt.Errorf("content-sync read of users under %q: %w", base, err)
	}
	c.cookies[base] = stored
	if len(res.Cookie) > 0 {
		c.cookies[base] = base64.StdEncoding.EncodeToString(res.Cookie)
	}
	if !res.RefreshDeletes {
		out.Present(base, scope, present)
	}
	return nil
}

// takeCookies asks the server for its current content-sync state under
// each users.search base with a base-scoped search that matches nothing.
// Without a cookie the run still completes; the next one is then full.
func (c *contentSyncSource) takeCookies(ctx context.Context, out UserSink) {
	if c.dryRun {
		return
	}
	c.cookies = map[string]string{}
	for _, srch := range c.search {
		b := srch.BaseDN
		req := &ldapbridge.SearchRequest{BaseDN: b, Scope: ldapbridge.ScopeBase, Filter: "(!(objectClass=*))", Attributes: []string{"1.1"}}
		c.searches++
		res, err := c.syncer.ContentSync(ctx, req, nil, func(ldapbridge.SyncBatch) error { return nil })
		if err == nil {
			if _, verr := decodeCookie(base64.StdEncoding.EncodeToString(res.Cookie)); verr != nil {
				err = verr
			}
		}
		if err != nil {
			out.Warn(fmt.Sprintf("could not take a content-sync cookie under %q (%v); the next run will be full", b, err))
			c.cookies = nil
			return
		}
		c.cookies[b] = base64.StdEncoding.EncodeToString(res.Cookie)
	}
}

// Checkpoint stores the run's cookies; without one for every base the
// cursor is a modifyTimestamp one, which makes the next run full.
func (c *contentSyncSource) Checkpoint(next *Cursor) {
	next.Kind, next.TS = modTimeKind, generalized(c.start)
	if len(c.cookies) == len(c.search) {
		next.Kind, next.Cookies = contentSyncKind, c.cookies
	}
}

func (*contentSyncSource) Close() error { return nil }

// csnRE is an OpenLDAP change sequence number.
var csnRE = regexp.MustCompile(`^[0-9]{14}\.[0-9]{6}Z#[0-9a-f]{6}#[0-9a-f]{3}#[0-9a-f]{6}$`)

// decodeCookie returns a stored cookie's bytes. RFC 4533 cookies are
// opaque, but syncprov answers a cookie without a valid CSN with the whole
// content and no word of deletions, so such a cookie is refused here.
func decodeCookie(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	csns := 0
	for _, field := range strings.Split(string(b), ",") {
		v, ok := strings.CutPrefix(field, "csn=")
		if !ok {
			continue
		}
		for _, csn := range strings.Split(v, ";") {
			if !csnRE.MatchString(csn) {
				return nil, fmt.Errorf("%q is not an OpenLDAP CSN", csn)
			}
			csns++
		}
	}
	if csns == 0 {
		return nil, errors.New("it holds no change sequence number")
	}
	return b, nil
}
