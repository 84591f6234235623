package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
)

// TestInstancesDeliverEachEventOnce: two instances on one database drain
// the webhook outbox together; FOR UPDATE SKIP LOCKED hands each event to
// one of them, even while the other is posting.
func TestInstancesDeliverEachEventOnce(t *testing.T) {
	dsn := pgtest.New(t)
	a, b := openTest(t, dsn), openTest(t, dsn)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var es []*ldapbridge.OutboxEvent
	for i := range 40 {
		es = append(es, &ldapbridge.OutboxEvent{DeliveryID: fmt.Sprint("d", i), Target: "http://x", Type: "user.created", Body: []byte("{}")})
	}
	if err := a.EnqueueEvents(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for _, st := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := st.DeliverDue(t.Context(), time.Now().Add(time.Second), 5, func(e *ldapbridge.OutboxEvent) ldapbridge.DeliveryResult {
					mu.Lock()
					got[e.DeliveryID]++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond) // posting
					return ldapbridge.DeliveryResult{Status: ldapbridge.EventDelivered}
				})
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(got) != 40 {
		t.Errorf("%d events delivered, want 40", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}
