package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/events"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBuildSignsAndFiltersByWebhook(t *testing.T) {
	build := events.Build(config.Events{Webhooks: []config.Webhook{
		{URL: "http://a", Secret: "s", Events: []string{}},
		{URL: "http://b", Secret: "t", Events: []string{"user.deactivated"}},
	}})
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cs := []*ldapbridge.Change{
		{RunID: 7, Source: "sync", At: at, Kind: "user", Action: "deactivated", User: "bob", DN: "uid=bob", Reason: "gone",
			Record: &ldapbridge.User{Username: "bob", Source: "ldap", DN: "uid=bob", Verdict: "removed"}},
		{RunID: 7, Source: "sync", At: at, Kind: "membership", Action: "added", User: "al", Group: "staff"},
	}
	es := build(cs)
	if len(es) != 3 || es[0].Target != "http://a" || es[1].Target != "http://b" || es[2].Type != "membership.added" || es[0].DeliveryID == es[1].DeliveryID {
		t.Fatalf("events: %+v", es)
	}
	var body map[string]any
	if err := json.Unmarshal(es[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	user, _ := body["user"].(map[string]any)
	if body["id"] != es[0].DeliveryID || body["type"] != "user.deactivated" || body["source"] != "sync" || body["run_id"] != 7.0 ||
		body["reason"] != "gone" || user["username"] != "bob" || user["verdict"] != "removed" || body["group"] != nil || body["fields"] == nil {
		t.Errorf("body: %s", es[0].Body)
	}
	var m map[string]any
	_ = json.Unmarshal(es[2].Body, &m)
	if g, _ := m["group"].(map[string]any); g["name"] != "staff" {
		t.Errorf("membership body: %s", es[2].Body)
	}
	if sig := events.Sign("s", es[0].Body); !events.Verify("s", es[0].Body, sig) || events.Verify("x", es[0].Body, sig) {
		t.Error("Sign/Verify disagree")
	}
	if events.Build(config.Events{}) != nil {
		t.Error("Build without webhooks is not nil")
	}
}

// TestFailingReceiverGetsRetriesWithBackoffThenTheEventFails: a receiver
// answering 500 is posted the same delivery at growing intervals, up to
// events.max_attempts, then the event is marked failed; RetryFailedEvents
// (ldapbridge events retry) makes it pending again.
func TestFailingReceiverGetsRetriesWithBackoffThenTheEventFails(t *testing.T) {
	st := openStore(t)
	var mu sync.Mutex
	var times []time.Time
	var ids, sigs []string
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		times, ids, sigs, bodies = append(times, time.Now()), append(ids, r.Header.Get(events.HeaderDelivery)), append(sigs, r.Header.Get(events.HeaderSignature)), append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	cfg := config.Events{MaxAttempts: 4, Webhooks: []config.Webhook{{URL: srv.URL, Secret: "k", Events: []string{}}}}
	es := events.Build(cfg)([]*ldapbridge.Change{{Source: "sync", Kind: "group", Action: "created", Group: "g", DN: "cn=g"}})
	if err := st.EnqueueEvents(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	d := &events.Deliverer{Store: st, Webhooks: func() config.Events { return cfg }, Backoff: 100 * time.Millisecond, Poll: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		failed, err := st.OutboxEvents(t.Context(), ldapbridge.EventFailed, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 {
			if failed[0].Attempts != 4 || failed[0].LastError == "" {
				t.Errorf("failed event: %+v", failed[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event was not marked failed within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 4 {
		t.Fatalf("%d posts, want 4 (events.max_attempts)", len(times))
	}
	for i := range times {
		if ids[i] != es[0].DeliveryID || !events.Verify("k", bodies[i], sigs[i]) {
			t.Errorf("post %d: delivery %q (want %q), signature valid %v", i, ids[i], es[0].DeliveryID, events.Verify("k", bodies[i], sigs[i]))
		}
	}
	for i := 1; i < len(times); i++ {
		gap, want := times[i].Sub(times[i-1]), 100*time.Millisecond<<(i-1)
		if gap < want {
			t.Errorf("retry %d came after %v, want at least %v (exponential backoff)", i, gap, want)
		}
	}
	if n, err := st.RetryFailedEvents(t.Context(), time.Now()); err != nil || n != 1 {
		t.Errorf("RetryFailedEvents: %d %v", n, err)
	}
}
