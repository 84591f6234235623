package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var txTests = []test{
	{"InTxRollbackLeavesNothing", testTxRollback},
	{"InTxCommitKeepsEverything", testTxCommit},
	{"NestedInTxSharesTheOuterTransaction", testTxNested},
	{"ConcurrentReadersDuringAWriteTransactionDoNotFail", testConcurrentReaders},
	{"ConcurrentLoginsDoNotFail", testConcurrentLogins},
}

// writeAll makes a set of changes through tx: a user with a photo, a
// group, memberships, an update and a login.
func writeAll(ctx context.Context, tx ldapbridge.Store, existing *ldapbridge.User) error {
	u := newUser("txuser")
	u.Photo = []byte("photo")
	if err := tx.CreateUser(ctx, u); err != nil {
		return err
	}
	g := &ldapbridge.Group{Name: "txgroup", DN: "cn=txgroup,dc=x"}
	if err := tx.UpsertGroup(ctx, g); err != nil {
		return err
	}
	if err := tx.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: g.ID, UserID: u.ID}, {GroupID: g.ID, UserID: existing.ID}}); err != nil {
		return err
	}
	existing.FirstName = "Changed"
	if err := tx.UpdateUser(ctx, existing); err != nil {
		return err
	}
	if err := tx.RecordLogin(ctx, existing.ID, time.Now()); err != nil {
		return err
	}
	// The transaction reads its own writes.
	got, err := tx.User(ctx, "txuser")
	if err != nil {
		return fmt.Errorf("reading own write: %w", err)
	}
	if len(got.Groups) != 1 || got.Groups[0] != "txgroup" || !got.HasPhoto {
		return fmt.Errorf("reading own write: got groups %q HasPhoto %v", got.Groups, got.HasPhoto)
	}
	return nil
}

func testTxRollback(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	existing := create(t, s, newUser("pre"))
	before := *get(t, s, "pre")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		if err := writeAll(ctx, tx, existing); err != nil {
			t.Errorf("writes inside InTx: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("InTx returned %v, want the callback's error", err)
	}
	_, err = s.User(ctx, "txuser")
	wantErr(t, err, ldapbridge.ErrNotFound, "user created in a rolled-back transaction")
	_, err = s.Group(ctx, "txgroup")
	wantErr(t, err, ldapbridge.ErrNotFound, "group created in a rolled-back transaction")
	ms, err := s.Memberships(ctx)
	must(t, err, "Memberships")
	if len(ms) != 0 {
		t.Errorf("memberships after rollback: %+v", ms)
	}
	wantUser(t, &before, get(t, s, "pre"), "user updated in a rolled-back transaction")
}

func testTxCommit(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	existing := create(t, s, newUser("pre"))
	must(t, s.InTx(ctx, func(tx ldapbridge.Store) error { return writeAll(ctx, tx, existing) }), "InTx")
	u := get(t, s, "txuser")
	wantNames(t, u.Groups, []string{"txgroup"}, "committed user groups")
	if !u.HasPhoto {
		t.Errorf("committed user has no photo")
	}
	pre := get(t, s, "pre")
	if pre.FirstName != "Changed" || pre.LastLoginAt == nil {
		t.Errorf("committed update: FirstName %q LastLoginAt %v", pre.FirstName, pre.LastLoginAt)
	}
	wantNames(t, pre.Groups, []string{"txgroup"}, "committed membership of pre")
}

func testTxNested(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	inner := errors.New("inner")
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		if err := tx.CreateUser(ctx, newUser("outer")); err != nil {
			return err
		}
		return tx.InTx(ctx, func(tx2 ldapbridge.Store) error {
			if _, err := tx2.User(ctx, "outer"); err != nil {
				t.Errorf("nested InTx does not see the outer transaction's write: %v", err)
			}
			if err := tx2.CreateUser(ctx, newUser("nested")); err != nil {
				return err
			}
			return inner
		})
	})
	if !errors.Is(err, inner) {
		t.Fatalf("InTx returned %v, want the nested callback's error", err)
	}
	for _, name := range []string{"outer", "nested"} {
		_, err := s.User(ctx, name)
		wantErr(t, err, ldapbridge.ErrNotFound, name+" after the whole transaction rolled back")
	}
	err = s.InTx(ctx, func(tx ldapbridge.Store) error {
		return tx.InTx(ctx, func(tx2 ldapbridge.Store) error { return tx2.CreateUser(ctx, newUser("nested")) })
	})
	must(t, err, "nested InTx commit")
	get(t, s, "nested")
}

func testConcurrentReaders(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	base := create(t, s, newUser("base"))
	g := group(t, s, "readers")
	must(t, s.SetUserGroups(ctx, base.ID, []int64{g.ID}), "SetUserGroups")
	const readers = 8
	var wg sync.WaitGroup
	errs := make(chan error, readers*10)
	withTimeout(t, 30*time.Second, "readers during a write transaction", func(ctx context.Context) {
		err := s.InTx(ctx, func(tx ldapbridge.Store) error {
			if err := tx.CreateUser(ctx, newUser("writer0")); err != nil {
				return err
			}
			for i := range readers {
				wg.Go(func() {
					for range 10 {
						u, err := s.User(ctx, "base")
						if err == nil && (len(u.Groups) != 1 || u.Groups[0] != "readers") {
							err = fmt.Errorf("reader %d: base has groups %q", i, u.Groups)
						}
						if err == nil {
							_, err = s.ListUsers(ctx, ldapbridge.UserQuery{Search: "base"})
						}
						if err != nil {
							errs <- err
						}
					}
				})
			}
			for i := 1; i < 50; i++ {
				if err := tx.CreateUser(ctx, newUser(fmt.Sprintf("writer%d", i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("write transaction: %v", err)
		}
		wg.Wait()
	})
	close(errs)
	for err := range errs {
		t.Errorf("reader during a write transaction: %v", err)
	}
	all, err := s.ListUsers(ctx, ldapbridge.UserQuery{Search: "writer"})
	must(t, err, "ListUsers")
	if len(all) != 50 {
		t.Errorf("after the write transaction: %d writer users, want 50", len(all))
	}
}

func testConcurrentLogins(t *testing.T, s ldapbridge.Store) {
	const n = 8
	for i := range n {
		create(t, s, newUser(fmt.Sprintf("web%d", i)))
	}
	withTimeout(t, 30*time.Second, "concurrent logins", func(ctx context.Context) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				name := fmt.Sprintf("web%d", i)
				for range 5 {
					u, err := s.User(ctx, name)
					if err == nil {
						u.Profile = map[string]string{"seen": name}
						err = s.UpdateUser(ctx, u)
					}
					if err == nil {
						err = s.RecordLogin(ctx, u.ID, time.Now())
					}
					if err != nil {
						t.Errorf("login of %s: %v", name, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	for i := range n {
		u := get(t, s, fmt.Sprintf("web%d", i))
		if u.LastLoginAt == nil || u.Profile["seen"] != u.Username {
			t.Errorf("%s after concurrent logins: LastLoginAt %v Profile %v", u.Username, u.LastLoginAt, u.Profile)
		}
	}
}
