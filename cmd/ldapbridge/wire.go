package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/events"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// app is the object graph most commands need.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store ldapbridge.Store
	dir   *ldapdir.Dir
	auth  *auth.Authenticator
	// instance names this process in the sync history.
	instance string
}

func (a *app) Close() {
	if a.dir != nil {
		a.dir.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}

func (g *globals) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// loadConfig reads the configuration file and prints its warnings on
// standard error; any problem is a usage error.
func (g *globals) loadConfig() (*config.Config, error) {
	cfg, err := g.loadConfigQuiet()
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(g.stderr, "warning:", w)
	}
	return cfg, nil
}

// loadConfigQuiet is loadConfig without printing the warnings, for `check`,
// which reports them itself.
func (g *globals) loadConfigQuiet() (*config.Config, error) {
	if _, err := os.Stat(g.configPath); errors.Is(err, os.ErrNotExist) {
		return nil, usage(fmt.Errorf("config file %s not found — pass --config FILE or set LDAPBRIDGE_CONFIG (see examples/ for starting points)", g.configPath))
	}
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, usage(fmt.Errorf("%s:\n%w", g.configPath, err))
	}
	return cfg, nil
}

// openStore opens and migrates the configured store.
func openStore(ctx context.Context, cfg config.Store) (ldapbridge.Store, error) {
	switch cfg.Driver {
	case "sqlite", "":
		st, err := sqlite.Open(ctx, cfg.DSN.Reveal())
		if err != nil {
			return nil, failed(fmt.Errorf("store.dsn: %w", err))
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, failed(fmt.Errorf("store: migrate: %w", err))
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.DSN.Reveal())
		if err != nil {
			return nil, failed(fmt.Errorf("store.dsn: %w", err))
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, failed(fmt.Errorf("store: migrate: %w", err))
		}
		return st, nil
	}
	return nil, usage(fmt.Errorf("store.driver: %q is not available in this build — use sqlite or postgres", cfg.Driver))
}

// openMode says how much of the object graph a command needs.
type openMode int

const (
	storeOnly  openMode = iota // the store
	withAuth                   // store, directory (not contacted) and authenticator
	withDetect                 // as withAuth, reading the root DSE to settle flavor: auto
)

// openApp loads the config and opens what mode asks for.
func (g *globals) openApp(ctx context.Context, mode openMode) (*app, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	return g.openAppWith(ctx, cfg, mode, nil)
}

// openAppWith opens the store and, as mode asks, the directory and
// authenticator for an already loaded config.
func (g *globals) openAppWith(ctx context.Context, cfg *config.Config, mode openMode, obs ldapdir.Observer) (*app, error) {
	a := &app{cfg: cfg, log: g.logger(), instance: g.instanceName()}
	var err error
	if a.store, err = openStore(ctx, cfg.Store); err != nil {
		return nil, err
	}
	if mode == storeOnly {
		return a, nil
	}
	if err := a.openDirectory(ctx, mode == withDetect, obs); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// openDirectory opens the directory, settles the flavor and builds the
// authenticator. The directory is contacted only when detect is set and
// directory.flavor is auto.
func (a *app) openDirectory(ctx context.Context, detect bool, obs ldapdir.Observer) error {
	dir, err := ldapdir.Open(ctx, a.cfg.Directory, ldapdir.Options{Logger: a.log, Observer: obs})
	if err != nil {
		return usage(err)
	}
	a.dir = dir
	if a.cfg.Directory.Flavor == ldapbridge.FlavorAuto || a.cfg.Directory.Flavor == "" {
		flavor := ldapbridge.FlavorOpenLDAP
		if detect {
			if info, err := dir.Info(ctx); err == nil {
				flavor = info.Flavor
			} else {
				a.log.Warn("could not read the root DSE to detect the server flavor; assuming openldap defaults", "err", err)
			}
		}
		a.cfg.ApplyFlavor(flavor)
	}
	a.auth, err = auth.New(a.cfg, dir, a.store, auth.Options{Logger: a.log, Events: events.Build(a.cfg.Events)})
	if err != nil {
		return usage(err)
	}
	return nil
}
