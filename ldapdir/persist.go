package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

var _ ldapbridge.Persister = (*Dir)(nil)

// persistMsg is what a stream's reader goroutine hands to Persist's loop.
type persistMsg struct {
	stream int
	ev     ldapbridge.PersistEvent
	done   bool // the stream's refresh phase ended
	end    bool // the stream ended; err says why
	err    error
}

// Persist runs reqs as RFC 4533 refreshAndPersist searches on a connection
// of its own (see ldapbridge.Persister). The connection has no request
// timeout: the searches never end by themselves. The keep-alive (a root
// DSE read) runs only while no message arrived for keepAlive, and must be
// answered within directory.request_timeout.
func (d *Dir) Persist(ctx context.Context, reqs []*ldapbridge.SearchRequest, cookies map[string][]byte, keepAlive time.Duration, fn func(ldapbridge.PersistEvent) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if len(reqs) == 0 {
		return errors.New("ldapdir: Persist needs at least one search request")
	}
	for _, r := range reqs {
		if err := validateRequest(r); err != nil {
			return err
		}
	}
	c, s, err := d.dialAny(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := d.serviceBind(ctx, c, s); err != nil {
		return err
	}
	c.SetTimeout(0)
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(sctx, func() { c.Close() })
	defer stop()

	msgs := make(chan persistMsg)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // runs before wg.Wait: the readers stop sending
	for i, req := range reqs {
		sr, _ := d.ldapRequest(req)
		sr.Controls = slices.DeleteFunc(sr.Controls, func(c ldap.Control) bool { return c.GetControlType() == ldap.ControlTypePaging })
		d.stats.searches.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.readPersist(sctx, c, i, sr, cookies[req.BaseDN], s.url, msgs)
		}()
	}

	refreshing := len(reqs)
	last := time.Now()
	var tick <-chan time.Time
	if keepAlive > 0 {
		// Ticking at half the interval sends a keep-alive between one and
		// one and a half intervals after the last message.
		t := time.NewTicker(max(keepAlive/2, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	kaBusy := false
	kaDone := make(chan error, 1)
	for {
		select {
		case <-sctx.Done():
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				return cause
			}
			return ctx.Err()
		case now := <-tick:
			if kaBusy || now.Sub(last) < keepAlive {
				continue
			}
			kaBusy = true
			go func() { kaDone <- d.keepAlive(sctx, c) }()
		case err := <-kaDone:
			kaBusy = false
			if err != nil {
				cancel(newKindError(fmt.Sprintf("%s: the live stream's keep-alive (a root DSE read every %s) failed: %v — reconnecting", s.name(), keepAlive, err), err, ldapbridge.ErrUnavailable))
				continue
			}
			last = time.Now()
		case m := <-msgs:
			last = time.Now()
			if m.end {
				return d.persistError(ctx, s, reqs[m.stream], m.err)
			}
			if m.done {
				if refreshing--; refreshing > 0 {
					continue
				}
				m.ev.RefreshDone = true
			}
			if err := fn(m.ev); err != nil {
				return err
			}
		}
	}
}

// readPersist reads one refreshAndPersist search and sends its messages.
func (d *Dir) readPersist(ctx context.Context, c *ldap.Conn, i int, sr *ldap.SearchRequest, cookie []byte, url string, out chan<- persistMsg) {
	send := func(m persistMsg) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	resp := c.Syncrepl(ctx, sr, 64, ldap.SyncRequestModeRefreshAndPersist, cookie, false)
	for resp.Next() {
		if r := resp.Referral(); r != "" {
			send(persistMsg{stream: i, end: true, err: fmt.Errorf("the server returned a referral to %s — referrals are not followed", r)})
			return
		}
		ev := ldapbridge.PersistEvent{Server: url, Base: sr.BaseDN}
		done := false
		e := resp.Entry()
		for _, ctl := range resp.Controls() {
			switch ctl := ctl.(type) {
			case *ldap.ControlSyncState:
				ev.State = SyncState(ctl.State)
				ev.UUID = strings.ToLower(ctl.EntryUUID.String())
				if e != nil {
					ev.DN = e.DN
				}
				ev.Cookie = ctl.Cookie
			case *ldap.ControlSyncInfo:
				switch {
				case ctl.NewCookie != nil:
					ev.Cookie = ctl.NewCookie.Cookie
				case ctl.RefreshDelete != nil:
					ev.Cookie, done = ctl.RefreshDelete.Cookie, ctl.RefreshDelete.RefreshDone
				case ctl.RefreshPresent != nil:
					ev.Cookie, done = ctl.RefreshPresent.Cookie, ctl.RefreshPresent.RefreshDone
				case ctl.SyncIdSet != nil:
					ev.Cookie = ctl.SyncIdSet.Cookie
				}
			case *ldap.ControlSyncDone:
				ev.Cookie = ctl.Cookie
			}
		}
		if !send(persistMsg{stream: i, ev: ev, done: done}) {
			return
		}
	}
	err := resp.Err()
	if err == nil && ctx.Err() == nil {
		err = errors.New("the server ended the persistent search")
	}
	send(persistMsg{stream: i, end: true, err: err})
}

// keepAlive reads the root DSE on c, within the request timeout.
func (d *Dir) keepAlive(ctx context.Context, c *ldap.Conn) error {
	kctx, cancel := context.WithTimeout(ctx, d.requestTimeout)
	defer cancel()
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil)
	d.stats.searches.Add(1)
	r := c.SearchAsync(kctx, req, 1)
	for r.Next() {
	}
	if kctx.Err() != nil {
		return fmt.Errorf("no answer within %s", d.requestTimeout)
	}
	return r.Err()
}

// persistError words the end of a stream.
func (d *Dir) persistError(ctx context.Context, s *server, req *ldapbridge.SearchRequest, err error) error {
	prefix := fmt.Sprintf("%s: live stream (refreshAndPersist) under %q: ", s.name(), req.BaseDN)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSyncRefreshRequired):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server cannot resume from the stream's cookie", err, ErrSyncRefreshRequired)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension):
		return newKindError(prefix+ldapDiagnostic(err)+" — the server does not offer content sync (RFC 4533) on this base; enable the syncprov overlay", err, ldapbridge.ErrIncomplete)
	}
	return newKindError(prefix+fmt.Sprint(err)+" — reconnecting", err, ldapbridge.ErrUnavailable)
}
