package dirsync_test

import (
	"errors"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestSyncMatchesAccountsByQueryFieldAsLoginDoes: with users.query_field
// set, a sync finds the account a login would (auth.Mapper.FindAccount):
// an account holding bob's email under another name and without a stable
// id is bob's, so the sync takes it over instead of creating a second
// account and deactivating the first (issue 11, item 3).
func TestSyncMatchesAccountsByQueryFieldAsLoginDoes(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{queryField: "email"})
	ctx := t.Context()
	legacy := &ldapbridge.User{Username: "bbuilder", Source: ldapbridge.SourceLDAP, DN: "uid=bbuilder,ou=Legacy," + slapdtest.JCOrgDN,
		Email: "bob@acme.example", FirstName: "B", LastName: "Builder", IsActive: true}
	if err := e.store.CreateUser(ctx, legacy); err != nil {
		t.Fatal(err)
	}

	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersCreated != fixtureUsers-1 || rep.UsersUpdated != 1 || rep.UsersDeactivated != 0 {
		t.Errorf("first run: counts %v plan %+v; want %d created, bob's account updated, nobody deactivated", counts(rep), rep.Plan, fixtureUsers-1)
	}
	bob := e.user(slapdtest.JCBobUID)
	if bob.ID != legacy.ID || !bob.IsActive || bob.StableID == "" || bob.DN != slapdtest.JCBobDN {
		t.Errorf("bob after sync: id %d (want the legacy account's %d), active %v, stable id %q, dn %q", bob.ID, legacy.ID, bob.IsActive, bob.StableID, bob.DN)
	}
	if _, err := e.store.User(ctx, "bbuilder"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("the legacy name still exists after sync (err %v): a second account was made", err)
	}

	// The login finds the same account; a second run changes nothing.
	res, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword)
	if err != nil || res.Outcome != auth.OK || res.Created || res.User.ID != legacy.ID {
		t.Fatalf("bob's login after sync: err %v outcome %+v", err, res)
	}
	again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if c := counts(again); c != [10]int{0, 0, 0, 0, fixtureUsers, 0, 0, 0, 0, 0} {
		t.Errorf("second run counts %v plan %+v, want only %d unchanged", c, again.Plan, fixtureUsers)
	}
}
