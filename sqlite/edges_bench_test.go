package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// BenchmarkAddMemberships5k adds 5,000 user→group edges in one call, the
// chunk a sync writes; ns/edge should not grow with the chunk (an id list
// read by position used to make it quadratic).
func BenchmarkAddMemberships5k(b *testing.B) {
	const users, groups, chunk = 5000, 250, 5000
	s := openTest(b, filepath.Join(b.TempDir(), "edges.db"))
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var uids, gids []int64
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		for i := range users {
			u := &ldapbridge.User{Username: fmt.Sprintf("u%05d", i), Source: ldapbridge.SourceLDAP}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			uids = append(uids, u.ID)
		}
		for j := range groups {
			g := &ldapbridge.Group{Name: fmt.Sprintf("g%04d", j)}
			if err := tx.UpsertGroup(ctx, g); err != nil {
				return err
			}
			gids = append(gids, g.ID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	edges := make([]ldapbridge.Membership, chunk)
	for i := range edges {
		edges[i] = ldapbridge.Membership{GroupID: gids[i%groups], UserID: uids[i]}
	}
	for b.Loop() {
		if err := s.AddMemberships(ctx, edges); err != nil {
			b.Fatal(err)
		}
		if err := s.RemoveMemberships(ctx, edges); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunk), "ns/edge")
}
