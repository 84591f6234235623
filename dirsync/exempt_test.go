package dirsync_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestExemptUsersAreNeitherCreatedNorUpdated: sync.exempt_users are left
// entirely alone by every run — not created, not updated (fields, flags,
// memberships), not deactivated — while their logins work as usual
// (issue 11, item 7).
func TestExemptUsersAreNeitherCreatedNorUpdated(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "exempt.db")
	e := newEnv(t, nil, dsn, envOpts{exempt: []string{slapdtest.JCBobUID, slapdtest.JCGraceUID}})
	ctx := t.Context()

	// Not created by a full run.
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersCreated != fixtureUsers-2 {
		t.Errorf("first run created %d users, want %d (all but the 2 exempt)", rep.UsersCreated, fixtureUsers-2)
	}
	for _, name := range []string{slapdtest.JCBobUID, slapdtest.JCGraceUID} {
		if _, err := e.store.User(ctx, name); !errors.Is(err, ldapbridge.ErrNotFound) {
			t.Errorf("exempt %s after sync: err %v, want not found (sync must not create exempt users)", name, err)
		}
	}

	// A login creates the account as usual.
	res, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword)
	if err != nil || res.Outcome != auth.OK {
		t.Fatalf("bob's login: %v %+v", err, res)
	}
	bob := e.user(slapdtest.JCBobUID)
	if bob.LastName != "Builder" || !bob.IsStaff || !slices.Contains(bob.DirectGroups, "staff") {
		t.Fatalf("bob after login: %+v", bob)
	}

	// The directory changes bob; no run (full, then incremental) updates him.
	e.srv.Apply(t, modifySN(slapdtest.JCBobDN, "Changed")+
		"dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n\n")
	for _, mode := range []dirsync.Mode{dirsync.Full, dirsync.Incremental} {
		rep = e.run(dirsync.RunOptions{Mode: mode})
		if rep.UsersCreated != 0 || rep.UsersUpdated != 0 || rep.UsersDeactivated != 0 || rep.MembershipsRemoved != 0 {
			t.Errorf("%s run after changing exempt bob: counts %v plan %+v, want nothing written", mode, counts(rep), rep.Plan)
		}
		if got := e.user(slapdtest.JCBobUID); got.LastName != "Builder" || !got.IsStaff || !slices.Contains(got.DirectGroups, "staff") ||
			!got.IsActive || got.ID != bob.ID {
			t.Errorf("%s run changed exempt bob: %+v", mode, got)
		}
		e.srv.Apply(t, modifySN(slapdtest.JCBobDN, "Changed "+string(mode)))
	}

	// Out of the population: not deactivated.
	narrow := newEnv(t, e.srv, dsn, envOpts{exempt: []string{slapdtest.JCBobUID, slapdtest.JCGraceUID},
		filter: "(&(objectClass=inetOrgPerson)(!(uid=bob)))"})
	rep = narrow.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersDeactivated != 0 || !e.user(slapdtest.JCBobUID).IsActive {
		t.Errorf("exempt bob outside the sync filter: %d deactivated, active %v", rep.UsersDeactivated, e.user(slapdtest.JCBobUID).IsActive)
	}

	// The next login refreshes him as usual.
	if res, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword); err != nil || res.Outcome != auth.OK {
		t.Fatalf("bob's second login: %v %+v", err, res)
	}
	if got := e.user(slapdtest.JCBobUID); got.LastName == "Builder" || got.IsStaff || got.ID != bob.ID {
		t.Errorf("bob after his second login: last name %q staff %v id %d; want the directory's values on the same account", got.LastName, got.IsStaff, got.ID)
	}
}

// loginGrace signs grace in, which creates her account.
func loginGrace(t *testing.T, e *env) {
	t.Helper()
	res, err := e.auth.Authenticate(t.Context(), slapdtest.JCGraceUID, slapdtest.JCGracePassword)
	if err != nil || res.Outcome != auth.OK {
		t.Fatalf("grace's login: %v %+v", err, res)
	}
}
