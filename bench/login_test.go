package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// The login directory: loginSynced users that a sync puts in the store
// (user000000 …), then loginFresh users that only ever sign in (user100000
// …, when loginSynced is 100,000), which a first-login row signs in one
// after the other, each for the first time.
const loginFresh = 20000

// loginSynced is the population synced into the "store already holds it"
// rows; BENCH_SYNC_USERS overrides it as it does the sync benchmark's.
func loginSynced() int { return syncUsers() }

const loginConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: openldap
  pool_size: 4
  page_size: 1000
  tls: {ca_file: "CAFILE"}
users:
  search: {base_dn: "USERS", scope: one, filter: "(uid={username})"}
  sync_filter: "SYNCFILTER"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {display_name: displayName, department: departmentNumber}
groups:
  search: {base_dn: "USERS", scope: one, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  flags:
    is_staff: "cn=group00000,USERS"
store: {driver: sqlite, dsn: DSN}
`

// loginEnv is the directory and the prepared stores the login rows share.
type loginEnv struct {
	s       *slapdtest.Server
	synced  int
	full    string // a closed SQLite file holding the synced population
	tlsConf *tls.Config
}

func (e *loginEnv) url(scheme string) string {
	if scheme == "ldaps" {
		return e.s.LDAPSURL
	}
	return e.s.URL
}

// config returns the login configuration for the scheme and store file.
func (e *loginEnv) config(b testing.TB, scheme, dsn string) *config.Config {
	// Only the synced population: the fresh users (whole blocks of 10,000
	// uids, userNN....) sign in later.
	var not []string
	for k := e.synced / 10000; k < (e.synced+loginFresh)/10000; k++ {
		not = append(not, fmt.Sprintf("(uid=user%02d*)", k))
	}
	syncFilter := "(&(objectClass=inetOrgPerson)(!(|" + strings.Join(not, "") + ")))"
	y := strings.NewReplacer("URL", e.url(scheme), "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.BulkUsersDN, "DSN", dsn, "CAFILE", e.s.CAFile, "SYNCFILTER", syncFilter).Replace(loginConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// loginFreshStart is the index of the first user never synced.
func loginFreshStart(synced int) int { return synced }

// BenchmarkLogin measures full logins (find user, check password, read
// groups, policy, store write) against slapd over ldap:// and ldaps:// by
// 1 and 4 clients: first logins (each creates its account) into an empty
// store and into one that already holds the synced population, and
// re-logins of accounts that exist. Next to them the raw floor: the same
// three LDAP operations with go-ldap on connections opened beforehand.
// Each row reports p50-ms (one login's median latency) and logins/s.
func BenchmarkLogin(b *testing.B) {
	synced := loginSynced()
	if synced%10000 != 0 {
		b.Fatalf("BENCH_SYNC_USERS=%d: the login benchmark needs a multiple of 10000", synced)
	}
	groups := max(1, (synced+loginFresh)/20)
	ldif := filepath.Join(b.TempDir(), "login.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, synced+loginFresh, groups, 2); err != nil {
		b.Fatal(err)
	}
	f.Close()
	e := &loginEnv{s: slapdtest.Start(b, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif}), synced: synced}
	pem, err := os.ReadFile(e.s.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	e.tlsConf = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	e.full = e.syncedStore(b)
	for _, scheme := range []string{"ldap", "ldaps"} {
		for _, clients := range []int{1, 4} {
			p := fmt.Sprintf("%s/clients=%d", scheme, clients)
			b.Run("raw/"+p, func(b *testing.B) { benchRawLogin(b, e, scheme, clients) })
			b.Run("first/ldapbridge/"+p, func(b *testing.B) { benchLogin(b, e, scheme, clients, firstLogin, "") })
			b.Run("first100k/ldapbridge/"+p, func(b *testing.B) { benchLogin(b, e, scheme, clients, firstLogin, e.full) })
			b.Run("relogin/ldapbridge/"+p, func(b *testing.B) { benchLogin(b, e, scheme, clients, reLogin, "") })
		}
	}
}

// syncedStore syncs the synced population into a new SQLite file once and
// returns its path, closed, for each first100k row to copy.
func (e *loginEnv) syncedStore(b *testing.B) string {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "synced.db")
	cfg := e.config(b, "ldap", path)
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
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
	rep, err := sy.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if err != nil {
		b.Fatal(err)
	}
	if rep.UsersCreated != e.synced {
		b.Fatalf("synced %d users, want %d", rep.UsersCreated, e.synced)
	}
	dir.Close()
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// copyFile copies the SQLite file src (closed, so without a -wal) to dst.
func copyFile(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// parallel runs b.N iterations of fn spread over clients goroutines and
// reports the throughput and the median latency of one call.
func parallel(b *testing.B, clients int, fn func(worker, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([]time.Duration, b.N)
	errs := make(chan error, clients)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t := time.Now()
				if err := fn(w, i); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "logins/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

type loginKind int

const (
	firstLogin loginKind = iota // each login is the user's first: the account is created
	reLogin                     // the accounts exist and are current
)

// reloginUsers is how many accounts a re-login row cycles through.
const reloginUsers = 256

func benchLogin(b *testing.B, e *loginEnv, scheme string, clients int, kind loginKind, seed string) {
	ctx := context.Background()
	if kind == firstLogin && b.N > loginFresh {
		b.Fatalf("b.N %d is more than the %d fresh users; lower -benchtime", b.N, loginFresh)
	}
	dsn := filepath.Join(b.TempDir(), "bench.db")
	if seed != "" {
		copyFile(b, seed, dsn)
	}
	cfg := e.config(b, scheme, dsn)
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	a, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fresh := loginFreshStart(e.synced)
	login := func(i int) error {
		uid, pw := slapdtest.BulkUserUID(i), slapdtest.BulkUserPassword(i)
		res, err := a.Authenticate(ctx, uid, pw)
		if err != nil {
			return err
		}
		if res.Outcome != auth.OK {
			return fmt.Errorf("login %s: %s %s", uid, res.Outcome, res.Reason)
		}
		return nil
	}
	user := func(i int) int { return fresh + i }
	if kind == reLogin {
		user = func(i int) int { return fresh + i%reloginUsers }
		for i := range reloginUsers {
			if err := login(user(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm up with other users (the last fresh ones), concurrently: pools
	// filled, statements prepared, as in steady state.
	var wg sync.WaitGroup
	warm := make(chan error, clients)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				if err := login(fresh + loginFresh - 1 - w*4 - i); err != nil {
					warm <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(warm)
	if err := <-warm; err != nil {
		b.Fatal(err)
	}
	before := dir.Stats()
	stop := cpuProfile(b)
	parallel(b, clients, func(_, i int) error { return login(user(i)) })
	stop()
	after := dir.Stats()
	ops := (after.Searches - before.Searches) + (after.Binds - before.Binds)
	b.ReportMetric(float64(ops)/float64(b.N), "ldap-ops/login")
	b.ReportMetric(float64(after.Dials-before.Dials), "dials")
}

// rawConns is one raw client: a search connection bound as the service
// account and a connection used only for the users' binds.
type rawConns struct{ svc, bind *ldap.Conn }

// openRawConns opens clients raw clients on url, each a service-bound
// search connection and a bind connection, closed when b ends.
func openRawConns(b *testing.B, url string, clients int, opts ...ldap.DialOpt) []rawConns {
	dial := func() *ldap.Conn {
		c, err := ldap.DialURL(url, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	conns := make([]rawConns, clients)
	for i := range conns {
		svc := dial()
		if err := svc.Bind(slapdtest.JCServiceDN, slapdtest.JCServicePassword); err != nil {
			b.Fatal(err)
		}
		conns[i] = rawConns{svc, dial()}
	}
	return conns
}

func benchRawLogin(b *testing.B, e *loginEnv, scheme string, clients int) {
	conns := openRawConns(b, e.url(scheme), clients, ldap.DialWithTLSConfig(e.tlsConf))
	attrs := []string{"uid", "givenName", "sn", "mail", "displayName", "departmentNumber", "entryUUID"}
	fresh := loginFreshStart(e.synced)
	login := func(w, i int) error {
		i = fresh + i%loginFresh
		uid, pw := slapdtest.BulkUserUID(i), slapdtest.BulkUserPassword(i)
		c := conns[w]
		return rawLogin(c.svc, c.bind, attrs, uid, pw)
	}
	parallel(b, clients, login)
	b.ReportMetric(3, "ldap-ops/login")
}

// rawLogin is the floor's login: the user search, the bind as the user and
// the group search, with go-ldap on connections opened beforehand.
func rawLogin(svc, bind *ldap.Conn, attrs []string, uid, pw string) error {
	res, err := svc.Search(ldap.NewSearchRequest(slapdtest.BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(uid="+ldaptext.EscapeFilter(uid)+")", attrs, nil))
	if err != nil || len(res.Entries) != 1 {
		return fmt.Errorf("raw search %s: %v", uid, err)
	}
	dn := res.Entries[0].DN
	if err := bind.Bind(dn, pw); err != nil {
		return fmt.Errorf("raw bind %s: %v", uid, err)
	}
	groups, err := svc.Search(ldap.NewSearchRequest(slapdtest.BulkUsersDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=groupOfNames)(member="+ldaptext.EscapeFilter(dn)+"))", []string{"cn", "entryUUID"}, nil))
	if err != nil || len(groups.Entries) == 0 {
		return fmt.Errorf("raw groups %s: %v", uid, err)
	}
	return nil
}
