package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// The content-sync types live in the root package, next to Directory, so
// that a sync can use them without importing this driver; these names
// remain for callers of ldapdir.
const ContentSyncOID = ldapbridge.ContentSyncOID

var (
	ErrSyncRefreshRequired = ldapbridge.ErrSyncRefreshRequired
	ErrSyncSizeLimit       = ldapbridge.ErrSyncSizeLimit
)

type (
	SyncState  = ldapbridge.SyncState
	SyncEntry  = ldapbridge.SyncEntry
	SyncBatch  = ldapbridge.SyncBatch
	SyncResult = ldapbridge.SyncResult
)

// The sync states of RFC 4533 section 2.3.
const (
	SyncPresent = ldapbridge.SyncPresent
	SyncAdd     = ldapbridge.SyncAdd
	SyncModify  = ldapbridge.SyncModify
	SyncDelete  = ldapbridge.SyncDelete
)

var _ ldapbridge.ContentSyncer = (*Dir)(nil)

// ContentSync runs req as an RFC 4533 refreshOnly search resuming from
// cookie (nil for the whole content) and calls fn with batches of at most
// directory.page_size entries while the server streams them. The whole
// refresh must finish within directory.request_timeout. A cookie the server
// will not resume from yields an error wrapping ErrSyncRefreshRequired
// before fn is called. A broken connection is retried once on a fresh one
// if fn has not been called.
func (d *Dir) ContentSync(ctx context.Context, req *ldapbridge.SearchRequest, cookie []byte, fn func(SyncBatch) error) (*SyncResult, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	if req.SizeLimit > 0 {
		return nil, errors.New("ldapdir: a content-sync search takes no size limit")
	}
	d.stats.searches.Add(1)
	var res *SyncResult
	err := d.withConn(ctx, d.svc, func(pc *pconn) error {
		var err error
		res, err = d.contentSyncOn(ctx, pc, req, cookie, fn)
		return err
	})
	return res, err
}

// syncStream is the state of one refresh as it is read.
type syncStream struct {
	batch     SyncBatch
	res       SyncResult
	delivered bool
	referral  string
	entries   int
}

func (s *syncStream) empty() bool {
	return len(s.batch.Entries)+len(s.batch.Deleted)+len(s.batch.Present) == 0
}

func (d *Dir) contentSyncOn(ctx context.Context, pc *pconn, req *ldapbridge.SearchRequest, cookie []byte, fn func(SyncBatch) error) (*SyncResult, error) {
	sr, _ := d.ldapRequest(req)
	sr.Controls = slices.DeleteFunc(sr.Controls, func(c ldap.Control) bool { return c.GetControlType() == ldap.ControlTypePaging })
	start := time.Now()
	d.stats.pages.Add(1)
	st := &syncStream{}
	var ferr error
	flush := func() {
		if ferr != nil || st.empty() {
			return
		}
		st.delivered = true
		ferr = fn(st.batch)
		st.batch = SyncBatch{}
	}
	err := runCtx(ctx, pc.c, func() error {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		resp := pc.c.Syncrepl(sctx, sr, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
		for resp.Next() {
			if r := resp.Referral(); r != "" && st.referral == "" {
				st.referral = r
				cancel()
			}
			if err := st.take(resp.Entry(), resp.Controls()); err != nil {
				cancel()
				return err
			}
			if len(st.batch.Entries) >= d.pageSize || len(st.batch.Deleted)+len(st.batch.Present) >= 10*d.pageSize {
				flush()
			}
			if ferr != nil {
				cancel()
				return nil
			}
		}
		return resp.Err()
	})
	if err == nil && ferr == nil {
		flush()
	}
	d.stats.entries.Add(int64(st.entries))
	switch {
	case ferr != nil:
		pc.bad = true // the server may still be streaming
		err = ferr
	case err == nil && st.referral != "":
		pc.bad = true
		err = newKindError(fmt.Sprintf("%s: content-sync search under %q: the server returned a referral to %s — referrals are not followed; search a base this server holds", pc.srv.name(), sr.BaseDN, st.referral), nil, ldapbridge.ErrIncomplete)
	case err != nil:
		err = d.contentSyncError(ctx, pc, sr, err, len(cookie) > 0 && !st.delivered)
		pc.retry = pc.bad && !st.delivered && !errors.Is(err, errTimeout)
	}
	d.observe("content_sync", pc.srv.url, start, err)
	if err != nil {
		return nil, err
	}
	return &st.res, nil
}

// take records one message of the refresh: an entry with its sync state, a
// syncInfo intermediate message, or the final syncDone.
func (s *syncStream) take(e *ldap.Entry, controls []ldap.Control) error {
	for _, c := range controls {
		switch c := c.(type) {
		case *ldap.ControlSyncState:
			if e == nil {
				continue
			}
			id := strings.ToLower(c.EntryUUID.String())
			switch SyncState(c.State) {
			case SyncPresent:
				s.batch.Present = append(s.batch.Present, id)
			case SyncDelete:
				s.batch.Deleted = append(s.batch.Deleted, id)
			default:
				s.batch.Entries = append(s.batch.Entries, SyncEntry{Entry: toEntry(e), UUID: id, State: SyncState(c.State)})
				s.entries++
			}
			if len(c.Cookie) > 0 {
				s.res.Cookie = c.Cookie
			}
			e = nil
		case *ldap.ControlSyncInfo:
			s.takeInfo(c)
		case *ldap.ControlSyncDone:
			if len(c.Cookie) > 0 {
				s.res.Cookie = c.Cookie
			}
			s.res.RefreshDeletes = c.RefreshDeletes
		}
	}
	if e != nil {
		return fmt.Errorf("content-sync entry %s arrived without a sync state control; the server does not speak RFC 4533 on this base", e.DN)
	}
	return nil
}

func (s *syncStream) takeInfo(c *ldap.ControlSyncInfo) {
	var cookie []byte
	switch {
	case c.NewCookie != nil:
		cookie = c.NewCookie.Cookie
	case c.RefreshDelete != nil:
		cookie = c.RefreshDelete.Cookie
	case c.RefreshPresent != nil:
		cookie = c.RefreshPresent.Cookie
	case c.SyncIdSet != nil:
		cookie = c.SyncIdSet.Cookie
		for _, u := range c.SyncIdSet.SyncUUIDs {
			id := strings.ToLower(u.String())
			if c.SyncIdSet.RefreshDeletes {
				s.batch.Deleted = append(s.batch.Deleted, id)
			} else {
				s.batch.Present = append(s.batch.Present, id)
			}
		}
	}
	if len(cookie) > 0 {
		s.res.Cookie = cookie
	}
}

func (d *Dir) contentSyncError(ctx context.Context, pc *pconn, sr *ldap.SearchRequest, err error, sentCookie bool) error {
	prefix := fmt.Sprintf("%s: content-sync search %s under %q: ", pc.srv.name(), sr.Filter, sr.BaseDN)
	switch {
	case ctx.Err() == nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSyncRefreshRequired):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server cannot resume from the stored cookie; a full read is needed", err, ErrSyncRefreshRequired)
	case ctx.Err() == nil && sentCookie && ldap.IsErrorAnyOf(err, ldap.LDAPResultProtocolError, ldap.LDAPResultUnwillingToPerform):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server rejects the stored cookie; a full read is needed", err, ErrSyncRefreshRequired)
	case ctx.Err() == nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server's size limit cut the content-sync read short (it is not paged); lift the size limit for the bind account (OpenLDAP: limits dn.exact=\"BIND_DN\" size=unlimited) or run a full sync", err, ldapbridge.ErrIncomplete, ErrSyncSizeLimit)
	case ctx.Err() == nil && ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server does not offer content sync (RFC 4533) on this base; enable the syncprov overlay on its database or let sync use modifyTimestamp", err, ldapbridge.ErrIncomplete)
	}
	return d.searchError(ctx, pc, sr, err)
}
