package adtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
)

// liveOU holds the users the live-mirror test creates, changes and deletes.
const liveOU = "OU=LiveTest," + sambatest.RootDN

func liveUserDN(sam string) string { return "CN=" + sam + "," + liveOU }

// addLiveUsers creates liveOU with enabled users named sams; cleanup
// deletes what is left of it.
func addLiveUsers(t *testing.T, c *ldap.Conn, sams ...string) {
	t.Helper()
	ou := ldap.NewAddRequest(liveOU, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	if err := c.Add(ou); err != nil {
		t.Fatalf("add %s: %v", liveOU, err)
	}
	t.Cleanup(func() {
		del := ldap.NewDelRequest(liveOU, []ldap.Control{ldap.NewControlString("1.2.840.113556.1.4.805", true, "")})
		if err := c.Del(del); err != nil {
			t.Logf("cleanup: delete %s: %v", liveOU, err)
		}
	})
	for _, sam := range sams {
		req := ldap.NewAddRequest(liveUserDN(sam), nil)
		req.Attribute("objectClass", []string{"user"})
		req.Attribute("sAMAccountName", []string{sam})
		req.Attribute("givenName", []string{"Live"})
		req.Attribute("sn", []string{sam})
		req.Attribute("title", []string{"Before"})
		req.Attribute("unicodePwd", []string{adPassword("Live-Pw-2024!" + sam)})
		req.Attribute("userAccountControl", []string{"512"})
		if err := c.Add(req); err != nil {
			t.Fatalf("add %s: %v", sam, err)
		}
	}
}

// TestADLiveMirrorAppliesChangesWithoutAScheduledRun: with the live mirror
// polling highestCommittedUSN, a title change, a membership change, a
// disabled account and a deletion each reach the store, by incremental
// runs only, with no run started by the test.
func TestADLiveMirrorAppliesChangesWithoutAScheduledRun(t *testing.T) {
	dc := sambatest.Start(t)
	admin := dc.Conn(t)
	addLiveUsers(t, admin, "lv-title", "lv-member", "lv-off", "lv-gone")
	cfg := adConfig(t, dc, "active_directory")
	// Tombstones are listed by administrators only (see
	// TestADIncrementalSyncAppliesExactlyTheChanges).
	cfg.Directory.BindDN, cfg.Directory.BindPassword = sambatest.AdminDN, config.Secret(sambatest.AdminPassword)
	cfg.Sync.MaxRemovals = config.Limit{Count: 1}
	e := newEnv(t, cfg)
	s := newSyncer(t, e)
	runSync(t, s, dirsync.Full)

	var mu sync.Mutex
	var modes []dirsync.Mode
	var errs []error
	live := s.NewLive(dirsync.LiveOptions{Interval: 300 * time.Millisecond, Run: func(ctx context.Context, ro dirsync.RunOptions) (*dirsync.Report, error) {
		rep, err := s.Run(ctx, ro)
		mu.Lock()
		defer mu.Unlock()
		if rep != nil {
			modes = append(modes, rep.Mode)
		}
		errs = append(errs, err)
		return rep, err
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Live.Run: %v, want context.Canceled", err)
		}
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("gave up waiting: %s (live %+v, runs %v, errors %v)", what, live.Stats(), modes, errs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	user := func(name string) *ldapbridge.User {
		u, err := e.store.User(context.Background(), name)
		if err != nil {
			return nil
		}
		return u
	}
	wait("the live mirror is current", func() bool { return live.Stats().Current })
	if st := live.Stats(); st.Mode != "poll" {
		t.Fatalf("mode %q, want poll", st.Mode)
	}

	modify(t, admin, liveUserDN("lv-title"), "title", "After")
	wait("lv-title's new title", func() bool { u := user("lv-title"); return u != nil && u.Profile["title"] == "After" })

	addMember := ldap.NewModifyRequest(sambatest.GroupDN(sambatest.StaffGroup), nil)
	addMember.Add("member", []string{liveUserDN("lv-member")})
	if err := admin.Modify(addMember); err != nil {
		t.Fatal(err)
	}
	wait("lv-member in Staff", func() bool {
		u := user("lv-member")
		return u != nil && u.IsStaff && isMember(t, e, sambatest.StaffGroup, "lv-member")
	})

	modify(t, admin, liveUserDN("lv-off"), "userAccountControl", "514")
	wait("lv-off disabled", func() bool { u := user("lv-off"); return u != nil && !u.IsActive && !u.Allowed() })

	if err := admin.Del(ldap.NewDelRequest(liveUserDN("lv-gone"), nil)); err != nil {
		t.Fatal(err)
	}
	wait("lv-gone removed", func() bool { u := user("lv-gone"); return u != nil && u.Verdict == ldapbridge.VerdictRemoved })

	mu.Lock()
	defer mu.Unlock()
	for i, m := range modes {
		if m != dirsync.Incremental {
			t.Errorf("live run %d was %s; want every live run incremental (runs %v)", i, m, modes)
		}
	}
	// Changes that land between two polls are one USN move.
	if st := live.Stats(); st.EventsApplied < 1 || st.LastError != "" {
		t.Errorf("stats %+v; want USN moves applied and no error", st)
	}
}
