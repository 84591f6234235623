package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// bulkWriter is what a driver offers the sync for writing a run's new
// groups and new users' memberships in bulk (dirsync uses them when the
// store has them; both drivers do).
type bulkWriter interface {
	CreateSyncedGroups(ctx context.Context, gs []*ldapbridge.Group) error
	AddSyncedMemberships(ctx context.Context, ms []ldapbridge.Membership) error
}

func bulk(t *testing.T, tx ldapbridge.Store) bulkWriter {
	t.Helper()
	b, ok := tx.(bulkWriter)
	if !ok {
		t.Fatalf("%T has no CreateSyncedGroups and AddSyncedMemberships (the sync's bulk writes)", tx)
	}
	return b
}

var bulkTests = []test{
	{"CreateSyncedGroupsInBulkRefusesTakenNames", createSyncedGroups},
	{"AddSyncedMembershipsAddsUserEdgesOnly", addSyncedMemberships},
}

// CreateSyncedGroups creates new directory groups in bulk; a name taken
// (by a stored group or twice in the batch) fails the call.
func createSyncedGroups(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	gs := []*ldapbridge.Group{
		{Name: "staff", Source: ldapbridge.SourceLDAP, DN: "cn=staff,dc=x", StableID: "g1"},
		{Name: "ops", Source: ldapbridge.SourceLDAP, Directory: "corp", DN: "cn=ops,dc=x"},
	}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return bulk(t, tx).CreateSyncedGroups(ctx, gs) }); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		back, err := s.Group(ctx, g.Name)
		if err != nil || g.ID == 0 || back.ID != g.ID || back.DN != g.DN || back.StableID != g.StableID || back.Source != ldapbridge.SourceLDAP ||
			back.Directory != cmp.Or(g.Directory, ldapbridge.DefaultDirectory) || back.CreatedAt.IsZero() {
			t.Errorf("%s: back as %+v (%v), id %d", g.Name, back, err, g.ID)
		}
	}
	for _, batch := range [][]*ldapbridge.Group{
		{{Name: "new"}, {Name: "staff", DN: "cn=staff,ou=other,dc=x"}},
		{{Name: "twice", DN: "cn=a"}, {Name: "twice", DN: "cn=b"}},
	} {
		err := s.InTx(ctx, func(tx ldapbridge.Store) error { return bulk(t, tx).CreateSyncedGroups(ctx, batch) })
		if !errors.Is(err, ldapbridge.ErrConflict) {
			t.Errorf("batch %s, %s: %v; want ErrConflict", batch[0].Name, batch[1].Name, err)
		}
	}
	if _, err := s.Group(ctx, "new"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("group of a failed batch was kept: %v", err)
	}
}

// AddSyncedMemberships adds new user edges in bulk; a group edge is
// refused, and an id that names nothing fails with ErrNotFound.
func addSyncedMemberships(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
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
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return bulk(t, tx).AddSyncedMemberships(ctx, ms) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Memberships(ctx)
	if err != nil || len(got) != len(ms) {
		t.Fatalf("%d memberships (%v), want %d", len(got), err, len(ms))
	}
	group := []ldapbridge.Membership{{GroupID: gids[0], ChildGroupID: gids[1]}}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return bulk(t, tx).AddSyncedMemberships(ctx, group) }); err == nil {
		t.Error("a group edge was accepted")
	}
	missing := []ldapbridge.Membership{{GroupID: 424242, UserID: uids[0]}}
	if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return bulk(t, tx).AddSyncedMemberships(ctx, missing) }); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("edge into a missing group: %v; want ErrNotFound", err)
	}
}
