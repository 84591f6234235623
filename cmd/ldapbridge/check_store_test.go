package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestCheckWarnsAboutAStoreFileOthersCanRead: a SQLite file readable by
// group or others is a warning naming the file and the chmod that fixes it;
// a file the commands created (0600) is not.
func TestCheckWarnsAboutAStoreFileOthersCanRead(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	db := filepath.Join(t.TempDir(), "store.db")
	c := tutorialCLI(t, s, func(y string) string {
		return y[:strings.LastIndex(y, "\nstore:")] + "\nstore: {driver: sqlite, dsn: " + db + "}\n"
	})
	if r := c.run("", "migrate"); r.code != 0 {
		t.Fatalf("migrate: exit %d %s", r.code, r.stderr)
	}
	if st, err := os.Stat(db); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("store file after migrate: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	fix := "chmod 600 " + db
	if r := c.run("", "check"); r.code != 0 || strings.Contains(r.stdout+r.stderr, fix) {
		t.Errorf("check on a 0600 store: exit %d, want 0 without a permission warning\n%s%s", r.code, r.stdout, r.stderr)
	}

	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.run("", "check")
	if r.code != 0 {
		t.Errorf("check on a 0644 store: exit %d, want 0 (a warning, not a problem)\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "warning: store.dsn: the database file "+db+" is readable by group or others (mode 0644)") ||
		!strings.Contains(r.stdout, fix) {
		t.Errorf("check on a 0644 store does not warn with the file and the fix %q:\n%s", fix, r.stdout)
	}

	r = c.run("", "check", "--json")
	var rep checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, fix)
	}
	if !found || !rep.OK {
		t.Errorf("check --json: ok %v, warnings %q; want ok with the permission warning", rep.OK, rep.Warnings)
	}
}
