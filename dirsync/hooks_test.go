package dirsync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// teamHook is an OnPopulate hook that sets Profile["team"] from the
// entry's employeeType (users.extra_attributes), "none" when absent.
func teamHook(calls *int) auth.Hooks {
	return auth.Hooks{OnPopulate: func(_ context.Context, u *ldapbridge.User, e *ldapbridge.Entry) error {
		*calls++
		team := e.First("employeeType")
		if team == "" {
			team = "none"
		}
		u.Profile["team"] = team
		return nil
	}}
}

func setEmployeeType(dn, v string) string {
	return "dn: " + dn + "\nchangetype: modify\nreplace: employeeType\nemployeeType: " + v + "\n\n"
}

// TestSyncRunsTheLoginsOnPopulateHook: the sync runs the login's
// Hooks.OnPopulate (shared through auth.Authenticator.Mapper) for every
// user it creates or updates, so a login and a sync leave the same record
// (issue 11, disagreement 5). A full sync keeps what the hook set at login,
// an incremental run that re-reads a changed entry runs the hook again
// (here for a change only the hook reads), and a second run of either
// changes nothing: the hook's output never makes a user look changed.
func TestSyncRunsTheLoginsOnPopulateHook(t *testing.T) {
	var calls int
	e := newEnv(t, nil, "", envOpts{hooks: teamHook(&calls), extraAttrs: []string{"employeeType"}})
	ctx := t.Context()
	e.srv.Apply(t, setEmployeeType(slapdtest.JCAliceDN, "blue"))

	res, err := e.auth.Authenticate(ctx, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if err != nil || res.Outcome != auth.OK {
		t.Fatalf("alice's login: err %v result %+v", err, res)
	}
	if got := e.user(slapdtest.JCAliceUID).Profile["team"]; got != "blue" {
		t.Fatalf("after login alice's team is %q, want blue (the hook ran at login)", got)
	}
	want := e.user(slapdtest.JCAliceUID)

	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	alice := e.user(slapdtest.JCAliceUID)
	if got := alice.Profile["team"]; got != "blue" {
		t.Errorf("after a full sync alice's team is %q, want blue: the sync overwrote what the login's hook set", got)
	}
	if alice.FirstName != want.FirstName || alice.Email != want.Email || alice.Profile["display_name"] != want.Profile["display_name"] ||
		alice.IsStaff != want.IsStaff || alice.IsSuperuser != want.IsSuperuser || alice.IsActive != want.IsActive {
		t.Errorf("sync record differs from the login's: sync %+v, login %+v", alice, want)
	}
	if got := e.user(slapdtest.JCBobUID).Profile["team"]; got != "none" {
		t.Errorf("bob, created by the sync, has team %q, want none (the hook runs on sync creates)", got)
	}
	if rep.UsersCreated != fixtureUsers-1 {
		t.Errorf("first full sync counts %v, want %d created", counts(rep), fixtureUsers-1)
	}

	calls = 0
	again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if c := counts(again); c != [10]int{0, 0, 0, 0, fixtureUsers, 0, 0, 0, 0, 0} {
		t.Errorf("second full sync counts %v plan %+v, want only %d unchanged", c, again.Plan, fixtureUsers)
	}
	if calls != 0 {
		t.Errorf("the hook ran %d times on a sync that changed nothing", calls)
	}

	// A change only the hook reads: the incremental run re-reads alice and
	// runs the hook again; nothing else changes.
	e.srv.Apply(t, setEmployeeType(slapdtest.JCAliceDN, "red"))
	inc := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if inc.Mode != dirsync.Incremental {
		t.Fatalf("run mode %s (%s), want incremental", inc.Mode, inc.FallbackReason)
	}
	if inc.UsersUpdated != 1 || inc.UsersCreated != 0 || inc.UsersDeactivated != 0 {
		t.Errorf("incremental counts %v plan %+v, want alice alone updated", counts(inc), inc.Plan)
	}
	if got := e.user(slapdtest.JCAliceUID).Profile["team"]; got != "red" {
		t.Errorf("after the incremental run alice's team is %q, want red", got)
	}
	// A change the mapping reads: the hook's field is kept.
	e.srv.Apply(t, modifySN(slapdtest.JCAliceDN, "Changed"))
	e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if a := e.user(slapdtest.JCAliceUID); a.LastName != "Changed" || a.Profile["team"] != "red" {
		t.Errorf("after an incremental sn change alice has sn %q team %q, want Changed and red", a.LastName, a.Profile["team"])
	}
	for _, mode := range []dirsync.Mode{dirsync.Incremental, dirsync.Full} {
		r := e.run(dirsync.RunOptions{Mode: mode})
		if r.UsersUpdated != 0 || r.UsersCreated != 0 || r.UsersDeactivated != 0 {
			t.Errorf("%s run with no directory change: counts %v plan %+v, want no user written", mode, counts(r), r.Plan)
		}
	}
	// The login after the syncs leaves the same record.
	if _, err := e.auth.Authenticate(ctx, slapdtest.JCAliceUID, slapdtest.JCAlicePassword); err != nil {
		t.Fatal(err)
	}
	if a := e.user(slapdtest.JCAliceUID); a.Profile["team"] != "red" {
		t.Errorf("after the last login alice's team is %q, want red", a.Profile["team"])
	}
	if r := e.run(dirsync.RunOptions{Mode: dirsync.Full}); r.UsersUpdated != 0 {
		t.Errorf("full sync after a login: counts %v plan %+v, want nothing updated", counts(r), r.Plan)
	}
}

// TestOnPopulateErrorFailsThatUsersWriteOnly: a hook error at sync fails
// that user's write as any write error does: the user is not written, a
// warning names the hook, the others are written, and the run ends aborted
// without advancing its cursor; once the hook succeeds a rerun writes it.
func TestOnPopulateErrorFailsThatUsersWriteOnly(t *testing.T) {
	fail := true
	hooks := auth.Hooks{OnPopulate: func(_ context.Context, u *ldapbridge.User, _ *ldapbridge.Entry) error {
		if fail && u.Username == slapdtest.JCBobUID {
			return errors.New("no team for bob")
		}
		u.Profile["team"] = "t"
		return nil
	}}
	e := newEnv(t, nil, "", envOpts{hooks: hooks})
	rep, err := e.sync.Run(t.Context(), dirsync.RunOptions{Mode: dirsync.Full})
	if !errors.Is(err, dirsync.ErrAborted) || rep.UsersCreated != fixtureUsers-1 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "OnPopulate hook for bob") {
		t.Fatalf("run with a failing hook: err %v counts %v warnings %v; want aborted, %d created, a warning naming the hook", err, counts(rep), rep.Warnings, fixtureUsers-1)
	}
	if _, err := e.store.User(t.Context(), slapdtest.JCBobUID); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("bob was written although his hook failed (err %v)", err)
	}
	if got := e.user(slapdtest.JCAliceUID).Profile["team"]; got != "t" {
		t.Errorf("alice's team %q, want t", got)
	}
	fail = false
	again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if again.UsersCreated != 1 || again.UsersUpdated != 0 || e.user(slapdtest.JCBobUID).Profile["team"] != "t" {
		t.Errorf("rerun: counts %v, want bob alone created with his team", counts(again))
	}
}
