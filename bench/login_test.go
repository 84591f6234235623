package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// loginUsers are the fixture users a login lets in, with their passwords.
var loginUsers = []struct{ uid, password string }{
	{slapdtest.JCAliceUID, slapdtest.JCAlicePassword},
	{slapdtest.JCBobUID, slapdtest.JCBobPassword},
	{slapdtest.JCCarolUID, slapdtest.JCCarolPassword},
	{slapdtest.JCDaveUID, slapdtest.JCDavePassword},
}

const loginConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: jumpcloud
  pool_size: 4
users:
  search: {base_dn: "USERS", scope: sub, filter: "(uid={username})"}
groups:
  search: {base_dn: "USERS", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  require: "cn=Django App,USERS"
  flags:
    is_active: "cn=active,USERS"
    is_staff: "cn=staff,USERS"
    is_superuser: "cn=superuser,USERS"
store: {driver: sqlite, dsn: DSN}
`

// BenchmarkLogin measures full logins (find user, check password, read
// groups, policy, store write) against slapd, next to the raw floor: the
// same three LDAP operations with go-ldap on connections opened beforehand.
func BenchmarkLogin(b *testing.B) {
	s := slapdtest.Start(b, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("ldapbridge/clients=%d", clients), func(b *testing.B) { benchLogin(b, s, clients) })
		b.Run(fmt.Sprintf("raw/clients=%d", clients), func(b *testing.B) { benchRawLogin(b, s, clients) })
	}
}

// parallel runs b.N iterations of fn spread over clients goroutines and
// reports the throughput.
func parallel(b *testing.B, clients int, fn func(worker, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
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
				if err := fn(w, i); err != nil {
					errs <- err
					return
				}
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
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "logins/s")
}

func benchLogin(b *testing.B, s *slapdtest.Server, clients int) {
	ctx := context.Background()
	y := strings.NewReplacer("URL", s.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.JCUsersDN, "DSN", filepath.Join(b.TempDir(), "bench.db")).Replace(loginConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
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
	login := func(_, i int) error {
		u := loginUsers[i%len(loginUsers)]
		res, err := a.Authenticate(ctx, u.uid, u.password)
		if err != nil {
			return err
		}
		if res.Outcome != auth.OK {
			return fmt.Errorf("login %s: %s %s", u.uid, res.Outcome, res.Reason)
		}
		return nil
	}
	// Warm up: accounts created, pools filled, as in steady state.
	for i := range 2 * len(loginUsers) * clients {
		if err := login(0, i); err != nil {
			b.Fatal(err)
		}
	}
	before := dir.Stats()
	parallel(b, clients, login)
	after := dir.Stats()
	ops := (after.Searches - before.Searches) + (after.Binds - before.Binds)
	b.ReportMetric(float64(ops)/float64(b.N), "ldap-ops/login")
	b.ReportMetric(float64(after.Dials-before.Dials), "dials")
}

// rawConns is one raw client: a search connection bound as the service
// account and a connection used only for the users' binds.
type rawConns struct{ svc, bind *ldap.Conn }

func benchRawLogin(b *testing.B, s *slapdtest.Server, clients int) {
	conns := make([]rawConns, clients)
	for i := range conns {
		svc, err := ldap.DialURL(s.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer svc.Close()
		if err := svc.Bind(slapdtest.JCServiceDN, slapdtest.JCServicePassword); err != nil {
			b.Fatal(err)
		}
		bind, err := ldap.DialURL(s.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer bind.Close()
		conns[i] = rawConns{svc, bind}
	}
	attrs := []string{"uid", "givenName", "sn", "mail", "entryUUID", "jpegPhoto"}
	login := func(w, i int) error {
		u := loginUsers[i%len(loginUsers)]
		c := conns[w]
		res, err := c.svc.Search(ldap.NewSearchRequest(slapdtest.JCUsersDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(uid="+ldaptext.EscapeFilter(u.uid)+")", attrs, nil))
		if err != nil || len(res.Entries) != 1 {
			return fmt.Errorf("raw search %s: %v", u.uid, err)
		}
		dn := res.Entries[0].DN
		if err := c.bind.Bind(dn, u.password); err != nil {
			return fmt.Errorf("raw bind %s: %v", u.uid, err)
		}
		groups, err := c.svc.Search(ldap.NewSearchRequest(slapdtest.JCUsersDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=groupOfNames)(member="+ldaptext.EscapeFilter(dn)+"))", []string{"cn", "entryUUID"}, nil))
		if err != nil || len(groups.Entries) == 0 {
			return fmt.Errorf("raw groups %s: %v", u.uid, err)
		}
		return nil
	}
	parallel(b, clients, login)
	b.ReportMetric(3, "ldap-ops/login")
}
