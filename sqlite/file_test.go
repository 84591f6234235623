//go:build unix

package sqlite

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestFilePath(t *testing.T) {
	for dsn, want := range map[string]string{
		"ldapbridge.db":                     "ldapbridge.db",
		"/var/lib/lb/x.db":                  "/var/lib/lb/x.db",
		"/var/lib/lb/x.db?_pragma=foo(1)":   "/var/lib/lb/x.db",
		"file:/var/lib/lb/x.db?mode=rwc":    "/var/lib/lb/x.db",
		"file:///var/lib/lb/x.db":           "/var/lib/lb/x.db",
		"file://localhost/var/lib/x%20y.db": "/var/lib/x y.db",
		"file:rel.db#frag":                  "rel.db",
		":memory:":                          "",
		"file::memory:?cache=shared":        "",
		"file:/lb?vfs=memdb":                "",
		"file:x.db?mode=memory":             "",
		"file:":                             "",
		" ":                                 "",
	} {
		if got := FilePath(dsn); got != want {
			t.Errorf("FilePath(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestNewDatabaseFilesArePrivate: the database and its -wal and -shm
// files are created 0600 whatever the umask allows, so no other local user
// can read password hashes or sessions.
func TestNewDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the common default, which SQLite alone turns into 0644
	t.Cleanup(func() { syscall.Umask(old) })
	for _, form := range []string{"path", "uri"} {
		t.Run(form, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "lb.db")
			dsn := path
			if form == "uri" {
				dsn = "file:" + path + "?mode=rwc"
			}
			s := openTest(t, dsn)
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			// A write and a concurrent read keep the -wal and -shm files.
			if err := s.CreateUser(ctx, &ldapbridge.User{Username: "u", Source: ldapbridge.SourceLocal}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.User(ctx, "u"); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				st, err := os.Stat(p)
				if err != nil {
					t.Errorf("%s: %v", filepath.Base(p), err)
					continue
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), st.Mode().Perm())
				}
			}
			if loose, err := LoosePermissions(dsn); err != nil || len(loose) != 0 {
				t.Errorf("LoosePermissions = %v, %v; want none", loose, err)
			}
		})
	}
}

func TestExistingDatabaseKeepsItsModeAndIsReportedLoose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("Open changed the mode of an existing file to %04o", st.Mode().Perm())
	}
	loose, err := LoosePermissions(path)
	if err != nil || len(loose) == 0 || loose[0].Path != path || loose[0].Mode != fs.FileMode(0o640) {
		t.Errorf("LoosePermissions = %+v, %v; want %s 0640 first", loose, err, path)
	}
	if loose, err := LoosePermissions(":memory:"); err != nil || loose != nil {
		t.Errorf("LoosePermissions(:memory:) = %v, %v", loose, err)
	}
}
