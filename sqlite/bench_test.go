package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// BenchmarkCreateUsers10k inserts 10,000 directory users with profiles into
// a file database, 1,000 per transaction, as a sync batch would; ns/user is
// the figure to compare with reading an entry from LDAP (~24 µs).
func BenchmarkCreateUsers10k(b *testing.B) { benchCreateUsers(b, false) }

// BenchmarkCreateSyncedUsers10k is BenchmarkCreateUsers10k with a sync's
// bulk create (CreateSyncedUsers, which also records the sync hash).
func BenchmarkCreateSyncedUsers10k(b *testing.B) { benchCreateUsers(b, true) }

func benchCreateUsers(b *testing.B, bulk bool) {
	const total, batch = 10_000, 1_000
	synced := time.Now()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s := openTest(b, filepath.Join(b.TempDir(), fmt.Sprintf("bench%d.db", i)))
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		users := make([]*ldapbridge.User, total)
		for n := range users {
			name := fmt.Sprintf("user%06d", n)
			users[n] = &ldapbridge.User{
				Username: name, Source: ldapbridge.SourceLDAP,
				DN:        "uid=" + name + ",ou=Users,o=5a3e4f1b2c,dc=jumpcloud,dc=com",
				StableID:  fmt.Sprintf("5f2b9c1e-0000-4000-8000-%012d", n),
				FirstName: "First", LastName: "Last " + name, Email: name + "@example.com",
				IsActive: true, Flags: map[string]bool{"beta": n%2 == 0},
				Profile: map[string]string{
					"display_name": "User " + name, "title": "Engineer", "phone": "+1 555 0100|+1 555 0101",
				},
				LastSyncedAt: &synced,
			}
		}
		b.StartTimer()
		for start := 0; start < total; start += batch {
			err := s.InTx(b.Context(), func(tx ldapbridge.Store) error {
				if bulk {
					return tx.(*Store).CreateSyncedUsers(b.Context(), users[start:start+batch], make([]string, batch))
				}
				for _, u := range users[start : start+batch] {
					if err := tx.CreateUser(b.Context(), u); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/user")
}
