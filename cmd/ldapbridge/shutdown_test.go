package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// shutdownUsers is the size of the generated directory of the shutdown
// test: a full sync of it takes several seconds.
const shutdownUsers = 40000

// TestSIGTERMDuringAdminSyncCancelsItAndExitsCleanly starts `serve` on a
// directory big enough that a sync takes seconds, starts a sync from the
// admin page, and sends SIGTERM while it writes. serve exits 0 within a few
// seconds, after the sync stopped at a batch boundary: the store is intact
// and its history records the run as cancelled by SIGTERM.
func TestSIGTERMDuringAdminSyncCancelsItAndExitsCleanly(t *testing.T) {
	ldif := filepath.Join(t.TempDir(), "bulk.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, shutdownUsers, shutdownUsers/20, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif})
	listen := freeAddr(t)
	var dsn string
	c := tutorialCLI(t, s, func(y string) string {
		// Users from the fixture (carol signs in) and from the generated tree.
		acme := "ou=Users,o=" + slapdtest.JCOrgID + ",dc=jumpcloud,dc=com"
		old := "  search:\n    base_dn: " + acme + "\n    scope: sub\n    filter: \"(uid={username})\"\n"
		if !strings.Contains(y, old) {
			t.Fatalf("the tutorial config's users.search changed; update this test:\n%s", y)
		}
		y = strings.Replace(y, old, "  search:\n"+
			"    - {base_dn: \""+acme+"\", scope: sub, filter: \"(uid={username})\"}\n"+
			"    - {base_dn: \""+slapdtest.BulkUsersDN+"\", scope: one, filter: \"(uid={username})\"}\n", 1)
		i := strings.LastIndex(y, "dsn: ")
		dsn = strings.TrimSuffix(strings.TrimSpace(y[i+len("dsn: "):]), "}")
		return y + "web: {listen: '" + listen + "'}\n"
	})
	in := startInstance(t, buildBinary(t), c.config, "shutdown")

	cookie := signIn(t, in.url, slapdtest.JCCarolUID, slapdtest.JCCarolPassword)
	req, _ := http.NewRequest("POST", in.url+"/admin/sync", nil)
	req.Header.Set("Origin", in.url)
	req.AddCookie(cookie)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/admin?sync=started" {
		t.Fatalf("POST /admin/sync as carol: %s to %q; want 303 to /admin?sync=started", resp.Status, loc)
	}

	// Wait until the sync writes the generated users, then stop serve.
	db, err := sql.Open("sqlite", "file:"+dsn+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var written int
	if !waitFor(30*time.Second, func() bool {
		err := db.QueryRow(`SELECT count(*) FROM users WHERE username LIKE 'user%'`).Scan(&written)
		return err == nil && written > 0
	}) {
		t.Fatalf("the sync wrote no generated user within 30s:\n%s", in.stderr())
	}
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still running 15s after SIGTERM:\n%s", in.stderr())
	}
	took := time.Since(signalled)
	if code := in.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM; want 0\n%s", code, in.stderr())
	}
	if took > 5*time.Second {
		t.Errorf("serve took %s to exit after SIGTERM; want a few seconds at most", took)
	}
	t.Logf("SIGTERM after %d generated users were written; serve exited in %s", written, took)
	if log := in.stderr(); strings.Contains(log, "database is closed") || strings.Contains(log, "panic") {
		t.Errorf("serve wrote to a closed store or panicked while stopping:\n%s", log)
	}

	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after the shutdown: %q, %v; want ok", check, err)
	}
	db.Close()
	hist := c.run("", "sync", "history", "--json")
	var runs []struct {
		Outcome    string     `json:"outcome"`
		Error      string     `json:"error"`
		FinishedAt *time.Time `json:"finished_at"`
	}
	if err := json.Unmarshal([]byte(hist.stdout), &runs); hist.code != 0 || err != nil {
		t.Fatalf("sync history --json: exit %d, %v\n%s%s", hist.code, err, hist.stdout, hist.stderr)
	}
	if len(runs) != 1 || runs[0].Outcome != "cancelled" || runs[0].FinishedAt == nil || !strings.Contains(runs[0].Error, "SIGTERM") {
		t.Fatalf("sync history after SIGTERM: %+v; want one finished run with outcome cancelled naming SIGTERM\nserve stderr:\n%s", runs, in.stderr())
	}
	// The store is usable: the next sync completes what the cancelled one began.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb strings.Builder
	if code := run(ctx, []string{"--config", c.config, "sync", "--json"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("sync after the cancelled run: exit %d\n%s", code, errb.String())
	}
	var rep struct {
		UsersCreated   int `json:"users_created"`
		UsersUnchanged int `json:"users_unchanged"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("sync --json: %v\n%s", err, out.String())
	}
	if rep.UsersCreated+rep.UsersUnchanged < shutdownUsers {
		t.Errorf("sync after the cancelled run: %d created, %d unchanged; want all %d generated users in the store", rep.UsersCreated, rep.UsersUnchanged, shutdownUsers)
	}
}
