package dirsync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// liveSettle is how long a live run waits after a notification.
const liveSettle = 50 * time.Millisecond

// DefaultLiveInterval is sync.live_interval's default.
const DefaultLiveInterval = 5 * time.Second

// LiveOptions tune a Live mirror.
type LiveOptions struct {
	// Interval is sync.live_interval: how often Active Directory's
	// highestCommittedUSN is polled, and the keep-alive of an idle
	// refreshAndPersist stream (default DefaultLiveInterval).
	Interval time.Duration
	// Run runs one sync; default Syncer.Run. The live mirror asks only for
	// incremental runs; a run whose cursor is not valid on the server it
	// reaches (another URL after a failover, changed settings) is full.
	// serve passes its sync job's, so live runs take the store's sync lock
	// and feed the metrics like any other.
	Run func(ctx context.Context, ro RunOptions) (*Report, error)
	// Lead, when set, says whether this instance may hold the live stream
	// or poll (on PostgreSQL: whether it is the sync leader). It is asked
	// before the stream opens or a poll runs, and every Interval while the
	// stream is open; losing the lead closes the stream.
	Lead func(ctx context.Context) (bool, error)
}

// LiveStats is a snapshot of a Live mirror, for metrics and the admin page.
type LiveStats struct {
	// Mode is "stream" (RFC 4533 refreshAndPersist) or "poll" (Active
	// Directory's highestCommittedUSN); empty before Run chose.
	Mode string
	// Up says the stream is open (or the last poll answered).
	Up bool
	// Lag is how long the store has been behind the directory: since the
	// oldest change notified and not yet applied; in poll mode at least
	// since the last poll that found the store current. Current is false
	// when the live mirror cannot vouch for the store (not running, not
	// connected, not leading, or its last run failed).
	Lag     time.Duration
	Current bool
	// EventsApplied counts the change notifications (stream entries, USN
	// moves) that successful live runs applied; Reconnects the times the
	// stream was opened again after it broke; Runs the live runs started.
	EventsApplied, Reconnects, Runs int64
	// LastError is the last stream, poll or run error, "" after a success.
	LastError string
}

// Live keeps the store current continuously: on a server that offers RFC
// 4533 content sync and the Directory is an ldapbridge.Persister
// (OpenLDAP's syncprov) it holds a refreshAndPersist stream open on every
// users.search and groups.search base; on Active Directory it polls the
// root DSE's highestCommittedUSN every Interval. Each change notified (an
// add, modify, rename or delete of a user or a group, a USN that moved)
// starts one live run — changes arriving during a run are applied by the
// next one. A live run after stream notifications applies the notified
// entries directly (live_apply.go): it reads them by DN, judges and writes
// them through the same applier, admission judge, removal guard and change
// log as any sync, and advances the stored cursor, at a cost that follows
// the change and not the store; what it cannot apply that way, and the
// runs after a stream opens or a poll sees the USN move, are whole
// incremental runs resuming from the stored cursor. A broken stream is
// opened again from its last cookie; a stream opened (first or again) is
// followed by one whole run, which catches up with whatever changed while
// it was closed without reading everything again.
//
// A Live is safe for concurrent use: Stats and Lag may be called while
// Run runs.
type Live struct {
	s    *Syncer
	opts LiveOptions
	wake chan struct{}

	mu      sync.Mutex
	running bool
	mode    string
	up      bool
	leading bool
	failing bool
	lastErr string
	seq     int64     // requests for a run (notifications and catch-ups)
	events  int64     // change notifications received
	applied int64     // events covered by the last successful run
	pendAt  time.Time // when the oldest unapplied notification arrived (zero: none)
	knownAt time.Time // poll mode: when the store was last known current
	// wantCSN is the newest change sequence number a stream event carried:
	// a run covers the events when the cookie it stores is at least as new.
	wantCSN  string
	stats    LiveStats
	failures int // consecutive failed runs
	behind   int // consecutive runs that did not yet see the newest event
	// pending are the stream's change notifications not yet applied, and
	// catchup says a whole incremental run is wanted (the stream opened,
	// a poll moved): a run applies pending directly only without it.
	pending []liveEvent
	catchup bool
	// refreshing is set while a stream's refresh phase runs: its changes
	// are the catch-up run's, and no run applies notifications directly.
	refreshing bool
	// cookies are the stream's newest cookies by stream base, and server
	// the URL of the server the stream is on.
	cookies map[string][]byte
	server  string
	active  activeCount
}

// NewLive returns the live mirror of s; Run starts it.
func (s *Syncer) NewLive(opts LiveOptions) *Live {
	if opts.Interval <= 0 {
		opts.Interval = DefaultLiveInterval
	}
	if opts.Run == nil {
		opts.Run = s.Run
	}
	return &Live{s: s, opts: opts, wake: make(chan struct{}, 1)}
}

// Stats returns a snapshot of l.
func (l *Live) Stats() LiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.Mode, st.Up, st.LastError = l.mode, l.up, l.lastErr
	st.Lag, st.Current = l.lagLocked(time.Now())
	return st
}

// Lag returns how far the store is behind the directory and whether the
// live mirror vouches for the store (see LiveStats).
func (l *Live) Lag() (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lagLocked(time.Now())
}

func (l *Live) lagLocked(now time.Time) (time.Duration, bool) {
	current := l.running && l.up && l.leading && !l.failing
	var lag time.Duration
	switch {
	case !l.pendAt.IsZero():
		lag = now.Sub(l.pendAt)
	case l.mode == "poll" || !current:
		if !l.knownAt.IsZero() {
			lag = now.Sub(l.knownAt)
		}
	}
	return max(lag, 0), current
}

// mark asks for a run: the store may be behind from now until a run that
// starts later succeeds. events counts the change notifications it stands
// for (0 for a catch-up).
func (l *Live) mark(events int64) {
	l.mu.Lock()
	if l.pendAt.IsZero() {
		l.pendAt = time.Now()
	}
	l.seq++
	l.events += events
	if events == 0 {
		l.catchup = true
	}
	l.mu.Unlock()
	l.poke()
}

// notified records a stream's change notification, to be applied by the
// next run, and asks for it.
func (l *Live) notified(ev ldapbridge.PersistEvent) {
	l.mu.Lock()
	csn := cookieCSN(ev.Cookie)
	l.wantCSN = max(l.wantCSN, csn)
	l.pending = append(l.pending, liveEvent{dn: ev.DN, uuid: ev.UUID, state: ev.State, csn: csn})
	l.mu.Unlock()
	l.mark(1)
}

// streamCookie records a stream's newest cookie for base.
func (l *Live) streamCookie(server, base string, cookie []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cookies == nil || l.server != server {
		l.cookies, l.server = map[string][]byte{}, server
	}
	l.cookies[base] = cookie
}

// poke asks the runner for a run.
func (l *Live) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Live) setUp(up bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up = up
	if err != nil {
		l.lastErr = err.Error()
	}
}

// ErrLiveUnsupported is Run's answer for a directory that offers neither
// RFC 4533 content sync (with a Directory that is an ldapbridge.Persister)
// nor Active Directory's highestCommittedUSN.
var ErrLiveUnsupported = errors.New("dirsync: the live mirror needs RFC 4533 content sync (OpenLDAP's syncprov overlay) or Active Directory")

// Run keeps the store current until ctx ends, then returns ctx's error; it
// returns earlier only with ErrLiveUnsupported. Run it after an initial
// sync: the first live run resumes from the stored cursor (a run without a
// usable cursor is full).
func (l *Live) Run(ctx context.Context) error {
	mode, err := l.chooseMode(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.running, l.mode, l.leading = true, mode, l.opts.Lead == nil
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running, l.up = false, false
		l.mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.runner(ctx, &wg)
	}()
	if mode == "poll" {
		l.poll(ctx)
	} else {
		l.stream(ctx)
	}
	return ctx.Err()
}

// chooseMode picks the stream or the poll for the server. Without a
// reachable server it retries every Interval until ctx ends.
func (l *Live) chooseMode(ctx context.Context) (string, error) {
	if l.s.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory {
		return "poll", nil
	}
	for {
		info, err := l.s.options.Dir.Info(ctx)
		if err == nil {
			if _, ok := l.s.options.Dir.(ldapbridge.Persister); ok && l.s.contentSyncUsable(info) {
				return "stream", nil
			}
			if info.Flavor == ldapbridge.FlavorActiveDirectory {
				return "poll", nil
			}
			return "", fmt.Errorf("%w: %s offers neither", ErrLiveUnsupported, info.URL)
		}
		l.setUp(false, err)
		l.s.log.Warn("live mirror: cannot read the root DSE; retrying", "err", err, "in", l.opts.Interval)
		if !sleepCtx(ctx, l.opts.Interval) {
			return "", ctx.Err()
		}
	}
}

// lead asks LiveOptions.Lead and records the answer.
func (l *Live) lead(ctx context.Context) bool {
	if l.opts.Lead == nil {
		return true
	}
	ok, err := l.opts.Lead(ctx)
	l.mu.Lock()
	if ok != l.leading {
		if ok {
			l.s.log.Info("live mirror: this instance now holds the live stream (sync leader)")
		} else {
			l.s.log.Info("live mirror: another instance holds the live stream (sync leader)")
		}
	}
	l.leading = ok
	if err != nil && ctx.Err() == nil {
		l.lastErr = "sync leadership: " + err.Error()
	}
	l.mu.Unlock()
	return ok && err == nil
}

// runner runs one live run per wake-up, until ctx ends. A failed run is
// retried after Interval, doubling up to 5 minutes while it fails. It
// starts the active-user counts (activeCount) in bg.
func (l *Live) runner(ctx context.Context, bg *sync.WaitGroup) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-retry:
		}
		retry = nil
		// A short settle lets a burst of changes share one run, and the
		// server finish recording the change it has just notified; a
		// whole run whose stored cookie is still older than the newest
		// notified change runs again (covers). A direct run checks each
		// entry it reads against its notification instead.
		if !sleepCtx(ctx, liveSettle) {
			return
		}
		l.mu.Lock()
		seq, events, want := l.seq, l.events, l.wantCSN
		batch, catchup := l.pending, l.catchup
		l.pending, l.catchup = nil, false
		ro := RunOptions{Mode: Incremental}
		if len(batch) > 0 && !catchup && !l.refreshing && l.mode == "stream" {
			ro.live = &liveBatch{server: l.server, events: batch, cookies: maps.Clone(l.cookies), streams: l.streamRequests(), active: &l.active}
		}
		l.stats.Runs++
		l.mu.Unlock()
		start := time.Now()
		rep, err := l.opts.Run(ctx, ro)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The next run applies these again (a whole run when this one was).
			l.mu.Lock()
			l.pending = append(batch, l.pending...)
			l.catchup = l.catchup || catchup
			l.mu.Unlock()
		}
		whole := ro.live == nil || ro.live.whole.Load()
		if err == nil && whole && want != "" && !l.covers(ctx, rep, want) && l.behindRuns() < maxBehind {
			// syncprov tells the stream of a change a moment before a
			// refresh can see it: run again shortly, applying the
			// notified entries directly when there are some (the run
			// covered what changed while the stream was closed).
			l.mu.Lock()
			if len(batch) > 0 && l.mode == "stream" {
				l.pending = append(batch, l.pending...)
			} else {
				l.catchup = true
			}
			l.behind++
			wait := min(20*time.Millisecond<<min(l.behind-1, 8), l.opts.Interval)
			l.mu.Unlock()
			retry = time.After(wait)
			continue
		}
		l.mu.Lock()
		l.behind = 0
		if err != nil {
			l.failing = true
			l.failures++
			l.lastErr = err.Error()
			wait := min(l.opts.Interval<<min(l.failures-1, 16), 5*time.Minute)
			retry = time.After(wait)
			l.mu.Unlock()
			l.s.log.Warn("live mirror: sync failed; the mirror is not current until a run succeeds", "err", err, "retry_in", wait)
			continue
		}
		if l.mode == "stream" && l.active.due(time.Now()) {
			// Count the active users for the removal guard of the direct
			// runs, beside them.
			bg.Add(1)
			go func() {
				defer bg.Done()
				if _, err := l.active.count(ctx, l.s); err != nil && ctx.Err() == nil {
					l.s.log.Warn("live mirror: cannot count the active users for sync.max_removals; the next run that removes someone counts them", "err", err)
				}
			}()
		}
		l.failing, l.failures, l.lastErr = false, 0, ""
		l.stats.EventsApplied += events - l.applied
		l.applied = events
		if l.seq == seq {
			l.pendAt = time.Time{}
			l.knownAt = start
		} else {
			l.pendAt = start // what arrived since the run took seq
		}
		l.mu.Unlock()
		if rep != nil && rep.Mode == Full {
			l.s.log.Info("live mirror: the run was full", "reason", rep.FallbackReason)
		}
	}
}

// maxBehind bounds the runs again for one notified change whose change
// sequence number the stored cookie never reaches (a cookie that does not
// carry it, such as one of several providers'): the last run stands.
const maxBehind = 10

func (l *Live) behindRuns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.behind
}

// covers reports whether the cookie the run stored is at least as new as
// the change sequence number want.
func (l *Live) covers(ctx context.Context, rep *Report, want string) bool {
	if rep == nil || rep.Server == "" {
		return true
	}
	raw, err := l.s.options.Store.SyncCursor(ctx, l.s.cursorKey(rep.Server))
	if err != nil || raw == "" {
		return true
	}
	c, err := parseCursor(raw)
	if err != nil || c.Kind != contentSyncKind {
		return true
	}
	for _, v := range c.Cookies {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && cookieCSN(b) >= want {
			return true
		}
	}
	return false
}

// cookieCSN returns the newest change sequence number in a syncprov cookie
// ("rid=000,csn=CSN[;CSN...]"), or "". CSNs sort by time as strings.
func cookieCSN(cookie []byte) string {
	newest := ""
	for _, field := range strings.Split(string(cookie), ",") {
		if v, ok := strings.CutPrefix(field, "csn="); ok {
			for _, csn := range strings.Split(v, ";") {
				if csnRE.MatchString(csn) && csn > newest {
					newest = csn
				}
			}
		}
	}
	return newest
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// poll reads the root DSE's highestCommittedUSN every Interval and asks for
// a run when it moved (and once at the start, to catch up).
func (l *Live) poll(ctx context.Context) {
	last := ""
	req := &ldapbridge.SearchRequest{Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: []string{"highestCommittedUSN"}}
	for {
		if l.lead(ctx) {
			start := time.Now()
			es, err := l.s.options.Dir.Search(ctx, req)
			usn := ""
			if err == nil && len(es) == 1 {
				usn = es[0].First("highestCommittedUSN")
			}
			if err == nil && usn == "" {
				err = errors.New("the root DSE has no highestCommittedUSN")
			}
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				l.setUp(false, fmt.Errorf("polling highestCommittedUSN: %w", err))
				last = "" // a run follows the next answer
			} else {
				l.setUp(true, nil)
				switch {
				case usn != last && last == "":
					l.mark(0) // catch up
				case usn != last:
					l.mark(1)
				default:
					l.mu.Lock()
					if l.pendAt.IsZero() && !l.failing {
						l.knownAt = start
					}
					l.mu.Unlock()
				}
				last = usn
			}
		} else {
			last = ""
		}
		if !sleepCtx(ctx, l.opts.Interval) {
			return
		}
	}
}

// stream holds the refreshAndPersist stream open, opening it again after
// it breaks (at first at once, then after up to Interval), until ctx ends.
func (l *Live) stream(ctx context.Context) {
	p := l.s.options.Dir.(ldapbridge.Persister)
	reqs := l.streamRequests()
	cookies := l.storedCookies(ctx, reqs)
	opened := false
	fresh := len(cookies) == 0 // take the server's current cookies first
	delay := 50 * time.Millisecond
	for ctx.Err() == nil {
		if !l.lead(ctx) {
			l.setUp(false, nil)
			if !sleepCtx(ctx, l.opts.Interval) {
				return
			}
			continue
		}
		if fresh {
			// Without a cookie the refresh would send every entry (and
			// meet the bind account's size limit); the catch-up run after
			// the refresh covers what changed before these cookies.
			cookies, fresh = l.freshCookies(ctx, reqs), false
		}
		if opened {
			l.mu.Lock()
			l.stats.Reconnects++
			l.mu.Unlock()
		}
		opened = true
		refreshing, withCookie := true, len(cookies) > 0
		l.mu.Lock()
		l.refreshing = true
		l.mu.Unlock()
		sctx, cancel := context.WithCancel(ctx)
		leadDone := make(chan struct{})
		go func() { // the lead is asked again every Interval
			defer close(leadDone)
			for sleepCtx(sctx, l.opts.Interval) {
				if !l.lead(sctx) && sctx.Err() == nil {
					cancel()
				}
			}
		}()
		err := p.Persist(sctx, reqs, cookies, l.opts.Interval, func(ev ldapbridge.PersistEvent) error {
			if len(ev.Cookie) > 0 {
				if cookies == nil {
					cookies = map[string][]byte{}
				}
				cookies[ev.Base] = ev.Cookie
				l.streamCookie(ev.Server, ev.Base, ev.Cookie)
			}
			switch {
			case ev.RefreshDone:
				refreshing = false
				delay = 50 * time.Millisecond
				l.setUp(true, nil)
				l.mu.Lock()
				l.lastErr, l.refreshing = "", false
				l.mu.Unlock()
				l.mark(0) // the catch-up run
			case ev.UUID != "" && ev.State != ldapbridge.SyncPresent && (!refreshing || withCookie):
				l.notified(ev)
			}
			return nil
		})
		cancel()
		<-leadDone
		if ctx.Err() != nil {
			return
		}
		if err == nil || errors.Is(err, context.Canceled) {
			l.setUp(false, nil) // the lead was lost
			continue
		}
		l.setUp(false, err)
		if errors.Is(err, ldapbridge.ErrSyncRefreshRequired) {
			// The stream starts from the server's current state; the run
			// that follows decides on its own cursor.
			cookies, fresh = nil, true
		}
		l.s.log.Warn("live mirror: the stream broke; reopening it from its last cookie", "err", err, "in", delay)
		if !sleepCtx(ctx, delay) {
			return
		}
		delay = min(2*delay, l.opts.Interval)
	}
}

// streamRequests are the stream's searches: every users.search and
// groups.search base with its scope, any entry, names only. A base inside
// another one with subtree scope is left out.
func (l *Live) streamRequests() []*ldapbridge.SearchRequest {
	type base struct {
		dn    string
		scope ldapbridge.Scope
	}
	var bases []base
	for _, s := range l.s.cfg.Users.Search {
		bases = append(bases, base{s.BaseDN, s.LDAPScope()})
	}
	for _, s := range l.s.cfg.Groups.Search {
		bases = append(bases, base{s.BaseDN, s.LDAPScope()})
	}
	norm := func(dn string) string { return strings.ToLower(strings.ReplaceAll(dn, " ", "")) }
	var out []*ldapbridge.SearchRequest
	for i, b := range bases {
		covered := false
		for j, o := range bases {
			if i == j || o.scope != ldapbridge.ScopeSub {
				continue
			}
			nb, no := norm(b.dn), norm(o.dn)
			if (nb == no && (j < i || b.scope != ldapbridge.ScopeSub)) || strings.HasSuffix(nb, ","+no) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, &ldapbridge.SearchRequest{BaseDN: b.dn, Scope: b.scope, Filter: "(objectClass=*)", Attributes: []string{"1.1"}})
		}
	}
	return out
}

// freshCookies takes the server's current content-sync cookie under each
// stream base (a base-scoped refreshOnly search that matches nothing), or
// returns nil.
func (l *Live) freshCookies(ctx context.Context, reqs []*ldapbridge.SearchRequest) map[string][]byte {
	cs, ok := l.s.options.Dir.(ldapbridge.ContentSyncer)
	if !ok {
		return nil
	}
	out := map[string][]byte{}
	for _, r := range reqs {
		req := &ldapbridge.SearchRequest{BaseDN: r.BaseDN, Scope: ldapbridge.ScopeBase, Filter: "(!(objectClass=*))", Attributes: []string{"1.1"}}
		res, err := cs.ContentSync(ctx, req, nil, func(ldapbridge.SyncBatch) error { return nil })
		if err != nil || len(res.Cookie) == 0 {
			return nil
		}
		out[r.BaseDN] = res.Cookie
	}
	return out
}

// storedCookies starts the stream from the stored content-sync cursor of
// the server it will most likely reach (the first configured URL): each
// base's own cookie, or the cookie of a users.search base (syncprov's
// cookie is the database's change state). Without one the stream starts
// from the server's current cookies (freshCookies).
func (l *Live) storedCookies(ctx context.Context, reqs []*ldapbridge.SearchRequest) map[string][]byte {
	urls := l.s.cfg.Directory.URLs
	if len(urls) == 0 {
		return nil
	}
	raw, err := l.s.options.Store.SyncCursor(ctx, l.s.cursorKey(urls[0]))
	if err != nil || raw == "" {
		return nil
	}
	c, err := parseCursor(raw)
	if err != nil || c.Kind != contentSyncKind || len(c.Cookies) == 0 {
		return nil
	}
	var any []byte
	for _, k := range slices.Sorted(maps.Keys(c.Cookies)) {
		if b, err := base64.StdEncoding.DecodeString(c.Cookies[k]); err == nil {
			any = b
			break
		}
	}
	out := map[string][]byte{}
	for _, r := range reqs {
		if b, err := base64.StdEncoding.DecodeString(c.Cookies[r.BaseDN]); err == nil && len(b) > 0 {
			out[r.BaseDN] = b
		} else if any != nil {
			out[r.BaseDN] = any
		}
	}
	return out
}

// LiveInterval returns sync.live_interval, or its default.
func LiveInterval(cfg *config.Config) time.Duration {
	if cfg.Sync.LiveInterval > 0 {
		return cfg.Sync.LiveInterval.D()
	}
	return DefaultLiveInterval
}
