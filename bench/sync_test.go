package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

const syncBenchConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: openldap
  page_size: 1000
users:
  search: {base_dn: "USERS", scope: one, filter: "(uid={username})"}
  sync_filter: "(objectClass=inetOrgPerson)"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {display_name: displayName, department: departmentNumber}
groups:
  search: {base_dn: "USERS", scope: one, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
  nested: true
store: {driver: sqlite, dsn: DSN}
`

// syncUsers is the generated directory's size; BENCH_SYNC_USERS overrides
// it (groups are one twentieth of the users).
func syncUsers() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_SYNC_USERS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// BenchmarkSync measures a full sync into an empty SQLite store and into an
// empty PostgreSQL database, a no-change full rerun and a no-change
// incremental run (SQLite) over a generated directory in slapd, each next
// to the raw floor: a go-ldap paged read of the same entries that discards
// them.
func BenchmarkSync(b *testing.B) {
	users := syncUsers()
	groups := max(1, users/20)
	ldif := filepath.Join(b.TempDir(), "bulk.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, users, groups, 1); err != nil {
		b.Fatal(err)
	}
	f.Close()
	s := slapdtest.Start(b, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif})
	time.Sleep(1100 * time.Millisecond) // incremental runs see no change within the skew margin
	name := fmt.Sprintf("users=%d", users)
	rerun, releaseRerun := primed(b, s)
	incremental, releaseIncremental := primed(b, s)
	cases := []struct {
		bench   string
		prep    func(b *testing.B) *syncEnv
		mode    dirsync.Mode
		release func()
	}{
		{"SyncFull", func(b *testing.B) *syncEnv { return newSyncEnv(b, s, "", b.Cleanup) }, dirsync.Full, func() {}},
		{"SyncFullPostgres", func(b *testing.B) *syncEnv { return newSyncEnvOn(b, s, openPostgres(b), b.Cleanup) }, dirsync.Full, func() {}},
		{"SyncRerun", rerun, dirsync.Full, releaseRerun},
		{"SyncIncremental", incremental, dirsync.Incremental, releaseIncremental},
	}
	for _, c := range cases {
		b.Run(c.bench+"/ldapbridge/"+name, func(b *testing.B) {
			var total time.Duration
			var rep *dirsync.Report
			var base float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := c.prep(b)
				base = resetPeakRSS()
				b.StartTimer()
				start := time.Now()
				stop := cpuProfile(b)
				rep, err = e.s.Run(context.Background(), dirsync.RunOptions{Mode: c.mode})
				stop()
				total += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Mode != c.mode {
					b.Fatalf("mode %s, want %s (%s)", rep.Mode, c.mode, rep.FallbackReason)
				}
			}
			read := users + groups
			if c.mode == dirsync.Incremental {
				read = groups + rep.UsersUnchanged + rep.UsersUpdated
			}
			b.ReportMetric(float64(read)*float64(b.N)/total.Seconds(), "entries/s")
			b.ReportMetric(float64(rep.LDAPSearches), "searches/op")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
			b.ReportMetric(peakRSSMB()-base, "run-RSS-MB")
		})
		if c.bench == "SyncFull" {
			b.Run(c.bench+"/ldapsearch/"+name, func(b *testing.B) { cFloor(b, s, users+groups) })
		}
		b.Run(c.bench+"/raw/"+name, func(b *testing.B) {
			filter := "(objectClass=inetOrgPerson)"
			if c.mode == dirsync.Incremental {
				filter = "(&(objectClass=inetOrgPerson)(modifyTimestamp>=" + time.Now().UTC().Format("20060102150405Z") + "))"
			}
			var n int
			base := resetPeakRSS()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				n = rawRead(b, s, "(objectClass=groupOfNames)", []string{"cn", "entryUUID", "member"}) +
					rawRead(b, s, filter, []string{"uid", "givenName", "sn", "mail", "displayName", "departmentNumber", "entryUUID"})
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "entries/s")
			b.ReportMetric(2, "searches/op")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
			b.ReportMetric(peakRSSMB()-base, "run-RSS-MB")
		})
		// The primed store of a rerun row is no part of the next rows.
		c.release()
	}
}

type syncEnv struct{ s *dirsync.Syncer }

// newSyncEnv opens a SQLite store (dsn, or a new file) and builds a Syncer
// on it; cleanup registers what closes them.
func newSyncEnv(b *testing.B, s *slapdtest.Server, dsn string, cleanup func(func())) *syncEnv {
	if dsn == "" {
		dsn = filepath.Join(b.TempDir(), "sync.db")
	}
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	return newSyncEnvOn(b, s, st, cleanup)
}

// migrator is a store with a schema to bring up to date.
type migrator interface {
	ldapbridge.Store
	Migrate(ctx context.Context) error
}

// openPostgres opens a fresh PostgreSQL database (internal/pgtest).
func openPostgres(b *testing.B) migrator {
	st, err := postgres.Open(context.Background(), pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// newSyncEnvOn migrates st and builds a Syncer on it; cleanup registers
// what closes st and the directory.
func newSyncEnvOn(b *testing.B, s *slapdtest.Server, st migrator, cleanup func(func())) *syncEnv {
	ctx := context.Background()
	cleanup(func() { st.Close() })
	y := strings.NewReplacer("URL", s.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.BulkUsersDN, "DSN", "unused").Replace(syncBenchConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cleanup(func() { dir.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	a, err := auth.New(cfg, dir, st, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	sy, err := dirsync.New(dirsync.Options{Config: cfg, Dir: dir, Store: st, Mapper: a.Mapper(), SkewMargin: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return &syncEnv{s: sy}
}

// primed returns an environment whose store already holds the directory,
// made once and reused, and the function that closes it. It outlives a
// sub-benchmark's function, which runs several times (growing b.N) with
// its cleanups after each time; the caller releases it once the rows that
// use it are done (or parent's cleanup does), so its memory is not held
// during the rows after it.
func primed(parent *testing.B, s *slapdtest.Server) (prep func(b *testing.B) *syncEnv, release func()) {
	var e *syncEnv
	var closers []func()
	release = func() {
		for _, f := range slices.Backward(closers) {
			f()
		}
		closers, e = nil, nil
	}
	parent.Cleanup(release)
	return func(b *testing.B) *syncEnv {
		if e == nil {
			e = newSyncEnv(parent, s, "", func(f func()) { closers = append(closers, f) })
			if _, err := e.s.Run(context.Background(), dirsync.RunOptions{Mode: dirsync.Full}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond)
		}
		return e
	}, release
}

// rawRead is the floor: a paged go-ldap read that discards every entry.
func rawRead(b *testing.B, s *slapdtest.Server, filter string, attrs []string) int {
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(slapdtest.JCServiceDN, slapdtest.JCServicePassword); err != nil {
		b.Fatal(err)
	}
	paging := ldap.NewControlPaging(1000)
	req := ldap.NewSearchRequest(slapdtest.BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
	n := 0
	for {
		res, err := c.Search(req)
		if err != nil {
			b.Fatal(err)
		}
		n += len(res.Entries)
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			return n
		}
		paging.SetCookie(pc.Cookie)
	}
}

// resetPeakRSS collects garbage, returns freed memory to the system and
// resets the peak resident set (Linux: /proc/self/clear_refs), so that
// peakRSSMB measures the run that follows, not the benchmark or the setup
// before it. It returns the resident set after the collection (MB): what
// the process holds before the run (the test binary's pages, slapd's
// generated data, the stores of other rows); a row's run-RSS-MB is its
// peak minus that, the memory the run itself added.
func resetPeakRSS() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return peakRSSMB() // just reset: the current resident set
}

// peakRSSMB is the process's peak resident set size since the last
// resetPeakRSS (VmHWM), or since it started where that is not readable.
func peakRSSMB() float64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}

// cFloor is the C floor: OpenLDAP's ldapsearch (ldap-utils) reading the
// same entries page by page (-E pr=1000/noprompt), its output discarded.
func cFloor(b *testing.B, s *slapdtest.Server, want int) {
	bin, err := exec.LookPath("ldapsearch")
	if err != nil {
		b.Skip("ldapsearch not installed (apt-get install ldap-utils)")
	}
	read := func(filter string, attrs ...string) int {
		args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-D", slapdtest.JCServiceDN, "-w", slapdtest.JCServicePassword,
			"-b", slapdtest.BulkUsersDN, "-s", "one", "-E", "pr=1000/noprompt", filter}, attrs...)
		cmd := exec.Command(bin, args...)
		var out dnCounter
		cmd.Stdout = &out
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("ldapsearch: %v: %s", err, stderr.String())
		}
		return out.n
	}
	start := time.Now()
	for i := 0; i < b.N; i++ {
		n := read("(objectClass=groupOfNames)", "cn", "entryUUID", "member") +
			read("(objectClass=inetOrgPerson)", "uid", "givenName", "sn", "mail", "displayName", "departmentNumber", "entryUUID")
		if n != want {
			b.Fatalf("ldapsearch read %d entries, want %d", n, want)
		}
	}
	b.ReportMetric(float64(want)*float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// dnCounter counts the entries of LDIF output: lines that start with "dn: ".
type dnCounter struct {
	n    int
	line [4]byte // the start of the current line
	pos  int
}

func (c *dnCounter) Write(p []byte) (int, error) {
	for _, ch := range p {
		if ch == '\n' {
			c.pos = 0
			continue
		}
		if c.pos < len(c.line) {
			c.line[c.pos] = ch
			if c.pos == len(c.line)-1 && string(c.line[:]) == "dn: " {
				c.n++
			}
		}
		c.pos++
	}
	return len(p), nil
}
