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
// p95 over 50 changes: a title, a membership added, a deletion, in turn),
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
	next := 0 // users changed so far, across rows
	b.Run(fmt.Sprintf("LiveChange/raw/changes=%d", liveChanges), func(b *testing.B) { benchRawChange(b, s, &next) })
	b.Run(fmt.Sprintf("LiveChange/ldapbridge/changes=%d", liveChanges), func(b *testing.B) { benchLiveChange(b, e, &next) })
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
	deadline := time.Now().Add(time.Minute)
	for !live.Stats().Current {
		if time.Now().After(deadline) {
			b.Fatalf("the live mirror is not current after a minute: %+v", live.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &liveEnv{s: s, users: users, dir: dir, store: st, auth: a, live: live}
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
	dial := func() *ldap.Conn {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	cs := make([]rawConns, clients)
	for i := range cs {
		svc := dial()
		defer svc.Close()
		if err := svc.Bind(slapdtest.JCServiceDN, slapdtest.JCServicePassword); err != nil {
			b.Fatal(err)
		}
		bind := dial()
		defer bind.Close()
		cs[i] = rawConns{svc, bind}
	}
	attrs := []string{"uid", "givenName", "sn", "mail", "displayName", "departmentNumber", "title", "entryUUID"}
	parallel(b, clients, func(w, i int) error {
		i %= users
		uid, pw := slapdtest.BulkUserUID(i), slapdtest.BulkUserPassword(i)
		c := cs[w]
		return rawLogin(c.svc, c.bind, attrs, uid, pw)
	})
	b.ReportMetric(3, "ldap-ops/login")
}

// liveChange is the k-th change of a LiveChange row: the LDIF applied to
// user i, and whether the store shows it.
func liveChange(k, i int) (ldif string, applied func(u *ldapbridge.User, err error) bool) {
	dn := slapdtest.BulkUserDN(i)
	switch k % 3 {
	case 0:
		title := fmt.Sprintf("Title %d", k)
		return "dn: " + dn + "\nchangetype: modify\nreplace: title\ntitle: " + title + "\n\n",
			func(u *ldapbridge.User, err error) bool { return err == nil && u.Profile["title"] == title }
	case 1:
		g := slapdtest.BulkGroupDN(0)
		return "dn: " + g + "\nchangetype: modify\nadd: member\nmember: " + dn + "\n\n",
			func(u *ldapbridge.User, err error) bool { return err == nil && slices.Contains(u.Groups, "group00000") }
	default:
		return "dn: " + dn + "\nchangetype: delete\n\n",
			func(u *ldapbridge.User, err error) bool { return err == nil && u.Verdict == ldapbridge.VerdictRemoved }
	}
}

// changeUser picks the next user a change row changes (from the end of
// the directory, clear of the users the login rows sign in first, and not
// already in group00000).
func changeUser(b *testing.B, e *slapdtest.Server, users int, next *int) int {
	for *next < users/2 {
		i := users - 1 - *next
		*next++
		c := e.Conn(b)
		res, err := c.Search(ldap.NewSearchRequest(slapdtest.BulkGroupDN(0), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(member="+ldaptext.EscapeFilter(slapdtest.BulkUserDN(i))+")", []string{"1.1"}, nil))
		c.Close()
		if err == nil && len(res.Entries) == 0 {
			return i
		}
	}
	b.Fatal("no user left to change; raise BENCH_LIVE_USERS")
	return 0
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*95+99)/100-1].Microseconds())/1000, "p95-ms")
}

// benchLiveChange times each change from the directory's answer to the
// modification until the store shows it.
func benchLiveChange(b *testing.B, e *liveEnv, next *int) {
	ctx := context.Background()
	admin := e.s.Conn(b)
	defer admin.Close()
	var lat []time.Duration
	stop := cpuProfile(b)
	defer stop()
	b.ResetTimer()
	for range b.N {
		for k := range liveChanges {
			i := changeUser(b, e.s, e.users, next)
			ldif, applied := liveChange(k, i)
			if err := applyLDIF(admin, ldif); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			for !applied(e.store.User(ctx, slapdtest.BulkUserUID(i))) {
				if time.Since(t0) > time.Minute {
					b.Fatalf("change %d (user %d) not in the store after a minute: %+v", k, i, e.live.Stats())
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
}

// benchRawChange times the same kind of changes from the directory's
// answer until a bare refreshAndPersist client has the notification.
func benchRawChange(b *testing.B, s *slapdtest.Server, next *int) {
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
		for k := range liveChanges {
			i := changeUser(b, s, liveUsers(), next)
			ldif, _ := liveChange(k, i)
			if err := applyLDIF(admin, ldif); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			want := strings.ToLower(slapdtest.BulkUserDN(i))
			if k%3 == 1 {
				want = strings.ToLower(slapdtest.BulkGroupDN(0))
			}
			for got := ""; got != want; {
				select {
				case got = <-seen:
				case <-time.After(time.Minute):
					b.Fatalf("change %d: no notification for %s", k, want)
				}
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// applyLDIF applies one change record (modify with one replace or add,
// or delete) on c.
func applyLDIF(c *ldap.Conn, ldif string) error {
	var dn, kind, attr, val, op string
	for _, line := range strings.Split(strings.TrimSpace(ldif), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "dn":
			dn = v
		case "changetype":
			kind = v
		case "replace", "add":
			op, attr = k, v
		default:
			if k == attr {
				val = v
			}
		}
	}
	if kind == "delete" {
		return c.Del(ldap.NewDelRequest(dn, nil))
	}
	m := ldap.NewModifyRequest(dn, nil)
	if op == "replace" {
		m.Replace(attr, []string{val})
	} else {
		m.Add(attr, []string{val})
	}
	return c.Modify(m)
}
