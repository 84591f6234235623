package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/postgres"
)

// postgresCLI writes a config whose store is the PostgreSQL database dsn.
func postgresCLI(t *testing.T, dsn string) cli {
	t.Helper()
	y := "directory: {urls: [\"ldap://127.0.0.1:1\"], flavor: openldap}\n" +
		"users: {search: {base_dn: \"dc=x\", filter: \"(uid={username})\"}}\n" +
		"access: {local_accounts: true}\n" +
		"store: {driver: postgres, dsn: '" + dsn + "'}\n"
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return cli{t: t, config: path}
}

func TestPostgresStoreMigratesAndKeepsAccounts(t *testing.T) {
	c := postgresCLI(t, pgtest.New(t))
	if r := c.run("", "migrate"); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	if r := c.run("correct horse\n", "users", "add-local", "root", "--superuser"); r.code != 0 {
		t.Fatalf("users add-local: exit %d: %s", r.code, r.stderr)
	}
	r := c.run("", "users", "show", "root")
	if r.code != 0 || !strings.Contains(r.stdout, "local") || !strings.Contains(r.stdout, "superuser") {
		t.Errorf("users show root from postgres: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestPostgresDownIsAClearFailure(t *testing.T) {
	const secret = "pw-never-printed"
	c := postgresCLI(t, "postgres://ldapbridge:"+secret+"@127.0.0.1:1/ldapbridge")
	r := c.run("", "users", "list")
	want := []string{"store.dsn: connect to postgres at 127.0.0.1:1:", "is PostgreSQL running?"}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.stderr, w)
		}
	}
	if r.code != 1 || strings.Contains(r.stderr+r.stdout, secret) {
		t.Errorf("exit %d (want 1), output %q %q must not hold the password", r.code, r.stdout, r.stderr)
	}
}

func TestSyncRefusesWhileAnotherInstanceSyncs(t *testing.T) {
	dsn := pgtest.New(t)
	c := postgresCLI(t, dsn)
	if r := c.run("", "migrate"); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, ok, err := st.TryLockSyncRun(t.Context())
	if err != nil || !ok {
		t.Fatalf("TryLockSyncRun: %v, %v", ok, err)
	}
	defer unlock()
	r := c.run("", "sync")
	if r.code != 1 || !strings.Contains(r.stderr, "a sync is already running on another instance") {
		t.Errorf("sync while another instance syncs: exit %d, stderr %q; want 1 naming the other instance", r.code, r.stderr)
	}
	if dry := c.run("", "sync", "--dry-run"); strings.Contains(dry.stderr, "another instance") {
		t.Errorf("a dry run waited for the sync lock: %q", dry.stderr)
	}
}
