package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// TestSingleDirectoryStoreMigratesToDefault: a store at the schema before
// issue 14 (version 8) migrates with every account in directory
// "default", and its stable ids become unique per directory.
func TestSingleDirectoryStoreMigratesToDefault(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "old.db"))
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 9 || ms[8].Name != "0009_directories" {
		t.Fatalf("migration 9 is %q, want 0009_directories", ms[8].Name)
	}
	if err := s.Apply(ctx, ms[:8], s.name, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO users (username, source, stable_id, created_at, updated_at) VALUES
		('alice', 'ldap', 'uuid-a', 0, 0), ('root', 'local', '', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO groups (name, dn, stable_id, created_at, updated_at) VALUES
		('staff', 'cn=staff,dc=example', 'g-uuid', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "root"} {
		u, err := s.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if u.Directory != ldapbridge.DefaultDirectory {
			t.Errorf("%s: directory %q after the migration, want default", name, u.Directory)
		}
	}
	g, err := s.Group(ctx, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if g.Directory != ldapbridge.DefaultDirectory {
		t.Errorf("group staff: directory %q after the migration, want default", g.Directory)
	}
	again := &ldapbridge.Group{Name: "staff", DN: "cn=staff,dc=example", StableID: "g-uuid"}
	if err := s.UpsertGroup(ctx, again); err != nil || again.ID != g.ID {
		t.Errorf("re-upsert of the migrated group: id %d, err %v; want id %d", again.ID, err, g.ID)
	}
	other := &ldapbridge.User{Username: "alice2", Source: ldapbridge.SourceLDAP, StableID: "uuid-a", Directory: "ext"}
	if err := s.CreateUser(ctx, other); err != nil {
		t.Errorf("the same stable id in another directory: %v", err)
	}
	same := &ldapbridge.User{Username: "alice3", Source: ldapbridge.SourceLDAP, StableID: "uuid-a"}
	if err := s.CreateUser(ctx, same); err == nil {
		t.Error("the same stable id in directory default was accepted")
	}
}
