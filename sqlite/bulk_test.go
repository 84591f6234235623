package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

func migratedTest(t *testing.T) *Store {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "bulk.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// CreateSyncedUsers writes the rows, their hashes and photos with
// multi-row INSERTs; odd text comes back as written.
func TestCreateSyncedUsersWritesRowsHashesAndPhotos(t *testing.T) {
	ctx := t.Context()
	s := migratedTest(t)
	var users []*ldapbridge.User
	var hashes []string
	odd := "quote \" backslash \\ tab \t nl \n ctl \x01 é 日本"
	for i := range 3 {
		u := &ldapbridge.User{Username: fmt.Sprintf("u%d", i), Source: ldapbridge.SourceLDAP,
			DN: fmt.Sprintf("uid=u%d,dc=x", i), StableID: fmt.Sprintf("sid-%d", i), IsActive: i != 1, IsStaff: i == 2,
			FirstName: odd, Flags: map[string]bool{"is_active": i != 1}, Profile: map[string]string{"department": "R&D " + odd}}
		if i != 0 {
			u.Photo = []byte{byte(i + 1)}
		}
		users = append(users, u)
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
		if u.ID == 0 || st.ID != u.ID || st.Hash != hashes[i] || st.StableID != u.StableID || st.IsActive != u.IsActive || u.HasPhoto != (i != 0) {
			t.Errorf("%s: state %+v, user id %d, has photo %v; want id set, hash %s", u.Username, st, u.ID, u.HasPhoto, hashes[i])
		}
		back, err := s.UserByID(ctx, u.ID)
		if err != nil || back.FirstName != odd || back.Profile["department"] != "R&D "+odd || back.IsStaff != u.IsStaff ||
			back.Flags["is_active"] != u.IsActive || back.HasPhoto != (i != 0) || back.CreatedAt.IsZero() || !back.CreatedAt.Equal(back.UpdatedAt) {
			t.Errorf("%s read back as %+v, %v", u.Username, back, err)
		}
		if i == 0 {
			continue
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
	if err := s.CreateSyncedUsers(ctx, users[:1], nil); err == nil {
		t.Error("mismatched hashes accepted")
	}
}

// RecordChanges writes a change log of more rows than one statement
// carries, with its fields and odd text, and lists it back in order.
func TestRecordChangesInBulk(t *testing.T) {
	ctx := t.Context()
	s := migratedTest(t)
	at := time.UnixMilli(1_700_000_000_123).UTC()
	var cs []*ldapbridge.Change
	for i := range 1201 {
		c := &ldapbridge.Change{Source: "sync", At: at.Add(time.Duration(i) * time.Millisecond), Kind: ldapbridge.ChangeMembership,
			Action: ldapbridge.ActionAdded, User: fmt.Sprintf("user%d", i), UserID: int64(i % 3), Group: "g \"x\"\n", Actor: "me"}
		if i%2 == 0 {
			c.Fields = []string{"email", "first \"name\""}
		}
		cs = append(cs, c)
	}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).RecordChanges(ctx, cs) }); err != nil {
		t.Fatal(err)
	}
	back, err := s.Changes(ctx, ldapbridge.ChangeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(cs) {
		t.Fatalf("%d changes back, want %d", len(back), len(cs))
	}
	for i, c := range back {
		want := cs[i]
		fields := want.Fields
		if fields == nil {
			fields = []string{}
		}
		if c.User != want.User || c.UserID != want.UserID || c.Group != want.Group || !c.At.Equal(want.At) || c.Actor != "me" ||
			c.Kind != want.Kind || c.Action != want.Action || !slices.Equal(c.Fields, fields) || c.RunID != 0 {
			t.Fatalf("change %d back as %+v, want %+v", i, c, want)
		}
	}
}
