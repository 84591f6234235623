package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSyncAuditKeys(t *testing.T) {
	c := mustParse(t, base)
	if c.Sync.KeepHistory != (History{Age: Duration(2160 * time.Hour)}) || c.Sync.PendingTTL.D() != 24*time.Hour || c.Events.MaxAttempts != 10 || c.Events.Webhooks == nil {
		t.Errorf("defaults: keep_history %v, pending_ttl %v, max_attempts %d, webhooks %#v", c.Sync.KeepHistory, c.Sync.PendingTTL, c.Events.MaxAttempts, c.Events.Webhooks)
	}
	c = mustParse(t, base+"sync: {keep_history: 30, pending_ttl: 2h}\n")
	if c.Sync.KeepHistory != (History{Runs: 30}) || c.Sync.PendingTTL.D() != 2*time.Hour {
		t.Errorf("keep_history %#v, pending_ttl %v", c.Sync.KeepHistory, c.Sync.PendingTTL)
	}
	if cut, n := c.Sync.KeepHistory.Cutoff(time.Now()); !cut.IsZero() || n != 30 {
		t.Errorf("Cutoff of 30 runs: %v %d", cut, n)
	}
	c = mustParse(t, base+`events:
  max_attempts: 3
  webhooks:
  - {url: "https://app.example.com/hook", secret: "${HOOK_SECRET}", events: [user.deactivated, sync.aborted]}
  - url: http://127.0.0.1:9/all
    secret: other
`, "HOOK_SECRET", "s3cr3t")
	want := []Webhook{
		{URL: "https://app.example.com/hook", Secret: "s3cr3t", Events: []string{"user.deactivated", "sync.aborted"}},
		{URL: "http://127.0.0.1:9/all", Secret: "other", Events: []string{}},
	}
	if !reflect.DeepEqual(c.Events.Webhooks, want) || c.Events.MaxAttempts != 3 {
		t.Errorf("webhooks %#v, max_attempts %d", c.Events.Webhooks, c.Events.MaxAttempts)
	}
	if !c.Events.Webhooks[1].Wants("group.created") || c.Events.Webhooks[0].Wants("user.created") {
		t.Error("Wants: an empty list takes all, a list only its types")
	}
	red, err := c.Redacted()
	if err != nil || strings.Contains(string(red), "s3cr3t") || strings.Contains(string(red), "other") {
		t.Errorf("Redacted shows a webhook secret (%v):\n%s", err, red)
	}
	if !strings.Contains(string(red), "keep_history: 2160h") && !strings.Contains(string(red), "keep_history: \"2160h\"") {
		t.Errorf("Redacted lacks keep_history:\n%s", red)
	}
}

func TestSyncAuditKeyErrors(t *testing.T) {
	tests := []struct{ name, yaml, key, want string }{
		{"keep_history word", "sync: {keep_history: forever}", "sync.keep_history", "neither a number of runs nor an age"},
		{"keep_history zero runs", "sync: {keep_history: 0}", "sync.keep_history", "keeps no run"},
		{"pending_ttl zero", "sync: {pending_ttl: 0}", "sync.pending_ttl", "is not positive"},
		{"max_attempts zero", "events: {max_attempts: 0}", "events.max_attempts", "less than 1"},
		{"webhooks not a list", "events: {webhooks: {url: x}}", "events.webhooks", "must be a list"},
		{"webhook url", "events: {webhooks: [{url: ftp://x, secret: s}]}", "events.webhooks[0].url", "not an http(s) URL"},
		{"webhook secret", "events: {webhooks: [{url: https://x}]}", "events.webhooks[0].secret", "is empty"},
		{"webhook event type", "events: {webhooks: [{url: https://x, secret: s, events: [user.exploded]}]}", "events.webhooks[0].events[0]", "is not an event type"},
		{"webhook typo", "events: {webhooks: [{ulr: https://x, secret: s}]}", "events.webhooks[0].ulr", "did you mean url?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, base+tt.yaml)
			if err == nil || !hasIssue(issuesOf(t, err), tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, err)
			}
		})
	}
}
