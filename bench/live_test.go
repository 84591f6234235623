package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// liveUsers is the directory of the live-mirror rows (BENCH_LIVE_USERS).
func liveUsers() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_LIVE_USERS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// liveChanges is how many directory changes a LiveChange row times.
const liveChanges = 50

const liveConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: openldap
  pool_size: 4
  page_size: 1000
users:
  search: {base_dn: "USERS", scope: one, filter: "(uid={username})"}
  sync_filter: "(objectClass=inetOrgPerson)"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {display_name: displayName, department: departmentNumber, title: title}
groups:
  search: {base_dn: "USERS", scope: one, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  login_source: mirror
  flags:
    is_staff: "cn=group00000,USERS"
sync:
  live: true
  live_interval: 1s
  max_removals: 100%
store: {driver: sqlite, dsn: DSN}
`

// liveEnv is a synced store with its live mirror running.
type liveEnv struct {
	s     *slapdtest.Server
	users int
	dir   *ldapdir.Dir
	store *sqlite.Store
	auth  *auth.Authenticator
	live  *dirsync.Live
}

// BenchmarkLive measures the live mirror (sync.live) against slapd with
// syncprov: how long a directory change takes to reach the store (p50 and
// p95 over 50 changes: a title, a membership added or removed, a user
// deleted or added back, in turn; see liveChanger),
// next to the raw floor of the same change reaching a bare go-ldap
// refreshAndPersist client; and logins with access.login_source: mirror
// (one bind per login, the rest from the store) next to the raw
// three-operation login floor (search, bind, group search on connections
// opened beforehand).
func BenchmarkLive(b *testing.B) {
	users := liveUsers()
	ldif := filepath.Join(b.TempDir(), "live.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, users, max(1, users/20), 3); err != nil {
		b.Fatal(err)
	}
	f.Close()
	s := slapdtest.Start(b, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif})
	e := newLiveEnv(b, s, users)
	for _, clients := range []int{1, 4} {
		p := fmt.Sprintf("ldap/clients=%d", clients)
		b.Run("MirrorLogin/raw/"+p, func(b *testing.B) { benchRawLiveLogin(b, s, users, clients) })
		b.Run("MirrorLogin/ldapbridge/"+p, func(b *testing.B) { benchMirrorLogin(b, e, clients) })
	}
	changes := &liveChanger{users: users} // shared by both rows
	b.Run(fmt.Sprintf("LiveChange/raw/changes=%d", liveChanges), func(b *testing.B) { benchRawChange(b, s, changes) })
	b.Run(fmt.Sprintf("LiveChange/ldapbridge/changes=%d", liveChanges), func(b *testing.B) { benchLiveChange(b, e, changes) })
}

func newLiveEnv(b *testing.B, s *slapdtest.Server, users int) *liveEnv {
	ctx := context.Background()
	y := strings.NewReplacer("URL", s.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.BulkUsersDN, "DSN", filepath.Join(b.TempDir(), "live.db")).Replace(liveConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dir.Close() })
	st, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	a, err := auth.New(cfg, dir, st, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	syncer, err := dirsync.New(dirsync.Options{Config: cfg, Dir: dir, Store: st, Mapper: a.Mapper()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := syncer.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full}); err != nil {
		b.Fatal(err)
	}
	live := syncer.NewLive(dirsync.LiveOptions{Interval: cfg.Sync.LiveInterval.D()})
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- live.Run(lctx) }()
	b.Cleanup(func() { cancel(); <-done })
	a.SetMirror(live)
	e := &liveEnv{s: s, users: users, dir: dir, store: st, auth: a, live: live}
	e.caughtUp(b)
	return e
}

// caughtUp waits until the live mirror is current and has applied every
// change it was told of (its first, catch-up run included), so a row
// times its own changes only.
func (e *liveEnv) caughtUp(b *testing.B) {
	deadline := time.Now().Add(time.Minute)
	for {
		lag, current := e.live.Lag()
		if current && lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the live mirror has not caught up after a minute: %+v", e.live.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func benchMirrorLogin(b *testing.B, e *liveEnv, clients int) {
	ctx := context.Background()
	mirrored := 0
	login := func(i int) error {
		i %= e.users
		uid, pw := slapdtest.BulkUserUID(i), slapdtest.BulkUserPassword(i)
		res, err := e.auth.Authenticate(ctx, uid, pw)
		if err != nil {
			return err
		}
		if res.Outcome != auth.OK {
			return fmt.Errorf("login %s: %s %s", uid, res.Outcome, res.Reason)
		}
		if res.FromMirror {
			mirrored++ // read only with clients=1 (see below)
		}
		return nil
	}
	for i := range 8 * clients { // pools filled, statements prepared
		if err := login(e.users - 1 - i); err != nil {
			b.Fatal(err)
		}
	}
	mirrored = 0
	before := e.dir.Stats()
	stop := cpuProfile(b)
	parallel(b, clients, func(_, i int) error { return login(i) })
	stop()
	after := e.dir.Stats()
	ops := (after.Searches - before.Searches) + (after.Binds - before.Binds)
	b.ReportMetric(float64(ops)/float64(b.N), "ldap-ops/login")
	if clients == 1 && mirrored != b.N {
		b.Fatalf("%d of %d logins came from the mirror; the mirror must serve them all", mirrored, b.N)
	}
}

func benchRawLiveLogin(b *testing.B, s *slapdtest.Server, users, clients int) {
	cs := openRawConns(b, s.URL, clients)
	attrs := []string{"uid", "givenName", "sn", "mail", "displayName", "departmentNumber", "title", "entryUUID"}
	parallel(b, clients, func(w, i int) error {
		i %= users
		uid, pw := slapdtest.BulkUserUID(i), slapdtest.BulkUserPassword(i)
		c := cs[w]
		return rawLogin(c.svc, c.bind, attrs, uid, pw)
	})
	b.ReportMetric(3, "ldap-ops/login")
}

// liveChanger picks and makes the changes of the LiveChange rows. The
// changes repeat, so a row runs for any -count and -benchtime: a title set
// to a new value (on a pool of its own), a membership in group00000 (the
// is_staff group) added or removed, whichever the user has not (its own
// pool), and a user deleted or added back with the attributes it had
// (its own pool). Both rows share one changer, so they go on from where
// the other left off.
type liveChanger struct {
	users int
	k     int                      // changes made so far
	saved map[int]*ldap.AddRequest // the entries of the deleted users, to add back
}

// livePool is the number of users each kind of change cycles through.
const livePool = 20

// poolUser returns the user the k-th change changes: kind's pool (users
// from the end of the directory, clear of the users the login rows sign
// in first), in turn.
func (c *liveChanger) poolUser(kind, k int) int {
	pool := min(livePool, max(1, c.users/6))
	return c.users - 1 - (kind*pool+(k/3)%pool)%c.users
}

// next makes the next change on admin and returns the user, the DN whose
// notification a raw refreshAndPersist client waits for, and whether the
// store shows the change.
func (c *liveChanger) next(b *testing.B, admin *ldap.Conn) (i int, notified string, applied func(u *ldapbridge.User, err error) bool) {
	k := c.k
	c.k++
	kind := k % 3
	i = c.poolUser(kind, k)
	dn := slapdtest.BulkUserDN(i)
	var err error
	switch kind {
	case 0:
		title := fmt.Sprintf("Title %d", k)
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace("title", []string{title})
		err = admin.Modify(m)
		applied = func(u *ldapbridge.User, err error) bool { return err == nil && u.Profile["title"] == title }
		notified = dn
	case 1:
		g := slapdtest.BulkGroupDN(0)
		res, serr := admin.Search(ldap.NewSearchRequest(g, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(member="+ldaptext.EscapeFilter(dn)+")", []string{"1.1"}, nil))
		if serr != nil {
			b.Fatal(serr)
		}
		m := ldap.NewModifyRequest(g, nil)
		member := len(res.Entries) == 0 // after the change
		if member {
			m.Add("member", []string{dn})
		} else {
			m.Delete("member", []string{dn})
		}
		err = admin.Modify(m)
		applied = func(u *ldapbridge.User, err error) bool {
			return err == nil && slices.Contains(u.Groups, "group00000") == member && u.IsStaff == member
		}
		notified = g
	default:
		if add := c.saved[i]; add != nil {
			err = admin.Add(add)
			delete(c.saved, i)
			applied = func(u *ldapbridge.User, err error) bool {
				return err == nil && u.IsActive && u.Verdict != ldapbridge.VerdictRemoved
			}
		} else {
			res, serr := admin.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"*"}, nil))
			if serr != nil || len(res.Entries) != 1 {
				b.Fatalf("read %s before deleting it: %v", dn, serr)
			}
			add := ldap.NewAddRequest(dn, nil)
			for _, a := range res.Entries[0].Attributes {
				add.Attribute(a.Name, a.Values)
			}
			if c.saved == nil {
				c.saved = map[int]*ldap.AddRequest{}
			}
			c.saved[i] = add
			err = admin.Del(ldap.NewDelRequest(dn, nil))
			applied = func(u *ldapbridge.User, err error) bool { return err == nil && u.Verdict == ldapbridge.VerdictRemoved }
		}
		notified = dn
	}
	if err != nil {
		b.Fatalf("change %d (user %d): %v", k, i, err)
	}
	return i, strings.ToLower(notified), applied
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*95+99)/100-1].Microseconds())/1000, "p95-ms")
}

// benchLiveChange times each change from the directory's answer to the
// modification until the store shows it.
func benchLiveChange(b *testing.B, e *liveEnv, changes *liveChanger) {
	ctx := context.Background()
	admin := e.s.Conn(b)
	defer admin.Close()
	e.caughtUp(b) // the raw row's changes applied
	var lat []time.Duration
	stop := cpuProfile(b)
	defer stop()
	b.ResetTimer()
	for range b.N {
		for range liveChanges {
			i, _, applied := changes.next(b, admin)
			t0 := time.Now()
			for !applied(e.store.User(ctx, slapdtest.BulkUserUID(i))) {
				if time.Since(t0) > time.Minute {
					b.Fatalf("a change to user %d is not in the store after a minute: %+v", i, e.live.Stats())
				}
				time.Sleep(time.Millisecond)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	reportLatencies(b, lat)
	st := e.live.Stats()
	b.ReportMetric(float64(st.Runs), "live-runs")
	b.ReportMetric(float64(st.Reconnects), "reconnects")
}

// benchRawChange times the same kind of changes from the directory's
// answer until a bare refreshAndPersist client has the notification.
func benchRawChange(b *testing.B, s *slapdtest.Server, changes *liveChanger) {
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(slapdtest.JCServiceDN, slapdtest.JCServicePassword); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan string, 16)
	refreshed := make(chan struct{})
	// The server's current cookie (a refreshOnly search that matches
	// nothing), so the refresh does not send every entry.
	var cookie []byte
	probe := c.Syncrepl(ctx, ldap.NewSearchRequest(slapdtest.BulkUsersDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(!(objectClass=*))", []string{"1.1"}, nil), 1, ldap.SyncRequestModeRefreshOnly, nil, false)
	for probe.Next() {
		for _, ctl := range probe.Controls() {
			if d, ok := ctl.(*ldap.ControlSyncDone); ok {
				cookie = d.Cookie
			}
		}
	}
	if err := probe.Err(); err != nil || len(cookie) == 0 {
		b.Fatalf("raw cookie: %v (%q)", err, cookie)
	}
	req := ldap.NewSearchRequest(slapdtest.BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil)
	resp := c.Syncrepl(ctx, req, 64, ldap.SyncRequestModeRefreshAndPersist, cookie, false)
	go func() {
		done := false
		for resp.Next() {
			for _, ctl := range resp.Controls() {
				switch ctl := ctl.(type) {
				case *ldap.ControlSyncInfo:
					if !done && ((ctl.RefreshDelete != nil && ctl.RefreshDelete.RefreshDone) || (ctl.RefreshPresent != nil && ctl.RefreshPresent.RefreshDone)) {
						done = true
						close(refreshed)
					}
				case *ldap.ControlSyncState:
					if done && resp.Entry() != nil {
						select {
						case seen <- strings.ToLower(resp.Entry().DN):
						case <-ctx.Done():
							return
						}
					}
				}
			}
		}
	}()
	select {
	case <-refreshed:
	case <-time.After(time.Minute):
		b.Fatal("the raw refreshAndPersist client got no refreshDone within a minute")
	}
	admin := s.Conn(b)
	defer admin.Close()
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		for range liveChanges {
			_, want, _ := changes.next(b, admin)
			t0 := time.Now()
			for got := ""; got != want; {
				select {
				case got = <-seen:
				case <-time.After(time.Minute):
					b.Fatalf("no notification for %s within a minute", want)
				}
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	reportLatencies(b, lat)
}
