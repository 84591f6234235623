package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// PlanStore is the part of a store that ExerciseLookups calls: the SQL
// core's data methods, without the driver's InTx, Migrate and Close, so a
// driver's test can run them on a traced core store (sqlcore.Traced).
type PlanStore interface {
	User(ctx context.Context, username string) (*ldapbridge.User, error)
	UserByID(ctx context.Context, id int64) (*ldapbridge.User, error)
	UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error)
	UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error)
	CreateUser(ctx context.Context, u *ldapbridge.User) error
	UpdateUser(ctx context.Context, u *ldapbridge.User) error
	DeleteUser(ctx context.Context, id int64) error
	Photo(ctx context.Context, userID int64) ([]byte, error)
	RecordLogin(ctx context.Context, userID int64, at time.Time) error
	Group(ctx context.Context, name string) (*ldapbridge.Group, error)
	GroupByDN(ctx context.Context, dn string) (*ldapbridge.Group, error)
	ListGroups(ctx context.Context) ([]*ldapbridge.Group, error)
	UpsertGroup(ctx context.Context, g *ldapbridge.Group) error
	DeleteGroup(ctx context.Context, id int64) error
	SetUserGroupsWithin(ctx context.Context, userID int64, groupIDs []int64, owned func(*ldapbridge.Group) bool) error
	SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error
	Memberships(ctx context.Context) ([]ldapbridge.Membership, error)
	AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error
	RemoveMemberships(ctx context.Context, ms []ldapbridge.Membership) error
	SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error
	SetSyncHash(ctx context.Context, userID int64, hash string) error
	SetUserVerdict(ctx context.Context, userID int64, verdict, reason, hash string) error
	RecordSyncRun(ctx context.Context, run *ldapbridge.SyncRun) error
	SyncCursor(ctx context.Context, server string) (string, error)
	SetSyncCursor(ctx context.Context, server, cursor string) error
}

// SessionFinder is the web session store's part that a request uses.
type SessionFinder interface {
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
}

// Stmt is one statement a store ran, with its arguments and the store
// call that ran it. Whole marks a call that reads a whole table by design
// (a sync's diff of every user, group and membership), whose scans are
// expected.
type Stmt struct {
	SQL   string
	Args  []any
	Call  string
	Whole bool
}

// Recorder collects the statements of the calls ExerciseLookups makes;
// give Record to sqlcore.Traced.
type Recorder struct {
	call  string
	whole bool
	Stmts []Stmt
}

// Record notes one statement under the current call.
func (r *Recorder) Record(q string, args []any) {
	r.Stmts = append(r.Stmts, Stmt{SQL: q, Args: append([]any(nil), args...), Call: r.call, Whole: r.whole})
}

// ExerciseLookups makes, on st (empty and migrated, traced into r), every
// store call that a login, a sync and a web request make: users by stable
// id, username, email, DN and id, group upserts matched by stable id, DN
// and name, memberships, photos, last login, sync hashes and verdicts,
// cursors, run history and sessions. users.query_field on first_name or
// last_name is left out: those columns have no index.
func ExerciseLookups(t *testing.T, st PlanStore, sessions SessionFinder, r *Recorder) {
	ctx := t.Context()
	step := func(call string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", call, err)
		}
	}
	do := func(call string, whole bool, fn func() error) {
		t.Helper()
		r.call, r.whole = call, whole
		step(call, fn())
		r.call, r.whole = "", false
	}
	u := &ldapbridge.User{Username: "plan", Source: ldapbridge.SourceLDAP, DN: "uid=plan,ou=People,dc=example,dc=com",
		StableID: "0b5c-plan", Email: "plan@example.com", IsActive: true, Photo: []byte{0xff, 0xd8, 1}}
	do("CreateUser", false, func() error { return st.CreateUser(ctx, u) })
	for _, c := range []struct {
		call string
		fn   func() error
	}{
		{"User", func() error { _, err := st.User(ctx, u.Username); return err }},
		{"UserByStableID", func() error { _, err := st.UserByStableID(ctx, u.StableID); return err }},
		{"UserByField username", func() error { _, err := st.UserByField(ctx, "username", u.Username); return err }},
		{"UserByField email", func() error { _, err := st.UserByField(ctx, "email", "PLAN@example.com"); return err }},
		{"UserByField dn", func() error { _, err := st.UserByField(ctx, "dn", strings.ToUpper(u.DN)); return err }},
		{"UserByID", func() error { _, err := st.UserByID(ctx, u.ID); return err }},
		{"Photo", func() error { _, err := st.Photo(ctx, u.ID); return err }},
		{"UpdateUser", func() error { u.FirstName = "Plan"; return st.UpdateUser(ctx, u) }},
		{"UpdateUser without photo", func() error { u.Photo, u.HasPhoto = nil, false; return st.UpdateUser(ctx, u) }},
		{"RecordLogin", func() error { return st.RecordLogin(ctx, u.ID, time.Now()) }},
	} {
		do(c.call, false, c.fn)
	}
	g := &ldapbridge.Group{Name: "plan-staff", DN: "cn=plan-staff,ou=Groups,dc=example,dc=com", StableID: "0b5c-staff"}
	parent := &ldapbridge.Group{Name: "plan-all", DN: "cn=plan-all,ou=Groups,dc=example,dc=com"}
	do("UpsertGroup new", false, func() error { return st.UpsertGroup(ctx, g) })
	do("UpsertGroup new without stable id", false, func() error { return st.UpsertGroup(ctx, parent) })
	do("UpsertGroup by stable id", false, func() error { return st.UpsertGroup(ctx, g) })
	do("UpsertGroup by dn", false, func() error { return st.UpsertGroup(ctx, &ldapbridge.Group{Name: parent.Name, DN: parent.DN}) })
	do("GroupByDN", false, func() error { _, err := st.GroupByDN(ctx, strings.ToUpper(parent.DN)); return err })
	do("UpsertGroup by name", false, func() error { return st.UpsertGroup(ctx, &ldapbridge.Group{Name: parent.Name}) })
	do("UpsertGroup renamed", false, func() error { g.Name = "plan-staff2"; return st.UpsertGroup(ctx, g) })
	do("SetUserGroupsWithin", false, func() error {
		return st.SetUserGroupsWithin(ctx, u.ID, []int64{g.ID, parent.ID}, func(*ldapbridge.Group) bool { return true })
	})
	do("SetUserGroupsWithin drop", false, func() error {
		return st.SetUserGroupsWithin(ctx, u.ID, []int64{g.ID}, func(*ldapbridge.Group) bool { return true })
	})
	do("SetGroupParents", false, func() error { return st.SetGroupParents(ctx, g.ID, []int64{parent.ID}) })
	do("User with groups", false, func() error { _, err := st.User(ctx, u.Username); return err })
	do("Group", false, func() error { _, err := st.Group(ctx, parent.Name); return err })

	// A sync.
	edge := []ldapbridge.Membership{{GroupID: parent.ID, UserID: u.ID}}
	do("SetSyncHash", false, func() error { return st.SetSyncHash(ctx, u.ID, "h1") })
	do("SetUserVerdict", false, func() error { return st.SetUserVerdict(ctx, u.ID, ldapbridge.VerdictOK, "", "h2") })
	do("AddMemberships", false, func() error { return st.AddMemberships(ctx, edge) })
	do("RemoveMemberships", false, func() error { return st.RemoveMemberships(ctx, edge) })
	do("SetSyncCursor", false, func() error { return st.SetSyncCursor(ctx, "ldap://plan", "c1") })
	do("SyncCursor", false, func() error { _, err := st.SyncCursor(ctx, "ldap://plan"); return err })
	run := &ldapbridge.SyncRun{StartedAt: time.Now(), Mode: "full", Outcome: "ok"}
	do("RecordSyncRun insert", false, func() error { return st.RecordSyncRun(ctx, run) })
	do("RecordSyncRun update", false, func() error { return st.RecordSyncRun(ctx, run) })
	do("SyncUserStates", true, func() error {
		return st.SyncUserStates(ctx, func(ldapbridge.SyncUserState) error { return nil })
	})
	do("ListGroups", true, func() error { _, err := st.ListGroups(ctx); return err })
	do("Memberships", true, func() error { _, err := st.Memberships(ctx); return err })

	// A web request.
	do("session CommitCtx", false, func() error { return sessions.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)) })
	do("session FindCtx", false, func() error { _, _, err := sessions.FindCtx(ctx, "tok"); return err })
	do("session DeleteCtx", false, func() error { return sessions.DeleteCtx(ctx, "tok") })

	do("DeleteGroup", false, func() error { return st.DeleteGroup(ctx, parent.ID) })
	do("DeleteUser", false, func() error { return st.DeleteUser(ctx, u.ID) })
}

// CheckPlans explains every distinct statement r holds with explain,
// which returns the plan's text and the tables it reads without an index,
// and fails the test for each statement outside a whole-table call that
// reads a table without one. It returns how many statements it checked.
func CheckPlans(t *testing.T, r *Recorder, explain func(q string, args []any) (plan string, scans []string, err error)) int {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range r.Stmts {
		if s.Call == "" || seen[s.SQL] {
			continue
		}
		seen[s.SQL] = true
		plan, scans, err := explain(s.SQL, s.Args)
		if err != nil {
			t.Errorf("%s: explain %s: %v", s.Call, s.SQL, err)
			continue
		}
		if len(scans) > 0 && !s.Whole {
			t.Errorf("%s reads %s without an index:\n%s\nplan:\n%s", s.Call, strings.Join(scans, ", "), s.SQL, plan)
		}
	}
	return len(seen)
}
