package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestCreateSyncedUsersWritesRowsAndHashesInOneBatch(t *testing.T) {
	ctx := t.Context()
	s := migrated(t)
	var users []*ldapbridge.User
	var hashes []string
	for i := range 3 {
		users = append(users, &ldapbridge.User{Username: fmt.Sprintf("u%d", i), Source: ldapbridge.SourceLDAP,
			DN: fmt.Sprintf("uid=u%d,dc=x", i), StableID: fmt.Sprintf("sid-%d", i), IsActive: true,
			Profile: map[string]string{"department": "R&D"}, Photo: []byte{byte(i + 1)}})
		hashes = append(hashes, fmt.Sprintf("h%d", i))
	}
	err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).CreateSyncedUsers(ctx, users, hashes) })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ldapbridge.SyncUserState{}
	if err := s.SyncUserStates(ctx, func(st ldapbridge.SyncUserState) error { got[st.Username] = st; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		st := got[u.Username]
		if u.ID == 0 || st.ID != u.ID || st.Hash != hashes[i] || st.StableID != u.StableID || !u.HasPhoto {
			t.Errorf("%s: state %+v, user id %d, has photo %v; want id set, hash %s", u.Username, st, u.ID, u.HasPhoto, hashes[i])
		}
		back, err := s.UserByID(ctx, u.ID)
		if err != nil || back.Profile["department"] != "R&D" || !back.HasPhoto {
			t.Errorf("%s read back as %+v, %v", u.Username, back, err)
		}
		if p, err := s.Photo(ctx, u.ID); err != nil || len(p) != 1 || p[0] != byte(i+1) {
			t.Errorf("%s photo %v, %v; want [%d]", u.Username, p, err, i+1)
		}
	}

	clash := []*ldapbridge.User{
		{Username: "new", Source: ldapbridge.SourceLDAP, IsActive: true},
		{Username: "u1", Source: ldapbridge.SourceLDAP, IsActive: true},
	}
	err = s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).CreateSyncedUsers(ctx, clash, []string{"a", "b"}) })
	if !errors.Is(err, ldapbridge.ErrConflict) {
		t.Fatalf("batch with a taken username: %v; want ErrConflict", err)
	}
	if _, err := s.User(ctx, "new"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("user of a failed batch was kept: %v", err)
	}
	if err := s.CreateSyncedUsers(ctx, users[:1], []string{"x"}); err == nil {
		t.Error("CreateSyncedUsers outside InTx accepted")
	}
	if err := s.CreateSyncedUsers(ctx, users[:1], nil); err == nil {
		t.Error("mismatched hashes accepted")
	}
}
