package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// storeReport is what `check` found about the store.
type storeReport struct {
	Driver string `json:"driver"`
	// Opened is true when the database could be opened and read.
	Opened bool `json:"opened"`
	// Version is the schema version the database has; Latest the one this
	// binary's migrations lead to.
	Version int `json:"version"`
	Latest  int `json:"latest"`
	// Missing is true for a SQLite file not created yet (any command
	// creates it).
	Missing bool   `json:"missing,omitempty"`
	Error   string `json:"error,omitempty"`
}

// versioned is what both stores offer to read their schema version.
type versioned interface {
	Version(ctx context.Context) (int, error)
	Close() error
}

// checkStore opens the store without migrating it (and without creating a
// SQLite file that does not exist yet) and reads its schema version.
// Problems are things that stop the commands from using the store;
// warnings are migrations still to apply and loose file permissions.
func checkStore(ctx context.Context, cfg config.Store) (rep storeReport, problems, warnings []string) {
	rep.Driver = cfg.Driver
	if rep.Driver == "" {
		rep.Driver = "sqlite"
	}
	fail := func(msg string) (storeReport, []string, []string) {
		rep.Error = msg
		return rep, append(problems, msg), warnings
	}
	var st versioned
	switch rep.Driver {
	case "sqlite":
		rep.Latest = sqlite.LatestVersion()
		warnings = storeFileWarnings(cfg)
		dsn := cfg.DSN.Reveal()
		if path := sqlite.FilePath(dsn); path != "" {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				// Every command creates it on first use: say so only when
				// it cannot be created.
				dir := filepath.Dir(path)
				if why := dirUnwritable(dir); why != "" {
					return fail(fmt.Sprintf("store.dsn: the database %s does not exist and cannot be created: %s — create the directory %s and make it writable by this user", path, why, dir))
				}
				rep.Missing = true
				return rep, problems, warnings
			}
		}
		s, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return fail(fmt.Sprintf("store.dsn: %v", err))
		}
		st = s
	case "postgres":
		rep.Latest = postgres.LatestVersion()
		s, err := postgres.Open(ctx, cfg.DSN.Reveal())
		if err != nil {
			return fail(fmt.Sprintf("store.dsn: %v", err))
		}
		st = s
	default:
		return fail(fmt.Sprintf("store.driver: %q is not available in this build — use sqlite or postgres", cfg.Driver))
	}
	defer st.Close()
	v, err := st.Version(ctx)
	if err != nil {
		return fail(fmt.Sprintf("store: %v — check that store.dsn names an ldapbridge database this user may read", err))
	}
	rep.Opened, rep.Version = true, v
	switch {
	case v > rep.Latest:
		return fail(fmt.Sprintf("store: schema version %d is newer than this ldapbridge knows (%d) — run the newer ldapbridge that migrated it", v, rep.Latest))
	case v < rep.Latest:
		warnings = append(warnings, fmt.Sprintf("store: schema version %d, %d migration(s) to apply — run `ldapbridge migrate` (every command also applies them when it opens the store)", v, rep.Latest-v))
	}
	return rep, problems, warnings
}

// dirUnwritable says why a file cannot be created in dir, or "".
func dirUnwritable(dir string) string {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "the directory " + dir + " does not exist"
	case err != nil:
		return err.Error()
	case !st.IsDir():
		return dir + " is not a directory"
	}
	f, err := os.CreateTemp(dir, ".ldapbridge-check-*")
	if err != nil {
		return "this user cannot create files in " + dir
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return ""
}
