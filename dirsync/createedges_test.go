package dirsync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/dirsync"
)

// txLog wraps a store and notes, per write transaction, the users created
// in it and the user edges added in it.
type txLog struct {
	ldapbridge.Store
	tx      int
	next    *int
	created map[string]int   // username → transaction
	edges   map[int64][]int  // user id → transactions that added edges of it
	ids     map[int64]string // user id → username, of the users created
	// bulkEdges counts the edges added with AddSyncedMemberships.
	bulkEdges int
}

func (s *txLog) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		*s.next++
		w := &txLog{Store: tx, tx: *s.next, next: s.next, created: s.created, edges: s.edges, ids: s.ids}
		if _, ok := tx.(dirsync.BulkCreator); ok {
			err := fn(&bulkTxLog{w})
			s.bulkEdges += w.bulkEdges
			return err
		}
		return fn(w)
	})
}

func (s *txLog) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	err := s.Store.CreateUser(ctx, u)
	if err == nil {
		s.created[u.Username], s.ids[u.ID] = s.tx, u.Username
	}
	return err
}

func (s *txLog) AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	for _, m := range ms {
		if txs := s.edges[m.UserID]; m.UserID != 0 && (len(txs) == 0 || txs[len(txs)-1] != s.tx) {
			s.edges[m.UserID] = append(txs, s.tx)
		}
	}
	return s.Store.AddMemberships(ctx, ms)
}

// bulkTxLog is a txLog on a store that creates users in bulk.
type bulkTxLog struct{ *txLog }

func (s *bulkTxLog) CreateSyncedUsers(ctx context.Context, users []*ldapbridge.User, hashes []string) error {
	err := s.Store.(dirsync.BulkCreator).CreateSyncedUsers(ctx, users, hashes)
	if err == nil {
		for _, u := range users {
			s.created[u.Username], s.ids[u.ID] = s.tx, u.Username
		}
	}
	return err
}

func (s *bulkTxLog) AddSyncedMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	s.bulkEdges += len(ms)
	for _, m := range ms {
		if txs := s.edges[m.UserID]; len(txs) == 0 || txs[len(txs)-1] != s.tx {
			s.edges[m.UserID] = append(txs, s.tx)
		}
	}
	return s.Store.(dirsync.BulkEdgeAdder).AddSyncedMemberships(ctx, ms)
}

// TestCreatedUsersGetTheirMembershipsInTheirOwnTransaction: a full run
// writes a new user's direct memberships in the transaction that creates
// the user (while the read goes on), whether the store creates users in
// bulk or one by one; the report, the change log and a rerun agree.
func TestCreatedUsersGetTheirMembershipsInTheirOwnTransaction(t *testing.T) {
	for _, bulk := range []bool{true, false} {
		name := "one by one"
		if bulk {
			name = "in bulk"
		}
		t.Run(name, func(t *testing.T) {
			log := &txLog{next: new(int), created: map[string]int{}, edges: map[int64][]int{}, ids: map[int64]string{}}
			wrap := func(s ldapbridge.Store) ldapbridge.Store {
				log.Store = s
				if bulk {
					return log
				}
				return &plainStore{log}
			}
			e := newEnv(t, nil, "", envOpts{wrap: wrap, batch: 2})
			ctx := t.Context()
			rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
			if rep.UsersCreated < 3 || len(log.created) != rep.UsersCreated {
				t.Fatalf("created %d users, logged %d", rep.UsersCreated, len(log.created))
			}
			ms, err := e.store.Memberships(ctx)
			if err != nil {
				t.Fatal(err)
			}
			userEdges := 0
			for _, m := range ms {
				if m.UserID == 0 {
					continue
				}
				userEdges++
				name := log.ids[m.UserID]
				if txs := log.edges[m.UserID]; name == "" || len(txs) != 1 || txs[0] != log.created[name] {
					t.Errorf("edge %+v of %q added in transactions %v, the user created in %d", m, name, txs, log.created[name])
				}
			}
			if bulk != (log.bulkEdges == userEdges) {
				t.Errorf("%d of %d user edges added in bulk (AddSyncedMemberships)", log.bulkEdges, userEdges)
			}
			if userEdges == 0 || rep.MembershipsAdded != len(ms) {
				t.Errorf("report: %d memberships added; the store holds %d edges (%d of users)", rep.MembershipsAdded, len(ms), userEdges)
			}
			if len(rep.Plan.MembershipsAdd) != len(ms) {
				t.Errorf("plan lists %d added memberships, want %d", len(rep.Plan.MembershipsAdd), len(ms))
			}
			logged, err := e.store.Changes(ctx, ldapbridge.ChangeQuery{RunID: rep.RunID, Kind: ldapbridge.ChangeMembership})
			if err != nil || len(logged) != len(ms) {
				t.Errorf("change log: %d membership changes (%v), want %d", len(logged), err, len(ms))
			}
			again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
			if again.MembershipsAdded != 0 || again.MembershipsRemoved != 0 {
				t.Errorf("rerun changed memberships: +%d -%d", again.MembershipsAdded, again.MembershipsRemoved)
			}
		})
	}
}

// plainStore hides the wrapped store's bulk create: users are created
// one by one.
type plainStore struct{ *txLog }

func (s *plainStore) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.txLog.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		*s.next++
		return fn(&txLog{Store: tx, tx: *s.next, next: s.next, created: s.created, edges: s.edges, ids: s.ids})
	})
}

func (s *txLog) RecordChanges(ctx context.Context, cs []*ldapbridge.Change) error {
	return s.Store.(ldapbridge.ChangeLog).RecordChanges(ctx, cs)
}

func (s *txLog) Changes(ctx context.Context, q ldapbridge.ChangeQuery) ([]*ldapbridge.Change, error) {
	return s.Store.(ldapbridge.ChangeLog).Changes(ctx, q)
}

func (s *txLog) SyncRun(ctx context.Context, id int64) (*ldapbridge.SyncRun, error) {
	return s.Store.(ldapbridge.ChangeLog).SyncRun(ctx, id)
}

func (s *txLog) PruneHistory(ctx context.Context, olderThan time.Time, keepRuns int) (int64, error) {
	return s.Store.(ldapbridge.ChangeLog).PruneHistory(ctx, olderThan, keepRuns)
}

// TestGroupNameTakenByAnotherDirectoryFailsTheRunAsBefore: the run creates
// its new groups in one statement; when a name is taken by a group it did
// not read (another directory's), it writes them again one by one, and
// UpsertGroup's conflict names the group, as before the bulk create.
func TestGroupNameTakenByAnotherDirectoryFailsTheRunAsBefore(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{})
	ctx := t.Context()
	other := &ldapbridge.Group{Name: "staff", Source: ldapbridge.SourceLDAP, Directory: "other", DN: "cn=staff,dc=other"}
	if err := e.store.UpsertGroup(ctx, other); err != nil {
		t.Fatal(err)
	}
	rep, err := e.sync.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if err == nil || !strings.Contains(err.Error(), `upsert group "staff"`) || !strings.Contains(err.Error(), "never merge") {
		t.Fatalf("run: %v; want the upsert conflict of group staff", err)
	}
	if rep.UsersCreated != 0 {
		t.Errorf("%d users created after the groups failed", rep.UsersCreated)
	}
	gs, err := e.store.ListGroups(ctx)
	if err != nil || len(gs) != 1 || gs[0].ID != other.ID {
		t.Errorf("groups after the failed run: %d (%v), want only the other directory's", len(gs), err)
	}
}
