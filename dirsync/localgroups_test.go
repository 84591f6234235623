package dirsync_test

import (
	"fmt"
	"path/filepath"
	"strings"
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

// newMirrorEnv is newEnv's setup with groups.mirror set.
func newMirrorEnv(t *testing.T, srv *slapdtest.Server, mirror config.Mirror) *env {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "sync.db")
	y := strings.NewReplacer("URL", srv.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.JCUsersDN, "DSN", dsn, "POLICY", "deactivate", "MAXREM", `"50%"`,
		"SYNCFILTER", "(objectClass=inetOrgPerson)").Replace(syncConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Groups.Mirror = mirror
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
	a, err := auth.New(cfg, dir, st, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sd := &stopDir{Dir: dir}
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: sd, Store: st, Mapper: a.Mapper(), SkewMargin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, store: st, dir: sd, sync: s, auth: a}
}

func (e *env) localGroup(name string, members ...string) *ldapbridge.Group {
	e.t.Helper()
	g := &ldapbridge.Group{Name: name, Source: ldapbridge.SourceLocal}
	if err := e.store.UpsertGroup(e.t.Context(), g); err != nil {
		e.t.Fatal(err)
	}
	var ms []ldapbridge.Membership
	for _, m := range members {
		ms = append(ms, ldapbridge.Membership{GroupID: g.ID, UserID: e.user(m).ID})
	}
	if err := e.store.AddMemberships(e.t.Context(), ms); err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) members(group string) string {
	e.t.Helper()
	us, err := e.store.ListUsers(e.t.Context(), ldapbridge.UserQuery{Group: group})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Username)
	}
	return fmt.Sprint(names)
}

// TestSyncAndLoginKeepLocalGroupMembers is issue 11's disagreement 1 at
// sync: a local group's members stay through logins and full and
// incremental syncs, in every groups.mirror mode, and the directory
// memberships the mirror covers still follow the directory.
func TestSyncAndLoginKeepLocalGroupMembers(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	for _, tt := range []struct {
		mirror  config.Mirror
		bobWant string // bob's direct groups with editors
	}{
		{config.Mirror{Mode: "all"}, "[Django App active editors engineering staff]"},
		{config.Mirror{Mode: "only", Names: []string{"staff"}}, "[editors staff]"},
		{config.Mirror{Mode: "except", Names: []string{"active"}}, "[Django App editors engineering staff]"},
		{config.Mirror{Mode: "none"}, "[editors]"},
	} {
		t.Run(tt.mirror.Mode, func(t *testing.T) {
			e := newMirrorEnv(t, srv, tt.mirror)
			e.run(dirsync.RunOptions{Mode: dirsync.Full})
			e.localGroup("editors", slapdtest.JCBobUID, slapdtest.JCNinaUID)
			steps := []struct {
				name string
				do   func()
			}{
				{"full sync", func() { e.run(dirsync.RunOptions{Mode: dirsync.Full}) }},
				{"login", func() {
					res, err := e.auth.Authenticate(t.Context(), slapdtest.JCBobUID, slapdtest.JCBobPassword)
					if err != nil || !res.Allowed {
						t.Fatalf("login bob: %v %+v", err, res)
					}
				}},
				{"incremental sync", func() { e.run(dirsync.RunOptions{Mode: dirsync.Incremental}) }},
				{"second full sync", func() {
					if rep := e.run(dirsync.RunOptions{Mode: dirsync.Full}); rep.MembershipsAdded+rep.MembershipsRemoved != 0 {
						t.Errorf("a second full sync changed memberships: %v", counts(rep))
					}
				}},
			}
			for _, st := range steps {
				st.do()
				if got := e.members("editors"); got != "[bob nina]" {
					t.Errorf("after %s: editors members %s, want [bob nina]", st.name, got)
				}
				if got := fmt.Sprint(e.user(slapdtest.JCBobUID).DirectGroups); got != tt.bobWant {
					t.Errorf("after %s: bob's direct groups %s, want %s", st.name, got, tt.bobWant)
				}
			}
		})
	}
}

// TestSyncDoesNotMergeADirectoryGroupIntoALocalOne: a local group named
// like a directory group keeps its source and members; the directory group
// is not mirrored, with a warning; flags still come from the directory.
func TestSyncDoesNotMergeADirectoryGroupIntoALocalOne(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	e := newMirrorEnv(t, srv, config.Mirror{Mode: "all"})
	e.run(dirsync.RunOptions{Mode: dirsync.Full, DryRun: true})
	// erin is in the directory's active group only, never in its staff.
	res, err := e.auth.Authenticate(t.Context(), slapdtest.JCErinUID, slapdtest.JCErinPassword)
	if err != nil || res.User == nil {
		t.Fatalf("login erin: %v %+v", err, res)
	}
	local := e.localGroup("staff", slapdtest.JCErinUID)
	for _, round := range []string{"first full sync", "second full sync"} {
		rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
		g, err := e.store.Group(t.Context(), "staff")
		if err != nil {
			t.Fatal(err)
		}
		if g.ID != local.ID || g.Source != ldapbridge.SourceLocal || g.DN != "" || g.StableID != "" {
			t.Errorf("%s: the local group staff became %+v", round, g)
		}
		if got := e.members("staff"); got != "[erin]" {
			t.Errorf("%s: staff members %s, want [erin]", round, got)
		}
		if !strings.Contains(strings.Join(rep.Warnings, "\n"), `local group "staff"`) {
			t.Errorf("%s: no warning about the hidden directory group: %v", round, rep.Warnings)
		}
		if bob := e.user(slapdtest.JCBobUID); !bob.IsStaff {
			t.Errorf("%s: bob lost is_staff, which comes from the directory group", round)
		}
	}
}

// TestSyncLeavesDirectoryGroupsOutsideTheMirrorAlone: a stored directory
// group that groups.mirror leaves out (say, mirrored before the setting
// changed) keeps its members through a full sync; only groups gone from
// the directory are removed (sync.removed_groups).
func TestSyncLeavesDirectoryGroupsOutsideTheMirrorAlone(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	e := newMirrorEnv(t, srv, config.Mirror{Mode: "only", Names: []string{"staff"}})
	e.run(dirsync.RunOptions{Mode: dirsync.Full})
	eng := &ldapbridge.Group{Name: "engineering", DN: slapdtest.JCEngineeringGroupDN}
	gone := &ldapbridge.Group{Name: "gone", DN: "cn=gone," + slapdtest.JCUsersDN}
	for _, g := range []*ldapbridge.Group{eng, gone} {
		if err := e.store.UpsertGroup(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		if err := e.store.AddMemberships(t.Context(), []ldapbridge.Membership{{GroupID: g.ID, UserID: e.user(slapdtest.JCAliceUID).ID}}); err != nil {
			t.Fatal(err)
		}
	}
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if got := e.members("engineering"); got != "[alice]" {
		t.Errorf("engineering, outside the mirror: members %s, want [alice] (plan %+v)", got, rep.Plan)
	}
	if _, err := e.store.Group(t.Context(), "gone"); err == nil || rep.GroupsDeleted != 1 {
		t.Errorf("the group gone from the directory: err %v, %d groups deleted; want it deleted", err, rep.GroupsDeleted)
	}
}
