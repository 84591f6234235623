package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// syncRefusal is the message of a sync refused because another one runs.
var syncRefusal = regexp.MustCompile(`a sync is already running \(pid (\d+) on (\S+) since ([^)]+)\)`)

// TestLockSyncRunOnSQLiteRefusesASecondSync: the lock serve's syncs and the
// sync command take (lockSyncRun) holds on SQLite too, across Stores on
// one file, and names the holder.
func TestLockSyncRunOnSQLiteRefusesASecondSync(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "lb.db")
	open := func() *sqlite.Store {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()
	unlock, err := lockSyncRun(ctx, a)
	if err != nil {
		t.Fatalf("first lockSyncRun: %v", err)
	}
	_, err = lockSyncRun(ctx, b)
	if m := syncRefusal.FindStringSubmatch(errString(err)); m == nil || m[1] != strconv.Itoa(os.Getpid()) {
		t.Errorf("second lockSyncRun: %v; want a refusal naming pid %d", err, os.Getpid())
	}
	unlock()
	unlock, err = lockSyncRun(ctx, b)
	if err != nil {
		t.Fatalf("lockSyncRun after unlock: %v", err)
	}
	unlock()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

const twoSyncsConfig = `
directory:
  urls: [URL]
  bind_dn: BINDDN
  bind_password: ${LDAP_BIND_PASSWORD}
  flavor: openldap
  page_size: 1000
users:
  search: {base_dn: "USERS", scope: one, filter: "(uid={username})"}
  sync_filter: "(objectClass=inetOrgPerson)"
groups:
  search: {base_dn: "USERS", scope: one, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
store: {driver: sqlite, dsn: DSN}
`

// TestTwoSyncsOnOneSQLiteFile runs two `ldapbridge sync` processes on one
// SQLite file at once: one runs and is recorded, the other exits 1 within
// a second saying which process holds the sync.
func TestTwoSyncsOnOneSQLiteFile(t *testing.T) {
	bin := buildBinary(t)
	const users, groups = 20000, 400 // a full sync of a second or more
	ldif := filepath.Join(t.TempDir(), "bulk.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	if err := slapdtest.GenerateLDIF(f, users, groups, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, Bulk: ldif})
	db := filepath.Join(t.TempDir(), "lb.db")
	cfg := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	y := strings.NewReplacer("URL", s.URL, "BINDDN", slapdtest.JCServiceDN,
		"USERS", slapdtest.BulkUsersDN, "DSN", db).Replace(twoSyncsConfig)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LDAP_BIND_PASSWORD", slapdtest.JCServicePassword)
	if out, err := exec.Command(bin, "--config", cfg, "migrate").CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	type result struct {
		pid            int
		code           int
		took           time.Duration
		stdout, stderr string
	}
	var (
		wg      sync.WaitGroup
		results [2]result
		start   = make(chan struct{})
	)
	for i := range results {
		wg.Go(func() {
			var out, errb bytes.Buffer
			cmd := exec.Command(bin, "--config", cfg, "sync", "--json")
			cmd.Stdout, cmd.Stderr = &out, &errb
			<-start
			began := time.Now()
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return
			}
			err := cmd.Wait()
			r := result{pid: cmd.Process.Pid, took: time.Since(began), stdout: out.String(), stderr: errb.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			} else if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	close(start)
	wg.Wait()

	ran, refused := results[0], results[1]
	if ran.code != 0 {
		ran, refused = refused, ran
	}
	if ran.code != 0 || refused.code != 1 {
		t.Fatalf("exit codes %d and %d, want one 0 and one 1\nfirst: %s%s\nsecond: %s%s",
			results[0].code, results[1].code, results[0].stdout, results[0].stderr, results[1].stdout, results[1].stderr)
	}
	t.Logf("the sync that ran took %v, the refused one %v", ran.took, refused.took)
	host, _ := os.Hostname()
	m := syncRefusal.FindStringSubmatch(refused.stderr)
	if m == nil || m[1] != strconv.Itoa(ran.pid) || m[2] != host {
		t.Errorf("refused sync says %q; want `a sync is already running (pid %d on %s since TIME)`", refused.stderr, ran.pid, host)
	} else if _, err := time.Parse(time.RFC3339, m[3]); err != nil {
		t.Errorf("refusal time %q: %v", m[3], err)
	}
	if refused.took > time.Second {
		t.Errorf("the refused sync took %v to exit, want under a second", refused.took)
	}
	if strings.Contains(refused.stdout+refused.stderr, "UNIQUE") {
		t.Errorf("the refused sync wrote to the store:\n%s", refused.stderr)
	}
	if refused.took >= ran.took {
		t.Errorf("the refused sync (%v) did not end before the one that ran (%v)", refused.took, ran.took)
	}
	var rep struct {
		UsersCreated int  `json:"users_created"`
		Aborted      bool `json:"aborted"`
	}
	if err := json.Unmarshal([]byte(ran.stdout), &rep); err != nil || rep.UsersCreated != users || rep.Aborted {
		t.Errorf("the sync that ran: %+v, %v; want %d users created\n%s", rep, err, users, ran.stderr)
	}

	out, err := exec.Command(bin, "--config", cfg, "sync", "history", "--json").Output()
	var runs []map[string]any
	if err != nil || json.Unmarshal(out, &runs) != nil || len(runs) != 1 || runs[0]["outcome"] != "ok" {
		t.Errorf("sync history: %v\n%s; want one run, ok", err, out)
	}
	// The lock went with the process: the next sync runs.
	if out, err := exec.Command(bin, "--config", cfg, "sync").CombinedOutput(); err != nil {
		t.Errorf("a sync after both ended: %v\n%s", err, out)
	}
}
