package dirsync_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

const syncConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: openldap
  page_size: 3
users:
  search: {base_dn: "USERS", scope: sub, filter: "(uid={username})"}
  sync_filter: "SYNCFILTER"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {display_name: displayName}
  photo_attribute: jpegPhoto
groups:
  search: {base_dn: "USERS", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
  nested: true
access:
  flags:
    is_staff: "cn=staff,USERS"
    is_superuser: "cn=superuser,USERS"
sync:
  removed_users: POLICY
  max_removals: MAXREM
  exempt_users: [exempt-nobody]
store: {driver: sqlite, dsn: DSN}
`

// env is a slapd with the JumpCloud fixture, a store and a Syncer.
type env struct {
	t     *testing.T
	srv   *slapdtest.Server
	store *sqlite.Store
	dir   *stopDir
	sync  *dirsync.Syncer
	// auth logs in with the same config, directory and store.
	auth *auth.Authenticator
}

// stopDir wraps the directory so a test can act after the n-th page.
type stopDir struct {
	*ldapdir.Dir
	pages  atomic.Int64
	onPage func(n int64)
	// noContentSync hides the RFC 4533 control from the root DSE, so runs
	// use modifyTimestamp.
	noContentSync bool
}

func (d *stopDir) Info(ctx context.Context) (*ldapbridge.ServerInfo, error) {
	info, err := d.Dir.Info(ctx)
	if err == nil && d.noContentSync {
		info.SupportedControl = slices.DeleteFunc(slices.Clone(info.SupportedControl), func(c string) bool { return c == ldapdir.ContentSyncOID })
	}
	return info, err
}

func (d *stopDir) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	return d.Dir.SearchPages(ctx, req, func(p []*ldapbridge.Entry) error {
		if err := fn(p); err != nil {
			return err
		}
		if d.onPage != nil {
			d.onPage(d.pages.Add(1))
		}
		return nil
	})
}

type envOpts struct {
	policy, maxRemovals, filter string
	exempt                      []string
	// queryField is users.query_field.
	queryField string
	// noGroupSync sets sync.groups: false.
	noGroupSync bool
	// noMembershipSync sets sync.memberships: false.
	noMembershipSync bool
	// fullEvery, when set, is sync.full_every.
	fullEvery *int
	// removedGroups, when set, is sync.removed_groups.
	removedGroups string
	// stableIDAttr, when set, is users.stable_id_attribute.
	stableIDAttr string
	// batch is Options.BatchSize (0: the default).
	batch int
	// progress is Options.Progress.
	progress func(dirsync.Progress)
	// wrap, when set, wraps the store the Syncer writes to.
	wrap func(ldapbridge.Store) ldapbridge.Store
	// hooks are the login's auth.Hooks (the sync shares them through the Mapper).
	hooks auth.Hooks
	// syncHooks are the sync's own (dirsync.Options.Hooks), and events
	// its Options.Events.
	syncHooks dirsync.Hooks
	events    dirsync.EventsFunc
	// extraAttrs is users.extra_attributes.
	extraAttrs []string
	// require and deny are access.require and access.deny.
	require, deny ldapbridge.GroupQuery
	// fullRead makes every run a full paged read (NewFullReadSource).
	fullRead bool
	// yaml, when set, rewrites the configuration template before its
	// placeholders are filled.
	yaml func(string) string
}

func newEnv(t *testing.T, srv *slapdtest.Server, dsn string, o envOpts) *env {
	t.Helper()
	if srv == nil {
		srv = slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	}
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "sync.db")
	}
	if o.policy == "" {
		o.policy = "deactivate"
	}
	if o.maxRemovals == "" {
		o.maxRemovals = "50%"
	}
	if o.filter == "" {
		o.filter = "(objectClass=inetOrgPerson)"
	}
	tmpl := syncConfig
	if o.yaml != nil {
		tmpl = o.yaml(tmpl)
	}
	y := strings.NewReplacer("URL", srv.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.JCUsersDN, "DSN", dsn, "POLICY", o.policy, "MAXREM", `"`+o.maxRemovals+`"`,
		"SYNCFILTER", o.filter).Replace(tmpl)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o.exempt != nil {
		cfg.Sync.ExemptUsers = o.exempt
	}
	cfg.Users.QueryField = o.queryField
	cfg.Sync.Groups = !o.noGroupSync
	cfg.Sync.Memberships = !o.noMembershipSync
	if o.fullEvery != nil {
		cfg.Sync.FullEvery = *o.fullEvery
	}
	if o.removedGroups != "" {
		cfg.Sync.RemovedGroups = o.removedGroups
	}
	if o.stableIDAttr != "" {
		cfg.Users.StableIDAttribute = o.stableIDAttr
	}
	ctx := t.Context()
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	st, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Users.ExtraAttributes = o.extraAttrs
	cfg.Access.Require, cfg.Access.Deny = o.require, o.deny
	a, err := auth.New(cfg, dir, st, auth.Options{Hooks: o.hooks})
	if err != nil {
		t.Fatal(err)
	}
	sd := &stopDir{Dir: dir}
	var syncStore ldapbridge.Store = st
	if o.wrap != nil {
		syncStore = o.wrap(st)
	}
	var newSource func(dirsync.Directory) dirsync.ChangeSource
	if o.fullRead {
		newSource = dirsync.NewFullReadSource(cfg, a.Mapper())
	}
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: sd, Store: syncStore, Mapper: a.Mapper(), SkewMargin: time.Second,
		BatchSize: o.batch, Progress: o.progress, NewSource: newSource, Hooks: o.syncHooks, Events: o.events})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, store: st, dir: sd, sync: s, auth: a}
}

func (e *env) run(ro dirsync.RunOptions) *dirsync.Report {
	e.t.Helper()
	rep, err := e.sync.Run(e.t.Context(), ro)
	if err != nil {
		e.t.Fatalf("sync: %v (warnings %v)", err, rep.Warnings)
	}
	return rep
}

func (e *env) user(name string) *ldapbridge.User {
	e.t.Helper()
	u, err := e.store.User(e.t.Context(), name)
	if err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// fixtureUsers is every inetOrgPerson under JCUsersDN, the service account included.
const fixtureUsers = 11

func counts(r *dirsync.Report) [10]int {
	return [10]int{r.UsersCreated, r.UsersUpdated, r.UsersDeactivated, r.UsersDeleted, r.UsersUnchanged,
		r.GroupsCreated, r.GroupsUpdated, r.GroupsDeleted, r.MembershipsAdded, r.MembershipsRemoved}
}

func TestFullSyncCreatesThenSecondRunChangesNothing(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	rep := e.run(dirsync.RunOptions{})
	if rep.Mode != dirsync.Full || rep.UsersCreated != fixtureUsers || rep.GroupsCreated != 7 || rep.Aborted {
		t.Fatalf("first run: mode %s, %d users created, %d groups created; want full, %d, 7", rep.Mode, rep.UsersCreated, rep.GroupsCreated, fixtureUsers)
	}
	// groups 7, users: 1 search; plus the root DSE and the content-sync cookie.
	if rep.LDAPSearches != 4 {
		t.Errorf("ldap_searches = %d, want 4 (root DSE, groups, content-sync cookie, users)", rep.LDAPSearches)
	}
	nina := e.user(slapdtest.JCNinaUID)
	if strings.Join(nina.Groups, ",") != "backend,engineering" || strings.Join(nina.DirectGroups, ",") != "backend" {
		t.Errorf("nina groups %v direct %v, want backend,engineering / backend", nina.Groups, nina.DirectGroups)
	}
	if bob := e.user(slapdtest.JCBobUID); !bob.IsStaff || bob.IsSuperuser {
		t.Errorf("bob staff=%v superuser=%v, want true false", bob.IsStaff, bob.IsSuperuser)
	}
	if dave := e.user(slapdtest.JCDaveUID); !dave.HasPhoto {
		t.Error("dave has no photo after sync")
	}
	again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if c := counts(again); c != [10]int{0, 0, 0, 0, fixtureUsers, 0, 0, 0, 0, 0} {
		t.Errorf("second run counts %v, want only %d unchanged", c, fixtureUsers)
	}
}

func TestUpdatesRenamesAndMembershipChanges(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	e.run(dirsync.RunOptions{})
	grace := e.user(slapdtest.JCGraceUID)
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: sn\nsn: Changed\n\n"+
		"dn: "+slapdtest.JCGraceDN+"\nchangetype: modrdn\nnewrdn: uid=grace2\ndeleteoldrdn: 1\n\n"+
		"dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCErinDN+"\n\n"+
		"dn: "+slapdtest.JCBackendGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCAliceDN+"\n")
	rep := e.run(dirsync.RunOptions{})
	// alice (sn), grace (rename), erin (is_staff from the group).
	if rep.UsersUpdated != 3 || rep.UsersCreated != 0 || rep.UsersDeactivated != 0 || rep.MembershipsAdded != 2 {
		t.Errorf("counts %v, want 3 updated, 2 memberships added (plan %+v)", counts(rep), rep.Plan)
	}
	if a := e.user(slapdtest.JCAliceUID); a.LastName != "Changed" || !strings.Contains(strings.Join(a.Groups, ","), "engineering") {
		t.Errorf("alice: last name %q groups %v; want Changed and engineering through backend", a.LastName, a.Groups)
	}
	if g2 := e.user("grace2"); g2.ID != grace.ID || g2.StableID != grace.StableID {
		t.Errorf("renamed grace: id %d stable %q, want %d %q", g2.ID, g2.StableID, grace.ID, grace.StableID)
	}
	if erin := e.user(slapdtest.JCErinUID); !erin.IsStaff {
		t.Error("erin is not staff after joining the staff group")
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCErinDN+"\n")
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.MembershipsRemoved != 1 || rep.UsersUpdated != 1 || e.user(slapdtest.JCErinUID).IsStaff {
		t.Errorf("after removing erin from staff: counts %v, want 1 update and 1 membership removed", counts(rep))
	}
}

func TestRemovalPolicies(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	tests := []struct {
		name, policy        string
		exempt              []string
		wantDeact, wantDel  int
		graceExists, active bool
	}{
		{"DeactivateKeepsTheRowInactive", "deactivate", nil, 1, 0, true, false},
		{"DeleteRemovesTheRow", "delete", nil, 0, 1, false, false},
		{"KeepLeavesTheUserActive", "keep", nil, 0, 0, true, true},
		{"ExemptUserIsNeverTouched", "deactivate", []string{slapdtest.JCGraceUID}, 0, 0, true, true},
	}
	// Every case narrows the population to exclude grace instead of
	// deleting her, so the cases share one server.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "r.db")
			full := newEnv(t, srv, dsn, envOpts{policy: tc.policy, exempt: tc.exempt})
			if tc.exempt != nil {
				loginGrace(t, full) // a sync never creates an exempt user; a login does
			}
			full.run(dirsync.RunOptions{})
			narrow := newEnv(t, srv, dsn, envOpts{policy: tc.policy, exempt: tc.exempt, filter: "(&(objectClass=inetOrgPerson)(!(uid=grace)))"})
			rep := narrow.run(dirsync.RunOptions{})
			if rep.UsersDeactivated != tc.wantDeact || rep.UsersDeleted != tc.wantDel {
				t.Errorf("deactivated %d deleted %d, want %d %d", rep.UsersDeactivated, rep.UsersDeleted, tc.wantDeact, tc.wantDel)
			}
			u, err := narrow.store.User(t.Context(), slapdtest.JCGraceUID)
			if exists := err == nil; exists != tc.graceExists {
				t.Fatalf("grace exists = %v, want %v (%v)", exists, tc.graceExists, err)
			}
			if err == nil && u.IsActive != tc.active {
				t.Errorf("grace active = %v, want %v", u.IsActive, tc.active)
			}
			// A user back in the population is reactivated.
			if tc.policy == "deactivate" && tc.exempt == nil {
				back := full.run(dirsync.RunOptions{})
				if back.UsersUpdated != 1 || !full.user(slapdtest.JCGraceUID).IsActive {
					t.Errorf("grace back in the directory: %d updated, active %v", back.UsersUpdated, full.user(slapdtest.JCGraceUID).IsActive)
				}
			}
		})
	}
}

func TestLocalAccountsAreNeverTouched(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	local := &ldapbridge.User{Username: slapdtest.JCGraceUID, Source: ldapbridge.SourceLocal, IsActive: true, PasswordHash: "$argon2id$x"}
	if err := e.store.CreateUser(t.Context(), local); err != nil {
		t.Fatal(err)
	}
	rep := e.run(dirsync.RunOptions{})
	if rep.UsersCreated != fixtureUsers-1 || len(rep.Warnings) == 0 {
		t.Errorf("created %d, warnings %v; want %d and a warning about grace", rep.UsersCreated, rep.Warnings, fixtureUsers-1)
	}
	g := e.user(slapdtest.JCGraceUID)
	if g.Source != ldapbridge.SourceLocal || g.PasswordHash != local.PasswordHash || g.DN != "" {
		t.Errorf("local grace was changed: %+v", g)
	}
}

func TestGuardStopsMassRemovalUntilForced(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := filepath.Join(t.TempDir(), "g.db")
	newEnv(t, srv, dsn, envOpts{maxRemovals: "5%"}).run(dirsync.RunOptions{})
	narrow := newEnv(t, srv, dsn, envOpts{maxRemovals: "5%", filter: "(&(objectClass=inetOrgPerson)(uid=alice))"})
	rep, err := narrow.sync.Run(t.Context(), dirsync.RunOptions{})
	if !errors.Is(err, dirsync.ErrGuard) || !rep.Aborted || !strings.Contains(rep.AbortReason, "10 of 11") || !strings.Contains(rep.AbortReason, "--force") {
		t.Fatalf("narrowed run: err %v, reason %q; want the guard naming 10 of 11 and --force", err, rep.AbortReason)
	}
	if rep.UsersDeactivated != 0 || !narrow.user(slapdtest.JCBobUID).IsActive {
		t.Fatal("the guard tripped but users were deactivated")
	}
	if runs, _ := narrow.store.SyncRuns(t.Context(), 1); len(runs) != 1 || runs[0].Outcome != "aborted" {
		t.Errorf("history does not show the aborted run: %+v", runs)
	}
	rep = narrow.run(dirsync.RunOptions{Force: true})
	if rep.UsersDeactivated != 10 || narrow.user(slapdtest.JCBobUID).IsActive {
		t.Errorf("forced run deactivated %d, want 10", rep.UsersDeactivated)
	}
}

func TestServerLostDuringReadDeactivatesNobodyAndRerunConverges(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	e.run(dirsync.RunOptions{})
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: sn\nsn: Later\n")
	// Page 4 is the second page of users (3 pages of groups at page_size 3).
	e.dir.onPage = func(n int64) {
		if n == 4 {
			e.srv.Stop(t)
		}
	}
	rep, err := e.sync.Run(t.Context(), dirsync.RunOptions{Mode: dirsync.Full})
	if err == nil || !rep.Aborted || rep.UsersDeactivated != 0 {
		t.Fatalf("run with the server stopped: err %v aborted %v deactivated %d; want an abort and nobody deactivated", err, rep.Aborted, rep.UsersDeactivated)
	}
	all, _ := e.store.ListUsers(t.Context(), ldapbridge.UserQuery{})
	for _, u := range all {
		if !u.IsActive && u.Username != slapdtest.JCFrankUID {
			t.Errorf("%s was deactivated by an aborted run", u.Username)
		}
	}
	e.dir.onPage = nil
	e.srv.Start(t)
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersDeactivated != 0 || rep.UsersCreated != 0 || e.user(slapdtest.JCAliceUID).LastName != "Later" {
		t.Errorf("rerun: %v, alice %q", counts(rep), e.user(slapdtest.JCAliceUID).LastName)
	}
	if again := e.run(dirsync.RunOptions{Mode: dirsync.Full}); again.UsersUnchanged != fixtureUsers || again.UsersUpdated != 0 {
		t.Errorf("third run not converged: %v", counts(again))
	}
}

func TestEmptyResultAborts(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := filepath.Join(t.TempDir(), "e.db")
	newEnv(t, srv, dsn, envOpts{}).run(dirsync.RunOptions{})
	empty := newEnv(t, srv, dsn, envOpts{filter: "(uid=nobody-at-all)"})
	rep, err := empty.sync.Run(t.Context(), dirsync.RunOptions{Force: true})
	if !errors.Is(err, dirsync.ErrAborted) || !strings.Contains(rep.AbortReason, "no users") {
		t.Fatalf("empty result: err %v reason %q", err, rep.AbortReason)
	}
	if !empty.user(slapdtest.JCAliceUID).IsActive {
		t.Error("alice deactivated by an empty result")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	rep := e.run(dirsync.RunOptions{DryRun: true})
	if rep.UsersCreated != fixtureUsers || len(rep.Plan.Create) != fixtureUsers || rep.MembershipsAdded == 0 {
		t.Errorf("dry run plan: %v, create %v", counts(rep), rep.Plan.Create)
	}
	users, _ := e.store.ListUsers(t.Context(), ldapbridge.UserQuery{})
	groups, _ := e.store.ListGroups(t.Context())
	runs, _ := e.store.SyncRuns(t.Context(), 0)
	if len(users)+len(groups)+len(runs) != 0 {
		t.Errorf("dry run wrote %d users, %d groups, %d runs", len(users), len(groups), len(runs))
	}
}

func TestIncrementalReadsOnlyChangedEntries(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	e.dir.noContentSync = true
	time.Sleep(2100 * time.Millisecond) // fixture timestamps fall outside the 1s skew margin
	if rep := e.run(dirsync.RunOptions{}); rep.Mode != dirsync.Full {
		t.Fatalf("first run mode %s, want full", rep.Mode)
	}
	time.Sleep(2100 * time.Millisecond)
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: givenName\ngivenName: Al\n\n"+
		"dn: "+slapdtest.JCSuperuserGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCDaveDN+"\n")
	rep := e.run(dirsync.RunOptions{})
	if rep.Mode != dirsync.Incremental {
		t.Fatalf("second run mode %s (%s), want incremental", rep.Mode, rep.FallbackReason)
	}
	// alice re-read and changed; dave's flag refreshed from the group; nobody else read.
	if rep.UsersUpdated != 2 || rep.UsersUnchanged != 0 || rep.MembershipsAdded != 1 || rep.LDAPSearches > 3 {
		t.Errorf("incremental: %v searches %d plan %+v", counts(rep), rep.LDAPSearches, rep.Plan)
	}
	if e.user(slapdtest.JCAliceUID).FirstName != "Al" || !e.user(slapdtest.JCDaveUID).IsSuperuser {
		t.Error("incremental run did not apply alice's name or dave's superuser flag")
	}
	again := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if c := counts(again); c != [10]int{0, 0, 0, 0, c[4], 0, 0, 0, 0, 0} || c[4] > 1 || again.LDAPSearches > 3 {
		t.Errorf("no-change incremental: %v with %d searches, want no writes (alice at most re-read within the skew margin) and at most 3 searches", c, again.LDAPSearches)
	}
}
