package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// BenchmarkRecordChanges10k records 10,000 changes in one transaction, as
// a sync's batch of creates and memberships does.
func BenchmarkRecordChanges10k(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "changes.db"))
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	cs := make([]*ldapbridge.Change, 10000)
	at := time.Now().UTC()
	for i := range cs {
		cs[i] = &ldapbridge.Change{Source: "sync", At: at, Kind: ldapbridge.ChangeMembership, Action: ldapbridge.ActionAdded,
			User: fmt.Sprintf("user%06d", i), UserID: int64(i + 1), Group: "group0042", Fields: []string{}}
	}
	b.ResetTimer()
	for range b.N {
		if err := s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(*Store).RecordChanges(ctx, cs) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cs)), "ns/change")
}
