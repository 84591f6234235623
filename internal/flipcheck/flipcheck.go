// Package flipcheck runs the property that ties logins and syncs together
// (DESIGN.md "One judge"; issue 11) against a real directory: for every
// fixture user, login → sync --full → login → sync --incremental leaves the
// stored record, flags, groups and verdict identical after each step
// (nothing flips), and a second run of each step changes nothing.
//
// The tests of dirsync (slapd: the JumpCloud fixture and the classic tree)
// and internal/adtest (Samba AD DC) call Run with their own directory,
// configuration and store.
package flipcheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/dirsync"
)

// Login is one fixture user's credentials.
type Login struct{ Name, Password string }

// Harness is what Run drives: a login and a sync over one configuration,
// directory and store.
type Harness struct {
	Store ldapbridge.Store
	// Logins are tried in order at each login step; a refused or failed
	// login is fine, what matters is what it stores.
	Logins []Login
	// Login logs one user in (auth.Authenticator.Authenticate); it returns
	// the outcome for the log, and an error only when the call itself
	// failed.
	Login func(ctx context.Context, name, password string) (outcome string, err error)
	// Sync runs a sync in mode.
	Sync func(ctx context.Context, mode dirsync.Mode) (*dirsync.Report, error)
	// Expect names users that every sync must leave in the store (the
	// sync creates every user it reads).
	Expect []string
	// Check, when set, is called with each snapshot to assert what the
	// fixture promises (verdicts, flags), so the property is not met by a
	// store that is consistently wrong.
	Check func(t *testing.T, step string, s Snapshot)
}

// UserState is a stored user without the times a step may move
// (UpdatedAt, LastLoginAt, LastSyncedAt) and with the photo as a digest.
type UserState struct {
	ldapbridge.User
	PhotoSHA string
}

// GroupState is a stored group without its times.
type GroupState struct {
	ldapbridge.Group
}

// Snapshot is the store after a step.
type Snapshot struct {
	Users  map[string]UserState
	Groups map[string]GroupState
	// Memberships are the direct edges as "group <- user:name" and
	// "group <- group:name".
	Memberships []string
	// Updated holds each user's UpdatedAt, to tell a rewrite of an
	// unchanged record.
	Updated map[string]time.Time
}

// Take reads every user, group and membership from st.
func Take(ctx context.Context, st ldapbridge.Store) (Snapshot, error) {
	s := Snapshot{Users: map[string]UserState{}, Groups: map[string]GroupState{}, Updated: map[string]time.Time{}}
	list, err := st.ListUsers(ctx, ldapbridge.UserQuery{})
	if err != nil {
		return s, err
	}
	userNames := map[int64]string{}
	for _, l := range list {
		u, err := st.User(ctx, l.Username) // a full read: groups and flags
		if err != nil {
			return s, err
		}
		userNames[u.ID] = u.Username
		s.Updated[u.Username] = u.UpdatedAt
		us := UserState{User: *u}
		us.UpdatedAt, us.LastLoginAt, us.LastSyncedAt, us.Photo = time.Time{}, nil, nil, nil
		if u.HasPhoto {
			p, err := st.Photo(ctx, u.ID)
			if err != nil && !errors.Is(err, ldapbridge.ErrNotFound) {
				return s, err
			}
			sum := sha256.Sum256(p)
			us.PhotoSHA = hex.EncodeToString(sum[:8])
		}
		s.Users[u.Username] = us
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return s, err
	}
	groupNames := map[int64]string{}
	for _, g := range groups {
		groupNames[g.ID] = g.Name
		gs := GroupState{Group: *g}
		gs.CreatedAt, gs.UpdatedAt = time.Time{}, time.Time{}
		s.Groups[g.Name] = gs
	}
	ms, err := st.Memberships(ctx)
	if err != nil {
		return s, err
	}
	for _, m := range ms {
		if m.UserID != 0 {
			s.Memberships = append(s.Memberships, groupNames[m.GroupID]+" <- user:"+userNames[m.UserID])
		} else {
			s.Memberships = append(s.Memberships, groupNames[m.GroupID]+" <- group:"+groupNames[m.ChildGroupID])
		}
	}
	slices.Sort(s.Memberships)
	return s, nil
}

// diffFields lists the fields in which a and b differ, as "Field: a → b".
func diffFields(a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	var walk func(prefix string, x, y reflect.Value)
	walk = func(prefix string, x, y reflect.Value) {
		for i := range x.NumField() {
			f := x.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(prefix, x.Field(i), y.Field(i))
				continue
			}
			xi, yi := x.Field(i).Interface(), y.Field(i).Interface()
			if !equalValue(xi, yi) {
				out = append(out, fmt.Sprintf("%s%s: %v → %v", prefix, f.Name, xi, yi))
			}
		}
	}
	walk("", va, vb)
	return out
}

// equalValue is reflect.DeepEqual with nil and empty maps and slices equal.
func equalValue(x, y any) bool {
	vx, vy := reflect.ValueOf(x), reflect.ValueOf(y)
	if vx.Kind() == reflect.Map || vx.Kind() == reflect.Slice {
		if vx.Len() == 0 && vy.Len() == 0 {
			return true
		}
	}
	return reflect.DeepEqual(x, y)
}

// compareUsers reports every user whose state differs between before and
// after; with common only the users in both are compared, else a user in
// one and not the other is a difference too.
func compareUsers(t *testing.T, step string, before, after Snapshot, common bool) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(before.Users)) {
		b := before.Users[name]
		a, ok := after.Users[name]
		if !ok {
			t.Errorf("%s: user %q was in the store before and is gone", step, name)
			continue
		}
		if d := diffFields(b, a); len(d) > 0 {
			t.Errorf("%s: user %q flipped:\n\t%s", step, name, strings.Join(d, "\n\t"))
		}
	}
	if common {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(after.Users)) {
		if _, ok := before.Users[name]; !ok {
			t.Errorf("%s: user %q appeared", step, name)
		}
	}
}

// compareGroups reports differences in the group table and the direct
// memberships.
func compareGroups(t *testing.T, step string, before, after Snapshot) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(before.Groups)) {
		a, ok := after.Groups[name]
		if !ok {
			t.Errorf("%s: group %q is gone", step, name)
			continue
		}
		if d := diffFields(before.Groups[name], a); len(d) > 0 {
			t.Errorf("%s: group %q flipped:\n\t%s", step, name, strings.Join(d, "\n\t"))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(after.Groups)) {
		if _, ok := before.Groups[name]; !ok {
			t.Errorf("%s: group %q appeared", step, name)
		}
	}
	if !slices.Equal(before.Memberships, after.Memberships) {
		var gone, added []string
		for _, m := range before.Memberships {
			if !slices.Contains(after.Memberships, m) {
				gone = append(gone, m)
			}
		}
		for _, m := range after.Memberships {
			if !slices.Contains(before.Memberships, m) {
				added = append(added, m)
			}
		}
		t.Errorf("%s: memberships flipped: removed %q, added %q", step, gone, added)
	}
}

// reportChanges returns the non-zero change counts of a sync report.
func reportChanges(r *dirsync.Report) []string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
		plan []string
	}{
		{"users created", r.UsersCreated, r.Plan.Create},
		{"users updated", r.UsersUpdated, r.Plan.Update},
		{"users deactivated", r.UsersDeactivated, r.Plan.Deactivate},
		{"users deleted", r.UsersDeleted, r.Plan.Delete},
		{"users refused", r.UsersRefused, r.Plan.Refuse},
		{"groups created", r.GroupsCreated, r.Plan.GroupsCreate},
		{"groups updated", r.GroupsUpdated, r.Plan.GroupsUpdate},
		{"groups deleted", r.GroupsDeleted, r.Plan.GroupsDelete},
		{"memberships added", r.MembershipsAdded, r.Plan.MembershipsAdd},
		{"memberships removed", r.MembershipsRemoved, r.Plan.MembershipsRemove},
	} {
		if c.n != 0 {
			out = append(out, fmt.Sprintf("%s %d %q", c.name, c.n, c.plan))
		}
	}
	return out
}

// Run checks the property: login → sync --full → login → sync
// --incremental, each step run twice.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := t.Context()
	take := func(step string) Snapshot {
		t.Helper()
		s, err := Take(ctx, h.Store)
		if err != nil {
			t.Fatalf("%s: read the store: %v", step, err)
		}
		if h.Check != nil {
			h.Check(t, step, s)
		}
		return s
	}
	login := func(step string) {
		t.Helper()
		var outcomes []string
		for _, l := range h.Logins {
			out, err := h.Login(ctx, l.Name, l.Password)
			if err != nil {
				t.Fatalf("%s: login %q: %v", step, l.Name, err)
			}
			outcomes = append(outcomes, l.Name+"="+out)
		}
		t.Logf("%s: %s", step, strings.Join(outcomes, " "))
	}
	sync := func(step string, mode dirsync.Mode) *dirsync.Report {
		t.Helper()
		rep, err := h.Sync(ctx, mode)
		if err != nil {
			t.Fatalf("%s: %v (warnings %v)", step, err, rep.Warnings)
		}
		if rep.Mode != mode {
			t.Fatalf("%s: the run was %s (%s), want %s", step, rep.Mode, rep.FallbackReason, mode)
		}
		t.Logf("%s: %d created, %d updated, %d unchanged, %d refused, memberships +%d -%d, %d searches",
			step, rep.UsersCreated, rep.UsersUpdated, rep.UsersUnchanged, rep.UsersRefused, rep.MembershipsAdded, rep.MembershipsRemoved, rep.LDAPSearches)
		return rep
	}
	// A step run a second time: the store is as it was, no user is
	// rewritten (UpdatedAt) and a sync reports no change.
	again := func(step string, before Snapshot, rep *dirsync.Report) Snapshot {
		t.Helper()
		after := take(step)
		compareUsers(t, step, before, after, false)
		compareGroups(t, step, before, after)
		for name, at := range before.Updated {
			if got, ok := after.Updated[name]; ok && !got.Equal(at) {
				t.Errorf("%s: user %q was rewritten (updated_at %v → %v) with nothing to change", step, name, at, got)
			}
		}
		if rep != nil {
			if c := reportChanges(rep); len(c) > 0 {
				t.Errorf("%s: the run changed something: %s", step, strings.Join(c, "; "))
			}
		}
		return after
	}
	expect := func(step string, s Snapshot) {
		t.Helper()
		for _, name := range h.Expect {
			if _, ok := s.Users[name]; !ok {
				t.Errorf("%s: user %q is not in the store", step, name)
			}
		}
	}

	login("1 login")
	s1 := take("1 login")
	login("1 login again")
	s1 = again("1 login again", s1, nil)

	sync("2 full sync", dirsync.Full)
	s2 := take("2 full sync")
	expect("2 full sync", s2)
	compareUsers(t, "1 login → 2 full sync", s1, s2, true)
	rep := sync("2 full sync again", dirsync.Full)
	s2 = again("2 full sync again", s2, rep)

	login("3 login")
	s3 := take("3 login")
	compareUsers(t, "2 full sync → 3 login", s2, s3, false)
	compareGroups(t, "2 full sync → 3 login", s2, s3)
	login("3 login again")
	s3 = again("3 login again", s3, nil)

	sync("4 incremental sync", dirsync.Incremental)
	s4 := take("4 incremental sync")
	expect("4 incremental sync", s4)
	compareUsers(t, "3 login → 4 incremental sync", s3, s4, false)
	compareGroups(t, "3 login → 4 incremental sync", s3, s4)
	rep = sync("4 incremental sync again", dirsync.Incremental)
	again("4 incremental sync again", s4, rep)
}
