package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/events"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// receiver is a webhook receiver that records what it is posted; while
// block is set it holds the first request until the client goes away.
type receiver struct {
	mu        sync.Mutex
	block     bool
	blocked   chan string // the delivery id held
	delivered map[string]string
	bad       []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, typ := req.Header.Get(events.HeaderDelivery), req.Header.Get(events.HeaderEvent)
	r.mu.Lock()
	if !events.Verify("hook-secret", body, req.Header.Get(events.HeaderSignature)) || req.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(body), `"id":"`+id+`"`) || !strings.Contains(string(body), `"type":"`+typ+`"`) {
		r.bad = append(r.bad, fmt.Sprintf("%s %s: %s", id, req.Header.Get(events.HeaderSignature), body))
	}
	if r.block {
		r.block = false
		r.mu.Unlock()
		r.blocked <- id
		<-req.Context().Done() // the sender is killed mid-request
		return
	}
	r.delivered[id] = typ
	r.mu.Unlock()
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.delivered)
}

// TestWebhooksSurviveSIGKILLBetweenCommitAndDelivery: a sync writes its
// changes and their events in the same transactions; serve posts them,
// signed. Killed (SIGKILL) while the first post is in flight and started
// again, it delivers every event of the sync, the interrupted one with the
// same delivery id.
func TestWebhooksSurviveSIGKILLBetweenCommitAndDelivery(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	rec := &receiver{block: true, blocked: make(chan string, 1), delivered: map[string]string{}}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	t.Setenv("HOOK_SECRET", "hook-secret")
	c := tutorialCLI(t, s, func(y string) string {
		return y + "events: {webhooks: [{url: '" + hook.URL + "/hook', secret: '${HOOK_SECRET}'}]}\n"
	})
	rep, res := c.syncJSON()
	if res.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	changes := c.show(fmt.Sprint(rep["run_id"])).Changes
	if len(changes) < 20 {
		t.Fatalf("the first sync made %d changes; want the fixture's users, groups and memberships", len(changes))
	}
	var want []string
	for _, ch := range changes {
		want = append(want, ch.Kind+"."+ch.Action)
	}
	// Nothing is delivered by the sync command: every event waits in the outbox.
	if rec.count() != 0 {
		t.Fatalf("%d events delivered before serve started", rec.count())
	}

	bin := buildBinary(t)
	first := startInstance(t, bin, c.config, "first")
	var held string
	select {
	case held = <-rec.blocked:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve posted no event within 20s:\n%s", first.stderr())
	}
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL mid-delivery
		t.Fatal(err)
	}
	<-first.done
	if rec.count() != 0 {
		t.Fatalf("%d events delivered while the first post was held", rec.count())
	}

	second := startInstance(t, bin, c.config, "second")
	deadline := time.Now().Add(30 * time.Second)
	for rec.count() < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bad) > 0 {
		t.Errorf("posts with a bad signature, content type or body:\n%s", strings.Join(rec.bad, "\n"))
	}
	var got []string
	for _, typ := range rec.delivered {
		got = append(got, typ)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("delivered %d events, want one per change (%d):\ngot  %v\nwant %v\n%s", len(got), len(want), got, want, second.stderr())
	}
	if _, ok := rec.delivered[held]; !ok {
		t.Errorf("the event held when serve was killed (%s) was not delivered again with the same delivery id", held)
	}
}
