package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

func TestSyncJSONThenGuardOnNarrowedFilterExitsOne(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, nil)
	res := c.run("", "sync", "--json")
	if res.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("sync --json: %v\n%s", err, res.stdout)
	}
	for _, k := range []string{"users_created", "users_updated", "users_deactivated", "users_deleted", "users_unchanged",
		"groups_created", "groups_updated", "groups_deleted", "memberships_added", "memberships_removed",
		"mode", "ldap_searches", "duration_ms", "aborted", "abort_reason"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("sync --json lacks %q", k)
		}
	}
	if rep["users_created"].(float64) < 10 || rep["mode"] != "full" || rep["aborted"] != false {
		t.Errorf("first sync: %v", res.stdout)
	}
	show := c.run("", "users", "show", slapdtest.JCBobUID, "--json")
	if show.code != 0 || !strings.Contains(show.stdout, `"is_staff": true`) || !strings.Contains(show.stdout, `"staff"`) {
		t.Errorf("users show bob after sync: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
	// Narrow the population to one user in ten: the guard must stop it.
	raw, _ := os.ReadFile(c.config)
	narrowed := strings.Replace(string(raw), "users:\n", "users:\n  sync_filter: \"(&(objectClass=inetOrgPerson)(uid=alice))\"\n", 1)
	if err := os.WriteFile(c.config, []byte(narrowed), 0o600); err != nil {
		t.Fatal(err)
	}
	res = c.run("", "sync")
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "sync.max_removals") || !strings.Contains(res.stdout+res.stderr, "--force") {
		t.Fatalf("narrowed sync: exit %d, want 1 with the guard message\n%s%s", res.code, res.stdout, res.stderr)
	}
	show = c.run("", "users", "show", slapdtest.JCBobUID, "--json")
	if !strings.Contains(show.stdout, `"is_active": true`) {
		t.Errorf("bob deactivated although the guard tripped:\n%s", show.stdout)
	}
	hist := c.run("", "sync", "history")
	if hist.code != 0 || !strings.Contains(hist.stdout, "aborted") || !strings.Contains(hist.stdout, "ok") {
		t.Errorf("sync history: exit %d\n%s%s", hist.code, hist.stdout, hist.stderr)
	}
	hist = c.run("", "sync", "history", "--json")
	var runs []struct {
		StartedBy string `json:"started_by"`
	}
	if err := json.Unmarshal([]byte(hist.stdout), &runs); err != nil || len(runs) != 2 || runs[0].StartedBy != "cli" || runs[1].StartedBy != "cli" {
		t.Errorf("sync history --json: %+v (%v); want two runs started by cli\n%s", runs, err, hist.stdout)
	}
}

// TestAbortedSyncReportIsWellFormed: a run that cannot reach any server
// still names its mode and server in words, and its JSON arrays are [].
func TestAbortedSyncReportIsWellFormed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	y := "directory: {urls: [\"ldap://127.0.0.1:1\"], flavor: openldap, dial_timeout: 1s}\n" +
		"users: {search: {base_dn: \"dc=x\", filter: \"(uid={username})\"}}\n" +
		"store: {dsn: " + filepath.Join(t.TempDir(), "x.db") + "}\n"
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, config: path}
	res := c.run("", "sync")
	if res.code != 1 || strings.Contains(res.stdout, "sync of  in") || !strings.Contains(res.stdout, "full sync of no directory server") {
		t.Errorf("text: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = c.run("", "sync", "--json")
	var rep map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("sync --json: exit %d: %v\n%s%s", res.code, err, res.stdout, res.stderr)
	}
	if rep["mode"] != "full" || rep["aborted"] != true || rep["abort_reason"] == "" {
		t.Errorf("mode %v, aborted %v, reason %v", rep["mode"], rep["aborted"], rep["abort_reason"])
	}
	if strings.Contains(res.stdout, "null") {
		t.Errorf("null in the JSON report:\n%s", res.stdout)
	}
}
