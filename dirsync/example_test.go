package dirsync_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// ExampleSyncer_Run mirrors the embedded demo directory into a new store,
// runs again to show that an unchanged directory changes nothing, then
// deactivates a person who left the directory.
func ExampleSyncer_Run() {
	ctx := context.Background()
	demo, err := demodir.Start(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer demo.Close()
	tmp, err := os.MkdirTemp("", "ldapbridge-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cfg, err := config.Parse(demodir.ConfigYAML(demo.URL(), filepath.Join(tmp, "app.db")), config.ParseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// The sync maps users exactly as a login does.
	authn, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		log.Fatal(err)
	}
	syncer, err := dirsync.New(dirsync.Options{Config: cfg, Dir: dir, Store: store, Mapper: authn.Mapper()})
	if err != nil {
		log.Fatal(err)
	}
	run := func(what string) {
		rep, err := syncer.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
		if err != nil {
			log.Fatal(err) // an aborted run (read error, removal guard) is an error too
		}
		fmt.Printf("%s: %d created, %d unchanged, %d deactivated; %d groups created\n",
			what, rep.UsersCreated, rep.UsersUnchanged, rep.UsersDeactivated, rep.GroupsCreated)
	}
	run("first run")
	run("second run")
	if err := demo.Delete(demodir.UserDN("kpatel")); err != nil {
		log.Fatal(err)
	}
	run("kpatel left")
	u, err := store.User(ctx, "kpatel")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kpatel active:", u.IsActive)
	// Output:
	// first run: 13 created, 0 unchanged, 0 deactivated; 6 groups created
	// second run: 0 created, 13 unchanged, 0 deactivated; 0 groups created
	// kpatel left: 0 created, 12 unchanged, 1 deactivated; 0 groups created
	// kpatel active: false
}
