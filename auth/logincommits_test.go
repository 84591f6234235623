package auth

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// commitCounter counts the transactions a login opens and where it records
// the login time: inside a transaction or as a write of its own.
type commitCounter struct {
	*memStore
	txs, insideRecords, outsideRecords int
}

func (c *commitCounter) InTx(ctx context.Context, fn func(ldapbridge.Store) error) error {
	c.txs++
	return c.memStore.InTx(ctx, func(tx ldapbridge.Store) error { return fn(countingTx{tx, c}) })
}

func (c *commitCounter) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	c.outsideRecords++
	return c.memStore.RecordLogin(ctx, id, at)
}

type countingTx struct {
	ldapbridge.Store
	c *commitCounter
}

func (t countingTx) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	t.c.insideRecords++
	return t.Store.RecordLogin(ctx, id, at)
}

// A first login is one transaction whose new row carries the login time
// (no separate write of it, and no read-back of the row); a
// re-login of an account that already says what the directory says opens
// none and writes the login time alone (issue 12).
func TestFirstLoginIsOneCommitAndReLoginOnlyRecordsTheTime(t *testing.T) {
	u := newUnit(t, nil)
	c := &commitCounter{memStore: u.store}
	a, err := New(unitConfig(), u.dir, c, Options{Groups: u.groups})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := a.Authenticate(ctx, "jdoe", "secret")
	if err != nil || res.Outcome != OK || !res.Created {
		t.Fatalf("first login: %+v, %v", res, err)
	}
	if c.txs != 1 || c.insideRecords != 0 || c.outsideRecords != 0 {
		t.Errorf("first login: %d transactions, login time recorded %d times inside and %d outside; want 1, 0, 0 (the new row carries it)",
			c.txs, c.insideRecords, c.outsideRecords)
	}
	if res.User.LastLoginAt == nil {
		t.Error("first login: the result's user has no last login time")
	}
	stored, _ := u.store.UserByID(ctx, res.User.ID)
	if stored == nil || stored.LastLoginAt == nil {
		t.Fatal("first login: the stored account has no last login time")
	}
	if !stored.LastLoginAt.Equal(*res.User.LastLoginAt) || !slices.Equal(stored.DirectGroups, res.User.DirectGroups) ||
		!slices.Equal(stored.Groups, res.User.Groups) || stored.Directory != res.User.Directory || stored.Verdict != res.User.Verdict {
		t.Errorf("first login: the result's account differs from the stored one:\n got %+v\nstored %+v", res.User, stored)
	}

	c.txs, c.insideRecords, c.outsideRecords = 0, 0, 0
	res, err = a.Authenticate(ctx, "jdoe", "secret")
	if err != nil || res.Outcome != OK || res.Created {
		t.Fatalf("re-login: %+v, %v", res, err)
	}
	if c.txs != 0 || c.insideRecords != 0 || c.outsideRecords != 1 {
		t.Errorf("re-login: %d transactions, login time recorded %d times inside and %d outside; want 0, 0, 1",
			c.txs, c.insideRecords, c.outsideRecords)
	}

	// A refused login records no login time.
	c.txs, c.insideRecords, c.outsideRecords = 0, 0, 0
	u.groups.byUser[normDN(dn("jdoe"))] = nil // no longer in the required group
	if res, err = a.Authenticate(ctx, "jdoe", "secret"); err != nil || res.Outcome != RequireGroup {
		t.Fatalf("login without the required group: %+v, %v", res, err)
	}
	if c.insideRecords+c.outsideRecords != 0 {
		t.Errorf("a refused login recorded the login time (%d inside, %d outside)", c.insideRecords, c.outsideRecords)
	}
}
