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

func TestCreateSyncedGroups(t *testing.T) {
	ctx := t.Context()
	s := migrated(t)
	gs := []*ldapbridge.Group{
		{Name: "staff", Source: ldapbridge.SourceLDAP, DN: "cn=staff,dc=x", StableID: "g1"},
		{Name: "ops", Source: ldapbridge.SourceLDAP, Directory: "corp", DN: "cn=ops,dc=x"},
	}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).CreateSyncedGroups(ctx, gs) }); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		back, err := s.Group(ctx, g.Name)
		if err != nil || g.ID == 0 || back.ID != g.ID || back.DN != g.DN || back.StableID != g.StableID || back.Source != ldapbridge.SourceLDAP ||
			back.Directory != cmpOr(g.Directory, ldapbridge.DefaultDirectory) || back.CreatedAt.IsZero() {
			t.Errorf("%s: back as %+v (%v), id %d", g.Name, back, err, g.ID)
		}
	}
	for _, batch := range [][]*ldapbridge.Group{
		{{Name: "new"}, {Name: "staff", DN: "cn=staff,ou=other,dc=x"}},
		{{Name: "twice", DN: "cn=a"}, {Name: "twice", DN: "cn=b"}},
	} {
		err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).CreateSyncedGroups(ctx, batch) })
		if !errors.Is(err, ldapbridge.ErrConflict) {
			t.Errorf("batch %s, %s: %v; want ErrConflict", batch[0].Name, batch[1].Name, err)
		}
	}
	if _, err := s.Group(ctx, "new"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("group of a failed batch was kept: %v", err)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// AddSyncedMemberships adds new user edges in bulk; a group edge is
// refused, and an id that names nothing fails with ErrNotFound.
func TestAddSyncedMemberships(t *testing.T) {
	ctx := t.Context()
	s := migrated(t)
	var uids []int64
	var gids []int64
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		for i := range 40 {
			u := &ldapbridge.User{Username: fmt.Sprintf("m%d", i), Source: ldapbridge.SourceLDAP}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			uids = append(uids, u.ID)
		}
		for i := range 2 {
			g := &ldapbridge.Group{Name: fmt.Sprintf("g%d", i), Source: ldapbridge.SourceLDAP}
			if err := tx.UpsertGroup(ctx, g); err != nil {
				return err
			}
			gids = append(gids, g.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ms []ldapbridge.Membership
	for _, u := range uids {
		for _, g := range gids {
			ms = append(ms, ldapbridge.Membership{GroupID: g, UserID: u})
		}
	}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).AddSyncedMemberships(ctx, ms) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Memberships(ctx)
	if err != nil || len(got) != len(ms) {
		t.Fatalf("%d memberships (%v), want %d", len(got), err, len(ms))
	}
	group := []ldapbridge.Membership{{GroupID: gids[0], ChildGroupID: gids[1]}}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).AddSyncedMemberships(ctx, group) }); err == nil {
		t.Error("a group edge was accepted")
	}
	missing := []ldapbridge.Membership{{GroupID: 424242, UserID: uids[0]}}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).AddSyncedMemberships(ctx, missing) }); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("edge into a missing group: %v; want ErrNotFound", err)
	}
}
