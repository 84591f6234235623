package dirsync

import (
	"context"

	"github.com/ldapbridge/ldapbridge"
)

// BulkCreator is a store that creates many synced users in one round trip
// (postgres.Store inside InTx). A run uses it, when the transaction's store
// offers it, for the users each batch creates; updates stay one by one.
type BulkCreator interface {
	// CreateSyncedUsers creates users as CreateUser does, setting their
	// IDs, and records hashes[i] as the sync hash of users[i].
	CreateSyncedUsers(ctx context.Context, users []*ldapbridge.User, hashes []string) error
}

// writeBatch writes one batch of users inside tx.
func (r *run) writeBatch(ctx context.Context, tx ldapbridge.Store, batch []item) error {
	bc, ok := tx.(BulkCreator)
	if !ok {
		for i := range batch {
			if err := r.writeUser(ctx, tx, &batch[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		created []*item
		users   []*ldapbridge.User
		hashes  []string
	)
	now := r.s.o.Now()
	for i := range batch {
		it := &batch[i]
		if it.state >= 0 {
			if err := r.writeUser(ctx, tx, it); err != nil {
				return err
			}
			continue
		}
		u := it.u
		u.LastSyncedAt = &now
		created, users, hashes = append(created, it), append(users, u), append(hashes, it.hash)
	}
	if len(users) == 0 {
		return nil
	}
	if err := bc.CreateSyncedUsers(ctx, users, hashes); err != nil {
		return err
	}
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	for i, it := range created {
		r.users[it.read].id = users[i].ID
	}
	return nil
}
