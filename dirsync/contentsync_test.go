package dirsync_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

func modifySN(dn, sn string) string {
	return "dn: " + dn + "\nchangetype: modify\nreplace: sn\nsn: " + sn + "\n\n"
}

func deleteEntry(dn string) string { return "dn: " + dn + "\nchangetype: delete\n\n" }

// cursorJSON returns the stored cursor of e's server as a map.
func (e *env) cursorJSON() map[string]any {
	e.t.Helper()
	raw, err := e.store.SyncCursor(e.t.Context(), e.srv.URL)
	if err != nil || raw == "" {
		e.t.Fatalf("stored cursor: %q %v", raw, err)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// setCookie replaces the stored cookie of the users base.
func (e *env) setCookie(cookie string) {
	e.t.Helper()
	c := e.cursorJSON()
	c["cookies"] = map[string]string{slapdtest.JCUsersDN: cookie}
	b, _ := json.Marshal(c)
	if err := e.store.SetSyncCursor(e.t.Context(), e.srv.URL, string(b)); err != nil {
		e.t.Fatal(err)
	}
}

func TestContentSyncIncrementalAppliesExactlyTheChanges(t *testing.T) {
	tests := []struct {
		name, policy     string
		exempt           []string
		deact, del       int
		graceExists      bool
		graceActiveAfter bool
	}{
		{"DeactivateMarksTheDeletedUserInactive", "deactivate", nil, 1, 0, true, false},
		{"DeleteRemovesTheDeletedUser", "delete", nil, 0, 1, false, false},
		{"KeepLeavesTheDeletedUserActive", "keep", nil, 0, 0, true, true},
		{"ExemptUserIsNotRemoved", "deactivate", []string{slapdtest.JCGraceUID}, 0, 0, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, "", envOpts{policy: tc.policy, exempt: tc.exempt})
			if tc.exempt != nil {
				loginGrace(t, e) // a sync never creates an exempt user; a login does
			}
			full := e.run(dirsync.RunOptions{})
			if full.Mode != dirsync.Full || e.cursorJSON()["kind"] != "contentSync" {
				t.Fatalf("first run mode %s, cursor %v; want full and a contentSync cursor", full.Mode, e.cursorJSON())
			}
			bob := e.user(slapdtest.JCBobUID)
			e.srv.Apply(t, deleteEntry(slapdtest.JCGraceDN)+modifySN(slapdtest.JCAliceDN, "Synced"))
			rep := e.run(dirsync.RunOptions{})
			if rep.Mode != dirsync.Incremental || rep.FallbackReason != "" {
				t.Fatalf("second run mode %s (%s), want incremental", rep.Mode, rep.FallbackReason)
			}
			if c := counts(rep); c != [10]int{0, 1, tc.deact, tc.del, 0, 0, 0, 0, 0, 0} {
				t.Errorf("counts %v, want 1 updated, %d deactivated, %d deleted and nothing else (plan %+v)", c, tc.deact, tc.del, rep.Plan)
			}
			if strings.Join(rep.Plan.Update, ",") != slapdtest.JCAliceUID {
				t.Errorf("updated %v, want only alice", rep.Plan.Update)
			}
			t.Logf("incremental run with one delete and one modify: %d LDAP searches", rep.LDAPSearches)
			if rep.LDAPSearches != 3 {
				t.Errorf("ldap_searches = %d, want 3 (root DSE, groups, one content-sync refresh)", rep.LDAPSearches)
			}
			if a := e.user(slapdtest.JCAliceUID); a.LastName != "Synced" {
				t.Errorf("alice's last name %q, want Synced", a.LastName)
			}
			if b := e.user(slapdtest.JCBobUID); !b.IsActive || !b.LastSyncedAt.Equal(*bob.LastSyncedAt) {
				t.Errorf("bob was touched: active %v, synced %v (was %v)", b.IsActive, b.LastSyncedAt, bob.LastSyncedAt)
			}
			g, err := e.store.User(t.Context(), slapdtest.JCGraceUID)
			if exists := err == nil; exists != tc.graceExists || (exists && g.IsActive != tc.graceActiveAfter) {
				t.Errorf("grace: exists %v (%v), want %v active %v", exists, err, tc.graceExists, tc.graceActiveAfter)
			}
		})
	}
}

func TestContentSyncNoChangeRunIsCheap(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	e.run(dirsync.RunOptions{})
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	t.Logf("no-change incremental run: %d LDAP searches", rep.LDAPSearches)
	if rep.Mode != dirsync.Incremental || counts(rep) != [10]int{} || rep.LDAPSearches > 3 || len(rep.Warnings) != 0 {
		t.Errorf("no-change run: mode %s counts %v searches %d warnings %v; want incremental, nothing, at most 3", rep.Mode, counts(rep), rep.LDAPSearches, rep.Warnings)
	}
}

func TestContentSyncUnusableCookieFallsBackToFull(t *testing.T) {
	tests := []struct {
		name, cookie, reason string
	}{
		{"GarbageCookieIsNotSent", base64.StdEncoding.EncodeToString([]byte("garbage")), "no change sequence number"},
		{"CookieNotBase64", "%%%", "not base64"},
		{"CookieTheServerRefuses", base64.StdEncoding.EncodeToString([]byte("rid=000,csn=20990101000000.000000Z#000000#000#000000")), "content-sync refresh failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, "", envOpts{})
			e.run(dirsync.RunOptions{})
			e.srv.Apply(t, deleteEntry(slapdtest.JCGraceDN)+modifySN(slapdtest.JCAliceDN, "Full"))
			e.setCookie(tc.cookie)
			rep := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
			if rep.Mode != dirsync.Full || !strings.Contains(rep.FallbackReason, tc.reason) {
				t.Fatalf("mode %s, fallback_reason %q; want full because %q", rep.Mode, rep.FallbackReason, tc.reason)
			}
			if rep.UsersUpdated != 1 || rep.UsersDeactivated != 1 || rep.UsersUnchanged != fixtureUsers-2 {
				t.Errorf("full fallback counts %v, want alice updated, grace deactivated, the rest unchanged", counts(rep))
			}
			if e.user(slapdtest.JCGraceUID).IsActive || e.cursorJSON()["kind"] != "contentSync" {
				t.Errorf("grace still active or cursor %v not renewed", e.cursorJSON())
			}
			if next := e.run(dirsync.RunOptions{Mode: dirsync.Incremental}); next.Mode != dirsync.Incremental || counts(next) != [10]int{} {
				t.Errorf("run after the fallback: mode %s (%s) counts %v; want an empty incremental", next.Mode, next.FallbackReason, counts(next))
			}
		})
	}
}

func TestContentSyncPresentPhaseFindsDeletions(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	e.run(dirsync.RunOptions{})
	e.srv.Apply(t, deleteEntry(slapdtest.JCGraceDN))
	// A valid cookie older than every entry: syncprov answers with the
	// present phase (every entry, refreshDeletes false), not a delete list.
	e.setCookie(base64.StdEncoding.EncodeToString([]byte("rid=000,csn=20000101000000.000000Z#000000#000#000000")))
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if rep.Mode != dirsync.Incremental || rep.UsersDeactivated != 1 || rep.UsersUnchanged != fixtureUsers-1 || rep.UsersUpdated != 0 {
		t.Errorf("present-phase run: mode %s (%s) counts %v; want grace deactivated and the rest unchanged", rep.Mode, rep.FallbackReason, counts(rep))
	}
	if e.user(slapdtest.JCGraceUID).IsActive || !e.user(slapdtest.JCAliceUID).IsActive {
		t.Error("present phase: grace still active or alice deactivated")
	}
}

func TestContentSyncGuardTripsOnMassDeletions(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{maxRemovals: "20%"})
	e.run(dirsync.RunOptions{})
	var ldif string
	for _, dn := range []string{slapdtest.JCBobDN, slapdtest.JCCarolDN, slapdtest.JCDaveDN, slapdtest.JCErinDN, slapdtest.JCGraceDN} {
		ldif += deleteEntry(dn)
	}
	e.srv.Apply(t, ldif)
	rep, err := e.sync.Run(t.Context(), dirsync.RunOptions{})
	if !errors.Is(err, dirsync.ErrGuard) || rep.Mode != dirsync.Incremental || rep.UsersDeactivated != 0 {
		t.Fatalf("mass deletion: mode %s err %v deactivated %d; want the guard to stop an incremental run", rep.Mode, err, rep.UsersDeactivated)
	}
	if !e.user(slapdtest.JCBobUID).IsActive {
		t.Fatal("the guard tripped but bob was deactivated")
	}
	// The cursor did not advance, so a forced run sees the same deletions.
	rep = e.run(dirsync.RunOptions{Force: true})
	if rep.Mode != dirsync.Incremental || rep.UsersDeactivated != 5 || e.user(slapdtest.JCBobUID).IsActive {
		t.Errorf("forced rerun: mode %s deactivated %d, want incremental and 5", rep.Mode, rep.UsersDeactivated)
	}
}

func TestContentSyncSizeLimitFallsBackToPagedFullRead(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, SizeLimit: 5})
	e := newEnv(t, srv, filepath.Join(t.TempDir(), "s.db"), envOpts{})
	e.run(dirsync.RunOptions{})
	var ldif string
	for _, dn := range []string{slapdtest.JCAliceDN, slapdtest.JCBobDN, slapdtest.JCCarolDN, slapdtest.JCDaveDN, slapdtest.JCErinDN, slapdtest.JCMalloryDN, slapdtest.JCNinaDN} {
		ldif += modifySN(dn, "Many")
	}
	e.srv.Apply(t, ldif)
	rep := e.run(dirsync.RunOptions{})
	if rep.Mode != dirsync.Full || !strings.Contains(rep.FallbackReason, "size limit") {
		t.Fatalf("mode %s fallback %q, want full because of the size limit", rep.Mode, rep.FallbackReason)
	}
	if rep.UsersUpdated != 7 || rep.UsersUnchanged != fixtureUsers-7 || rep.UsersCreated+rep.UsersDeactivated != 0 {
		t.Errorf("counts %v, want 7 updated and %d unchanged", counts(rep), fixtureUsers-7)
	}
	if e.user(slapdtest.JCNinaUID).LastName != "Many" {
		t.Error("nina not updated by the fallback read")
	}
}
