package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

const auditConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: PASSWORD
  flavor: openldap
  page_size: 1000
users:
  search: {base_dn: "USERS", scope: one, filter: "(uid={username})"}
  sync_filter: "FILTER"
groups:
  search: {base_dn: "USERS", scope: one, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
sync:
  max_removals: MAX
  keep_history: KEEP
store: {driver: sqlite, dsn: DSN}
`

// bulkCLI starts slapd with a generated directory of users users (loaded
// with slapadd, as the bench does) and returns a CLI whose configuration
// write rewrites with a sync filter and max_removals.
func bulkCLI(t *testing.T, users int) (*slapdtest.Server, cli, func(filter, maxRemovals string)) {
	t.Helper()
	ldif := filepath.Join(t.TempDir(), "bulk.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, users, max(1, users/20), 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif})
	c := cli{t: t, config: filepath.Join(t.TempDir(), "ldapbridge.yaml")}
	dsn := filepath.Join(t.TempDir(), "lb.db")
	write := func(filter, maxRemovals string) {
		keep := "2160h"
		if filter == "keep 2 runs" {
			filter, keep = "(objectClass=inetOrgPerson)", "2"
		}
		y := strings.NewReplacer("KEEP", keep, "URL", s.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
			"USERS", slapdtest.BulkUsersDN, "DSN", dsn, "FILTER", filter, "MAX", maxRemovals).Replace(auditConfig)
		if err := os.WriteFile(c.config, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("(objectClass=inetOrgPerson)", "5%")
	return s, c, write
}

func deleteEntries(t *testing.T, s *slapdtest.Server, dns ...string) {
	t.Helper()
	var b strings.Builder
	for _, dn := range dns {
		fmt.Fprintf(&b, "dn: %s\nchangetype: delete\n\n", dn)
	}
	s.Apply(t, b.String())
}

type syncShow struct {
	Run struct {
		ID      int64  `json:"id"`
		Outcome string `json:"outcome"`
	} `json:"run"`
	Changes []struct {
		Kind, Action, User, Group, DN, Reason string
		Fields                                []string
	} `json:"changes"`
}

func (c cli) syncJSON(args ...string) (map[string]any, cliResult) {
	c.t.Helper()
	res := c.run("", append([]string{"sync", "--json"}, args...)...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		c.t.Fatalf("sync --json %v: exit %d: %v\n%s%s", args, res.code, err, res.stdout, res.stderr)
	}
	return rep, res
}

func (c cli) show(args ...string) syncShow {
	c.t.Helper()
	res := c.run("", append([]string{"sync", "show", "--json"}, args...)...)
	var out syncShow
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &out) != nil {
		c.t.Fatalf("sync show %v: exit %d\n%s%s", args, res.code, res.stdout, res.stderr)
	}
	return out
}

// TestSyncAuditOnTenThousandUsers is the change log's and the approvals'
// acceptance test against slapd with 10,000 users: three users deleted
// from the directory make three deactivated changes with their reason;
// a sync filter narrowed to a tenth holds about 9,000 removals pending;
// approving them after the filter is restored removes nobody, and
// approving a run whose users are really gone removes exactly those.
func TestSyncAuditOnTenThousandUsers(t *testing.T) {
	const users = 10000
	s, c, write := bulkCLI(t, users)
	rep, res := c.syncJSON("--full")
	if res.code != 0 || rep["users_created"].(float64) != users {
		t.Fatalf("first sync: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	first := c.show(fmt.Sprint(rep["run_id"]), "--kind", "user")
	if len(first.Changes) != users || first.Changes[0].Action != "created" || first.Run.Outcome != "ok" {
		t.Fatalf("first run's user changes: %d (want %d created), run %+v", len(first.Changes), users, first.Run)
	}

	// Three users deleted in the directory: three deactivated changes.
	gone := []int{17, 4242, 9999}
	deleteEntries(t, s, slapdtest.BulkUserDN(gone[0]), slapdtest.BulkUserDN(gone[1]), slapdtest.BulkUserDN(gone[2]))
	rep, res = c.syncJSON("--full")
	if res.code != 0 || rep["users_deactivated"].(float64) != 3 {
		t.Fatalf("sync after 3 deletions: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	runID := fmt.Sprint(rep["run_id"])
	shown := c.show(runID)
	var deactivated []string
	for _, ch := range shown.Changes {
		if ch.Kind == "user" && ch.Action == "deactivated" {
			deactivated = append(deactivated, ch.User)
			if !strings.Contains(ch.Reason, "not found by a complete read") || ch.DN == "" || ch.Fields == nil {
				t.Errorf("deactivated change of %s: reason %q dn %q fields %v", ch.User, ch.Reason, ch.DN, ch.Fields)
			}
		}
	}
	want := []string{slapdtest.BulkUserUID(gone[0]), slapdtest.BulkUserUID(gone[1]), slapdtest.BulkUserUID(gone[2])}
	if strings.Join(deactivated, ",") != strings.Join(want, ",") {
		t.Errorf("deactivated changes %v, want %v\n%+v", deactivated, want, shown.Changes)
	}
	if f := c.show(runID, "--action", "deactivated"); len(f.Changes) != 3 {
		t.Errorf("--action deactivated: %d changes, want 3", len(f.Changes))
	}
	if f := c.show(runID, "--kind", "group"); len(f.Changes) != 0 {
		t.Errorf("--kind group: %+v, want none", f.Changes)
	}
	text := c.run("", "sync", "show", runID)
	if text.code != 0 || !strings.Contains(text.stdout, "deactivated") || !strings.Contains(text.stdout, want[1]) {
		t.Errorf("sync show text: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
	if hist := c.run("", "sync", "history"); !strings.Contains(hist.stdout, "RUN") || !strings.Contains(hist.stdout, "\n"+runID+" ") {
		t.Errorf("sync history does not show the run id %s:\n%s", runID, hist.stdout)
	}
	if bad := c.run("", "sync", "show", "x"); bad.code != 2 || !strings.Contains(bad.stderr, "sync history") {
		t.Errorf("sync show x: exit %d\n%s", bad.code, bad.stderr)
	}
	// The admin run page shows the same three, with their reason.
	if add := c.run("root-Pw-2026-long\n", "users", "add-local", "root", "--superuser"); add.code != 0 {
		t.Fatalf("users add-local: exit %d\n%s%s", add.code, add.stdout, add.stderr)
	}
	page := serveAndGet(t, c, "root", "root-Pw-2026-long", "/admin/sync/runs/"+runID+"?action=deactivated")
	for _, uid := range want {
		if !strings.Contains(page, ">"+uid+"</a>") {
			t.Errorf("the admin run page lacks %s:\n%.3000s", uid, page)
		}
	}
	if !strings.Contains(page, "3 changes") || !strings.Contains(page, "not found by a complete read") {
		t.Errorf("the admin run page does not list 3 deactivations with their reason:\n%.3000s", page)
	}

	// A filter narrowed to a tenth: the run aborts and holds its removals.
	write("(&(objectClass=inetOrgPerson)(uid=user*0))", "5%")
	rep, res = c.syncJSON("--full")
	held := users - users/10 - len(gone) // the three gone are inactive already
	if res.code != 1 || rep["aborted"] != true || rep["pending_removals"].(float64) != float64(held) || !strings.Contains(res.stdout, "sync approve") {
		t.Fatalf("narrowed sync: exit %d, want 1 with %d pending removals\n%.2000s", res.code, held, res.stdout)
	}
	narrowRun := fmt.Sprint(rep["run_id"])
	var pending []struct {
		RunID    int64  `json:"run_id"`
		Count    int    `json:"count"`
		State    string `json:"state"`
		Removals []struct{ User, Action, Reason string }
	}
	pres := c.run("", "sync", "pending", "--json")
	if err := json.Unmarshal([]byte(pres.stdout), &pending); err != nil || len(pending) != 1 || fmt.Sprint(pending[0].RunID) != narrowRun ||
		pending[0].Count != held || len(pending[0].Removals) != held || pending[0].Removals[0].Action != "deactivated" {
		t.Fatalf("sync pending --json: %v\n%.1000s", err, pres.stdout)
	}
	// The filter restored, approving removes none of them.
	write("(objectClass=inetOrgPerson)", "5%")
	ares := c.run("", "sync", "approve", narrowRun)
	if ares.code != 0 || !strings.Contains(ares.stdout, fmt.Sprintf("removed 0, skipped %d", held)) {
		t.Fatalf("approve after restoring the filter: exit %d\n%s%s", ares.code, ares.stdout, ares.stderr)
	}
	if u := c.run("", "users", "show", slapdtest.BulkUserUID(1), "--json"); !strings.Contains(u.stdout, `"is_active": true`) {
		t.Errorf("%s after the approval:\n%s", slapdtest.BulkUserUID(1), u.stdout)
	}
	if again := c.run("", "sync", "approve", narrowRun); again.code != 1 || !strings.Contains(again.stderr, "already approved by cli") {
		t.Errorf("second approval: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	// Users really gone, over a limit of 2: approving removes exactly them.
	write("(objectClass=inetOrgPerson)", "2")
	really := []int{100, 200, 300, 400, 500}
	var dns, uids []string
	for _, i := range really {
		dns, uids = append(dns, slapdtest.BulkUserDN(i)), append(uids, slapdtest.BulkUserUID(i))
	}
	deleteEntries(t, s, dns...)
	rep, res = c.syncJSON()
	if res.code != 1 || rep["pending_removals"].(float64) != 5 {
		t.Fatalf("sync after 5 deletions over a limit of 2: exit %d\n%.2000s", res.code, res.stdout)
	}
	goneRun := fmt.Sprint(rep["run_id"])
	var ar struct {
		Removed, Skipped int
		Sync             struct {
			RunID int64 `json:"run_id"`
		}
	}
	ares = c.run("", "sync", "approve", goneRun, "--json")
	if err := json.Unmarshal([]byte(ares.stdout), &ar); err != nil || ares.code != 0 || ar.Removed != 5 || ar.Skipped != 0 {
		t.Fatalf("approve of really gone users: exit %d %v\n%.2000s%s", ares.code, err, ares.stdout, ares.stderr)
	}
	var removed []string
	for _, ch := range c.show(fmt.Sprint(ar.Sync.RunID), "--action", "deactivated").Changes {
		removed = append(removed, ch.User)
	}
	if strings.Join(removed, ",") != strings.Join(uids, ",") {
		t.Errorf("the approval deactivated %v, want exactly %v", removed, uids)
	}
	// Rejected removals remove nobody.
	deleteEntries(t, s, slapdtest.BulkUserDN(600), slapdtest.BulkUserDN(700), slapdtest.BulkUserDN(800))
	rep, _ = c.syncJSON()
	if rj := c.run("", "sync", "reject", fmt.Sprint(rep["run_id"])); rj.code != 0 || !strings.Contains(rj.stdout, "3 pending removals rejected") {
		t.Errorf("reject: exit %d\n%s%s", rj.code, rj.stdout, rj.stderr)
	}
	if u := c.run("", "users", "show", slapdtest.BulkUserUID(600), "--json"); !strings.Contains(u.stdout, `"is_active": true`) {
		t.Errorf("%s after the rejection:\n%s", slapdtest.BulkUserUID(600), u.stdout)
	}

	// sync.keep_history as a count: a run prunes all but the last two.
	write("keep 2 runs", "5%")
	if _, res := c.syncJSON(); res.code != 0 {
		t.Fatalf("sync keeping 2 runs: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	var runs []map[string]any
	hist := c.run("", "sync", "history", "--json", "--limit", "0")
	if err := json.Unmarshal([]byte(hist.stdout), &runs); err != nil || len(runs) != 2 {
		t.Errorf("history after keep_history: 2: %d runs (%v)\n%s", len(runs), err, hist.stdout)
	}
	if pruned := c.run("", "sync", "show", fmt.Sprint(first.Run.ID)); pruned.code != 1 || !strings.Contains(pruned.stderr, "not found") {
		t.Errorf("sync show of a pruned run: exit %d\n%s%s", pruned.code, pruned.stdout, pruned.stderr)
	}
}

// serveAndGet runs `ldapbridge serve` in this process on a free port,
// signs in as user and returns the body of GET path; serve is stopped
// before it returns.
func serveAndGet(t *testing.T, c cli, user, password, path string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--config", c.config, "serve", "--listen", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		<-done
	}()
	sc := bufio.NewScanner(pr)
	base := ""
	for base == "" && sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "ldapbridge is serving on "); ok {
			base = strings.TrimSuffix(u, "/")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		t.Fatal("serve did not start")
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	do := func(req *http.Request) *http.Response {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	login, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"username": {user}, "password": {password}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	do(login).Body.Close()
	get, _ := http.NewRequest(http.MethodGet, base+path, nil)
	resp := do(get)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%.2000s", path, resp.Status, b)
	}
	return string(b)
}
