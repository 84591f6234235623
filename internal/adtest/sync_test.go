package adtest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
)

// syncOU holds the users the sync tests create, change and delete, so the
// fixtures other tests rely on stay as they are.
const syncOU = "OU=SyncTest," + sambatest.RootDN

func syncUserDN(sam string) string { return "CN=" + sam + "," + syncOU }

// maxIncrementalSearches bounds an incremental AD run: root DSE, the
// dsServiceName and invocationId reads, one group search, one user search,
// one tombstone search, one read of the primary groups (primaryGroupID) of
// the users the run does not re-read, plus room for two ranged reads of the
// 1,600-member group (Samba returns all its values in the group search; AD
// ranges them).
const maxIncrementalSearches = 9

func adPassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// addSyncUsers creates syncOU with enabled users named sams; cleanup
// deletes what is left of it.
func addSyncUsers(t *testing.T, c *ldap.Conn, sams ...string) {
	t.Helper()
	ou := ldap.NewAddRequest(syncOU, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	if err := c.Add(ou); err != nil {
		t.Fatalf("add %s: %v", syncOU, err)
	}
	t.Cleanup(func() {
		// LDAP_SERVER_TREE_DELETE_OID removes the OU with what is in it.
		del := ldap.NewDelRequest(syncOU, []ldap.Control{ldap.NewControlString("1.2.840.113556.1.4.805", true, "")})
		if err := c.Del(del); err != nil {
			t.Logf("cleanup: delete %s: %v", syncOU, err)
		}
	})
	for _, sam := range sams {
		req := ldap.NewAddRequest(syncUserDN(sam), nil)
		req.Attribute("objectClass", []string{"user"})
		req.Attribute("sAMAccountName", []string{sam})
		req.Attribute("givenName", []string{"Sync"})
		req.Attribute("sn", []string{sam})
		req.Attribute("title", []string{"Before"})
		req.Attribute("unicodePwd", []string{adPassword("Sync-Pw-2024!" + sam)})
		req.Attribute("userAccountControl", []string{"512"})
		if err := c.Add(req); err != nil {
			t.Fatalf("add %s: %v", sam, err)
		}
	}
}

func modify(t *testing.T, c *ldap.Conn, dn, attr string, vals ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, vals)
	if err := c.Modify(req); err != nil {
		t.Fatalf("modify %s %s: %v", dn, attr, err)
	}
}

func newSyncer(t *testing.T, e *env) *dirsync.Syncer {
	t.Helper()
	s, err := dirsync.New(dirsync.Options{Config: e.cfg, Dir: e.dir, Store: e.store, Mapper: e.a.Mapper()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runSync(t *testing.T, s *dirsync.Syncer, mode dirsync.Mode) *dirsync.Report {
	t.Helper()
	begin := time.Now()
	rep, err := s.Run(context.Background(), dirsync.RunOptions{Mode: mode})
	if err != nil {
		t.Fatalf("%s sync: %v (warnings %v)", mode, err, rep.Warnings)
	}
	t.Logf("%s run (asked %q): %d searches, %s; created %d updated %d deactivated %d unchanged %d, memberships +%d -%d",
		rep.Mode, mode, rep.LDAPSearches, time.Since(begin).Round(time.Millisecond), rep.UsersCreated, rep.UsersUpdated,
		rep.UsersDeactivated, rep.UsersUnchanged, rep.MembershipsAdded, rep.MembershipsRemoved)
	return rep
}

func storedUser(t *testing.T, e *env, name string) *ldapbridge.User {
	t.Helper()
	u, err := e.store.User(context.Background(), name)
	if err != nil {
		t.Fatalf("stored user %q: %v", name, err)
	}
	return u
}

func storedGroup(t *testing.T, e *env, name string) *ldapbridge.Group {
	t.Helper()
	gs, err := e.store.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("group %q not in the store", name)
	return nil
}

func isMember(t *testing.T, e *env, group, user string) bool {
	t.Helper()
	g, u := storedGroup(t, e, group), storedUser(t, e, user)
	ms, err := e.store.Memberships(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(ms, ldapbridge.Membership{GroupID: g.ID, UserID: u.ID})
}

func TestADFullSyncReadsEveryMemberOfALargeGroup(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	rep := runSync(t, newSyncer(t, e), dirsync.Full)
	if g := storedGroup(t, e, sambatest.BigGroup); g.DirectMembers != sambatest.BigMembers {
		t.Errorf("%s has %d direct members in the store, want %d", sambatest.BigGroup, g.DirectMembers, sambatest.BigMembers)
	}
	if !isMember(t, e, sambatest.BigGroup, sambatest.BulkUserSAM(sambatest.BigMembers-1)) {
		t.Errorf("the last bulk user (beyond the first range of %d) is not a member", 1500)
	}
	if storedUser(t, e, sambatest.DoraSAM).IsActive {
		t.Errorf("dora (userAccountControl 514, disabled) is active after a full sync")
	}
	if !storedUser(t, e, sambatest.AliceSAM).IsActive {
		t.Errorf("alice is inactive after a full sync")
	}
	if rep.UsersCreated < sambatest.BigMembers {
		t.Errorf("created %d users, want at least the %d bulk users", rep.UsersCreated, sambatest.BigMembers)
	}
}

func TestADIncrementalSyncAppliesExactlyTheChanges(t *testing.T) {
	dc := sambatest.Start(t)
	admin := dc.Conn(t)
	addSyncUsers(t, admin, "st-keep", "st-gone", "st-mod", "st-off")
	cfg := adConfig(t, dc, "active_directory")
	// Listing tombstones needs the right to list CN=Deleted Objects, which
	// only administrators hold by default (and samba-tool dsacl cannot
	// grant on a deleted container), so this sync binds as Administrator.
	cfg.Directory.BindDN, cfg.Directory.BindPassword = sambatest.AdminDN, config.Secret(sambatest.AdminPassword)
	cfg.Sync.MaxRemovals = config.Limit{Count: 1}
	e := newEnv(t, cfg)
	s := newSyncer(t, e)
	full := runSync(t, s, dirsync.Incremental)
	if full.Mode != dirsync.Full || !strings.Contains(full.FallbackReason, "no cursor") {
		t.Fatalf("first run: mode %s, reason %q; want a full run because there is no cursor", full.Mode, full.FallbackReason)
	}

	quiet := runSync(t, s, dirsync.Incremental)
	if quiet.Mode != dirsync.Incremental || quiet.UsersCreated+quiet.UsersUpdated+quiet.UsersDeactivated+quiet.UsersDeleted != 0 ||
		quiet.GroupsCreated+quiet.GroupsUpdated+quiet.MembershipsAdded+quiet.MembershipsRemoved != 0 {
		t.Errorf("a run without directory changes changed something: %+v", quiet)
	}

	if err := admin.Del(ldap.NewDelRequest(syncUserDN("st-gone"), nil)); err != nil {
		t.Fatalf("delete st-gone: %v", err)
	}
	modify(t, admin, syncUserDN("st-mod"), "title", "After")
	rep := runSync(t, s, dirsync.Incremental)
	if rep.Mode != dirsync.Incremental {
		t.Fatalf("mode %s (%s), want incremental", rep.Mode, rep.FallbackReason)
	}
	if !slices.Equal(rep.Plan.Deactivate, []string{"st-gone"}) || rep.UsersDeactivated != 1 {
		t.Errorf("deactivated %d %v, want exactly st-gone", rep.UsersDeactivated, rep.Plan.Deactivate)
	}
	if !slices.Equal(rep.Plan.Update, []string{"st-mod"}) || rep.UsersUpdated != 1 || rep.UsersCreated != 0 {
		t.Errorf("updated %d %v, created %d; want exactly st-mod updated", rep.UsersUpdated, rep.Plan.Update, rep.UsersCreated)
	}
	if storedUser(t, e, "st-gone").IsActive {
		t.Errorf("st-gone is still active after its deletion was synced")
	}
	if got := storedUser(t, e, "st-mod").Profile["title"]; got != "After" {
		t.Errorf("st-mod title %q, want After", got)
	}
	if !storedUser(t, e, "st-keep").IsActive {
		t.Errorf("st-keep was touched")
	}
	for _, r := range []*dirsync.Report{quiet, rep} {
		if r.LDAPSearches > maxIncrementalSearches || r.LDAPSearches != quiet.LDAPSearches {
			t.Errorf("an incremental run issued %d searches; want the same bounded number (%d, at most %d) whatever changed", r.LDAPSearches, quiet.LDAPSearches, maxIncrementalSearches)
		}
	}
	// A full run's searches, plus the tombstone search and the
	// primary-group read.
	if rep.LDAPSearches > full.LDAPSearches+2 {
		t.Errorf("incremental run: %d searches, full run %d", rep.LDAPSearches, full.LDAPSearches)
	}

	// Disabling an account and a membership change (which bumps the
	// group's uSNChanged, not the user's) are picked up too.
	modify(t, admin, syncUserDN("st-off"), "userAccountControl", "514")
	addMember := ldap.NewModifyRequest(sambatest.GroupDN(sambatest.StaffGroup), nil)
	addMember.Add("member", []string{syncUserDN("st-keep")})
	if err := admin.Modify(addMember); err != nil {
		t.Fatal(err)
	}
	rep = runSync(t, s, dirsync.Incremental)
	if storedUser(t, e, "st-off").IsActive || !slices.Equal(slices.Sorted(slices.Values(rep.Plan.Update)), []string{"st-keep", "st-off"}) {
		t.Errorf("after disabling st-off and adding st-keep to Staff: updated %v, st-off active=%v; want both updated, st-off inactive", rep.Plan.Update, storedUser(t, e, "st-off").IsActive)
	}
	if !isMember(t, e, sambatest.StaffGroup, "st-keep") || !storedUser(t, e, "st-keep").IsStaff {
		t.Errorf("st-keep's new Staff membership (and is_staff) was not synced: added %v", rep.Plan.MembershipsAdd)
	}

	// Two deletions exceed sync.max_removals (1): nothing is removed and
	// the cursor stays, so the forced rerun still sees both tombstones.
	for _, sam := range []string{"st-keep", "st-mod"} {
		if err := admin.Del(ldap.NewDelRequest(syncUserDN(sam), nil)); err != nil {
			t.Fatal(err)
		}
	}
	guarded, err := s.Run(context.Background(), dirsync.RunOptions{Mode: dirsync.Incremental})
	if !errors.Is(err, dirsync.ErrGuard) || !storedUser(t, e, "st-keep").IsActive {
		t.Fatalf("two tombstones over sync.max_removals 1: err %v, plan %v, st-keep active=%v; want ErrGuard and nothing removed", err, guarded.Plan.Deactivate, storedUser(t, e, "st-keep").IsActive)
	}
	forced, err := s.Run(context.Background(), dirsync.RunOptions{Mode: dirsync.Incremental, Force: true})
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(forced.Plan.Deactivate)), []string{"st-keep", "st-mod"}) {
		t.Errorf("forced rerun: %v, deactivated %v; want st-keep and st-mod", err, forced.Plan.Deactivate)
	}
}

func TestADCursorFromAnotherServerFallsBackToFull(t *testing.T) {
	dc := sambatest.Start(t)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	s := newSyncer(t, e)
	first := runSync(t, s, dirsync.Full)
	ctx := context.Background()
	raw, err := e.store.SyncCursor(ctx, first.Server)
	if err != nil || raw == "" {
		t.Fatalf("no cursor stored for %s after a full run: %v", first.Server, err)
	}
	var cur map[string]any
	if err := json.Unmarshal([]byte(raw), &cur); err != nil {
		t.Fatal(err)
	}
	if cur["kind"] != "uSNChanged" || cur["usn"] == "" || cur["host"] == "" || cur["invocation_id"] == "" {
		t.Fatalf("cursor %s: want kind uSNChanged with usn, host and invocation_id", raw)
	}
	for _, tc := range []struct {
		field, value, reason string
	}{
		{"invocation_id", "00000000-0000-0000-0000-000000000001", "invocationId"},
		{"host", "dc2.ldapbridge.test", "dc2.ldapbridge.test"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			fake := map[string]any{}
			for k, v := range cur {
				fake[k] = v
			}
			fake[tc.field] = tc.value
			b, _ := json.Marshal(fake)
			if err := e.store.SetSyncCursor(ctx, first.Server, string(b)); err != nil {
				t.Fatal(err)
			}
			rep, err := s.Run(ctx, dirsync.RunOptions{Mode: dirsync.Incremental})
			if err != nil && !errors.Is(err, dirsync.ErrAborted) {
				t.Fatal(err)
			}
			if rep.Mode != dirsync.Full || !strings.Contains(rep.FallbackReason, tc.reason) || !strings.Contains(rep.FallbackReason, "another server") && tc.field == "invocation_id" {
				t.Errorf("mode %s, reason %q; want a full run that names the other server (%s)", rep.Mode, rep.FallbackReason, tc.reason)
			}
			if rep.UsersCreated+rep.UsersUpdated+rep.UsersDeactivated != 0 {
				t.Errorf("the full fallback changed users: %+v", rep.Plan)
			}
		})
	}
}
