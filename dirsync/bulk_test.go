package dirsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/postgres"
)

var _ dirsync.BulkCreator = (*postgres.Store)(nil)

func TestFullSyncIntoPostgresCreatesInBulkThenRerunChangesNothing(t *testing.T) {
	ctx := t.Context()
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	y := strings.NewReplacer("URL", srv.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.JCUsersDN, "DSN", "unused", "POLICY", "deactivate", "MAXREM", `"50%"`,
		"SYNCFILTER", "(objectClass=inetOrgPerson)").Replace(syncConfig)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	st, err := postgres.Open(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The login's OnPopulate hook runs on bulk creates too.
	var calls int
	a, err := auth.New(cfg, dir, st, auth.Options{Hooks: teamHook(&calls)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: dir, Store: st, Mapper: a.Mapper(), SkewMargin: time.Second,
		BatchSize: 4, Instance: "bulk-test"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if err != nil || rep.UsersCreated != fixtureUsers || rep.GroupsCreated != 7 {
		t.Fatalf("first run: %v; %d users, %d groups created; want %d, 7", err, rep.UsersCreated, rep.GroupsCreated, fixtureUsers)
	}
	nina, err := st.User(ctx, slapdtest.JCNinaUID)
	if err != nil || strings.Join(nina.Groups, ",") != "backend,engineering" || nina.Profile["team"] != "none" {
		t.Errorf("nina after a bulk create: %+v, %v; want groups backend,engineering and the hook's team none", nina, err)
	}
	if dave, err := st.User(ctx, slapdtest.JCDaveUID); err != nil || !dave.HasPhoto || dave.LastSyncedAt == nil {
		t.Errorf("dave after a bulk create: %+v, %v; want a photo and a sync time", dave, err)
	}
	again, err := s.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if err != nil || again.UsersUnchanged != fixtureUsers || again.UsersUpdated != 0 || again.UsersCreated != 0 {
		t.Errorf("rerun: %v; %d unchanged, %d updated, %d created; want every user unchanged (hashes recorded)",
			err, again.UsersUnchanged, again.UsersUpdated, again.UsersCreated)
	}
	runs, err := st.SyncRuns(ctx, 0)
	if err != nil || len(runs) != 2 || runs[0].Instance != "bulk-test" {
		t.Errorf("history: %v, %v; want 2 runs by bulk-test", runs, err)
	}
}
