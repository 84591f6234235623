package ldapdir

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// jcConfig is a configuration bound as the JumpCloud fixture's service
// account (a normal user, not the rootdn, so server limits apply).
func jcConfig(urls ...string) config.Directory {
	return config.Directory{
		URLs:           urls,
		BindDN:         slapdtest.JCServiceDN,
		BindPassword:   config.Secret(slapdtest.JCServicePassword),
		DialTimeout:    config.Duration(2 * time.Second),
		RequestTimeout: config.Duration(5 * time.Second),
		PageSize:       3,
		PoolSize:       2,
	}
}

func openDir(t *testing.T, cfg config.Directory) *Dir {
	t.Helper()
	d, err := Open(context.Background(), cfg, Options{Logger: slogTo(testWriter{t})})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var usersReq = &ldapbridge.SearchRequest{BaseDN: slapdtest.JCUsersDN, Scope: ldapbridge.ScopeSub,
	Filter: "(objectClass=inetOrgPerson)", Attributes: []string{"uid"}}

func TestAgainstSlapd(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, SizeLimit: 5})
	ctx := context.Background()

	t.Run("plain LDAP search and login as a normal service account", func(t *testing.T) {
		d := openDir(t, jcConfig(srv.URL))
		users, err := d.Search(ctx, usersReq)
		if err != nil {
			t.Fatal(err)
		}
		if !hasDN(users, slapdtest.JCAliceDN) {
			t.Errorf("alice not found among %d users", len(users))
		}
		if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
			t.Fatalf("good password: %v", err)
		}
		dials := d.Stats().Dials
		err = d.CheckPassword(ctx, slapdtest.JCAliceDN, "wrong")
		if !errors.Is(err, ldapbridge.ErrInvalidCredentials) || !strings.Contains(err.Error(), "directory.urls[0]") {
			t.Errorf("bad password: %v", err)
		}
		if err := d.CheckPassword(ctx, slapdtest.JCBobDN, slapdtest.JCBobPassword); err != nil {
			t.Errorf("bob: %v", err)
		}
		if got := d.Stats().Dials; got != dials {
			t.Errorf("logins re-dialled: %d dials, was %d", got, dials)
		}
		if st := d.Stats(); st.ServiceIdle == 0 || st.AuthIdle == 0 || st.ServiceInUse != 0 {
			t.Errorf("pool counts: %+v", st)
		}
	})

	t.Run("LDAPS with the test CA reports TLS and the openldap flavor", func(t *testing.T) {
		cfg := jcConfig(srv.LDAPSURL)
		cfg.TLS.CAFile = srv.CAFile
		d := openDir(t, cfg)
		info, err := d.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Flavor != ldapbridge.FlavorOpenLDAP || !strings.HasPrefix(info.TLS, "TLS 1.") || info.URL != srv.LDAPSURL {
			t.Errorf("info: %+v", info)
		}
		if !contains(info.NamingContexts, slapdtest.JCBaseDN) || len(info.SupportedControl) == 0 {
			t.Errorf("root DSE fields missing: %+v", info)
		}
		if len(info.ContextCSN) == 0 {
			t.Errorf("contextCSN not read: %+v", info)
		}
	})

	t.Run("StartTLS upgrades a plain URL", func(t *testing.T) {
		cfg := jcConfig(srv.URL)
		cfg.StartTLS = true
		cfg.TLS.CAFile = srv.CAFile
		d := openDir(t, cfg)
		info, err := d.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(info.TLS, "TLS 1.") {
			t.Errorf("no TLS after StartTLS: %+v", info)
		}
		if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
			t.Error(err)
		}
	})

	t.Run("wrong CA names directory.tls.ca_file", func(t *testing.T) {
		for _, startTLS := range []bool{false, true} {
			url := srv.LDAPSURL
			if startTLS {
				url = srv.URL
			}
			cfg := jcConfig(url)
			cfg.StartTLS = startTLS
			cfg.TLS.CAFile = srv.WrongCAFile
			d := openDir(t, cfg)
			_, err := d.Search(ctx, usersReq)
			if !errors.Is(err, ldapbridge.ErrUnavailable) || !strings.Contains(err.Error(), "directory.tls.ca_file") ||
				!strings.Contains(err.Error(), "directory.urls[0]: dial "+url) {
				t.Errorf("startTLS=%v: %v", startTLS, err)
			}
		}
	})

	t.Run("hostname mismatch names directory.tls.server_name", func(t *testing.T) {
		cfg := jcConfig(srv.LDAPSURL)
		cfg.TLS.CAFile = srv.CAFile
		cfg.TLS.ServerName = "ldap.elsewhere.example"
		d := openDir(t, cfg)
		_, err := d.Search(ctx, usersReq)
		if !errors.Is(err, ldapbridge.ErrUnavailable) || !strings.Contains(err.Error(), "directory.tls.server_name") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("client certificate is presented", func(t *testing.T) {
		cfg := jcConfig(srv.LDAPSURL)
		cfg.TLS.CAFile = srv.CAFile
		cfg.TLS.ClientCertFile, cfg.TLS.ClientKeyFile = srv.ClientCertFile, srv.ClientKeyFile
		d := openDir(t, cfg)
		c, err := d.dialServer(ctx, d.servers[0])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.ExternalBind(); err != nil {
			t.Fatalf("SASL EXTERNAL with the client certificate: %v", err)
		}
		who, err := c.WhoAmI(nil)
		if err != nil || !strings.HasPrefix(who.AuthzID, "dn:") {
			t.Errorf("WhoAmI = %+v, %v; want the certificate's subject", who, err)
		}
	})

	t.Run("service bind rejected names the keys", func(t *testing.T) {
		cfg := jcConfig(srv.URL)
		cfg.BindPassword = "wrong"
		d := openDir(t, cfg)
		_, err := d.Search(ctx, usersReq)
		if !errors.Is(err, ErrServiceBind) || !strings.Contains(err.Error(), "check directory.bind_dn and directory.bind_password") {
			t.Errorf("got %v", err)
		}
		if errors.Is(err, ldapbridge.ErrInvalidCredentials) {
			t.Error("service bind failure looks like a user's bad password")
		}
	})

	t.Run("dead first URL fails over and is not re-dialled", func(t *testing.T) {
		d := openDir(t, jcConfig("ldap://"+closedPort(t), srv.URL))
		if _, err := d.Search(ctx, usersReq); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.DialErrors != 1 {
			t.Fatalf("dial errors after failover: %+v", st)
		}
		// The auth pool dials its own connection: it must skip the dead URL.
		if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.DialErrors != 1 || st.Dials != 3 {
			t.Errorf("dead URL re-dialled: %+v", st)
		}
		if h := d.Health(); h[0].Up || !h[1].Up {
			t.Errorf("health: %+v", h)
		}
	})

	t.Run("paged search reads past the server size limit; a capped plain search is incomplete", func(t *testing.T) {
		d := openDir(t, jcConfig(srv.URL))
		req := &ldapbridge.SearchRequest{BaseDN: slapdtest.JCOrgDN, Scope: ldapbridge.ScopeSub, Attributes: []string{"cn"}}
		var pages, entries int
		err := d.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
			pages++
			entries += len(page)
			if len(page) > 3 {
				t.Errorf("page of %d entries with page_size 3", len(page))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if entries <= 5 || pages < 2 {
			t.Fatalf("paged: %d entries in %d pages; want more than the size limit 5", entries, pages)
		}
		capped := *req
		capped.SizeLimit = 1000
		got, err := d.Search(ctx, &capped)
		if !errors.Is(err, ldapbridge.ErrIncomplete) {
			t.Fatalf("plain search past the size limit: %d entries, %v", len(got), err)
		}
		if len(got) != 5 {
			t.Errorf("partial result has %d entries, want the 5 the server sent", len(got))
		}
	})

	t.Run("an error from the page callback stops the search", func(t *testing.T) {
		d := openDir(t, jcConfig(srv.URL))
		stop := errors.New("stop")
		calls := 0
		err := d.SearchPages(ctx, usersReq, func([]*ldapbridge.Entry) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
		if _, err := d.Search(ctx, usersReq); err != nil {
			t.Errorf("next search: %v", err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		d := openDir(t, jcConfig(srv.URL))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := d.Search(cctx, usersReq); !errors.Is(err, context.Canceled) {
			t.Errorf("search: %v", err)
		}
		if err := d.CheckPassword(cctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); !errors.Is(err, context.Canceled) {
			t.Errorf("check password: %v", err)
		}
		if _, err := d.Search(ctx, usersReq); err != nil {
			t.Errorf("search after a cancelled one: %v", err)
		}
	})

	t.Run("BindAs searches as the user", func(t *testing.T) {
		d := openDir(t, jcConfig(srv.URL))
		sess, err := d.BindAs(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		users, err := sess.Search(ctx, usersReq)
		if err != nil || !hasDN(users, slapdtest.JCBobDN) {
			t.Errorf("session search: %d users, %v", len(users), err)
		}
		if _, err := d.BindAs(ctx, slapdtest.JCAliceDN, "wrong"); !errors.Is(err, ldapbridge.ErrInvalidCredentials) {
			t.Errorf("bad password: %v", err)
		}
	})

	t.Run("Check reports every URL", func(t *testing.T) {
		dead := "ldap://" + closedPort(t)
		cfg := jcConfig(dead, srv.LDAPSURL)
		cfg.TLS.CAFile = srv.CAFile
		d := openDir(t, cfg)
		reps := d.Check(ctx)
		if len(reps) != 2 {
			t.Fatalf("%d reports", len(reps))
		}
		if reps[0].Reachable || !strings.Contains(reps[0].Error, "is the server up? check directory.urls") {
			t.Errorf("dead URL: %+v", reps[0])
		}
		r := reps[1]
		if !r.Reachable || !r.ServiceBind || r.Flavor != ldapbridge.FlavorOpenLDAP || r.Error != "" ||
			!strings.HasPrefix(r.TLS, "TLS 1.") || r.PeerSubject == "" || r.PeerIssuer == "" || r.PeerNotAfter.Before(time.Now()) {
			t.Errorf("LDAPS URL: %+v", r)
		}
	})
}

func TestPoolRedialsAfterServerRestart(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ctx := context.Background()
	d, err := Open(ctx, jcConfig(srv.URL), Options{Logger: slogTo(testWriter{t}), ProbeInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Search(ctx, usersReq); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
		t.Fatal(err)
	}
	// Restarted between two calls: the idle connections are dead.
	srv.Stop(t)
	srv.Start(t)
	if _, err := d.Search(ctx, usersReq); err != nil {
		t.Fatalf("search after a restart between calls: %v", err)
	}
	if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
		t.Fatalf("login after a restart between calls: %v", err)
	}
	// Down during a call, then back.
	srv.Stop(t)
	_, err = d.Search(ctx, usersReq)
	if !errors.Is(err, ldapbridge.ErrUnavailable) {
		t.Errorf("search while stopped: %v", err)
	}
	if h := d.Health(); h[0].Up {
		t.Errorf("server still up after a failed dial: %+v", h)
	}
	srv.Start(t)
	// The background probe marks it up again without any call.
	for deadline := time.Now().Add(3 * time.Second); !d.Health()[0].Up; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("probe did not mark the server up: %+v", d.Health())
		}
	}
	if users, err := d.Search(ctx, usersReq); err != nil || len(users) == 0 {
		t.Errorf("search after restart: %d, %v", len(users), err)
	}
	if err := d.CheckPassword(ctx, slapdtest.JCAliceDN, slapdtest.JCAlicePassword); err != nil {
		t.Errorf("login after restart: %v", err)
	}
}

func hasDN(entries []*ldapbridge.Entry, dn string) bool {
	for _, e := range entries {
		if strings.EqualFold(e.DN, dn) {
			return true
		}
	}
	return false
}
