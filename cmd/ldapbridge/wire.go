package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/events"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// app is the object graph most commands need. With several directories
// (config directories:) dir and auth are the first directory's, dirs holds
// every directory in login order and login tries them in that order.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store ldapbridge.Store
	dir   *ldapdir.Dir
	auth  *auth.Authenticator
	dirs  []*dirApp
	login *auth.Directories
	// instance names this process in the sync history.
	instance string
}

// dirApp is one directory's configuration, pool and authenticator.
type dirApp struct {
	cfg  *config.Config
	dir  *ldapdir.Dir
	auth *auth.Authenticator
}

// name is the directory's name (config.Config.Name).
func (d *dirApp) name() string { return d.cfg.Name() }

// closeDirs closes every directory pool.
func (a *app) closeDirs() {
	for _, d := range a.dirs {
		d.dir.Close()
	}
	if len(a.dirs) == 0 && a.dir != nil {
		a.dir.Close()
	}
}

// directory returns the directory called name, or a usage error listing
// the configured ones.
func (a *app) directory(name string) (*dirApp, error) {
	var names []string
	for _, d := range a.dirs {
		if d.name() == name {
			return d, nil
		}
		names = append(names, d.name())
	}
	return nil, usage(fmt.Errorf("--directory %q: no such directory — use one of %s", name, strings.Join(names, ", ")))
}

func (a *app) Close() {
	a.closeDirs()
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
	var list []*auth.Authenticator
	for _, dc := range a.cfg.Directories() {
		d, err := a.openOne(ctx, dc, detect, obs)
		if d != nil {
			a.dirs = append(a.dirs, d)
		}
		if err != nil {
			if len(a.cfg.Directories()) > 1 {
				err = fmt.Errorf("directory %s: %w", dc.Name(), err)
			}
			return usage(err)
		}
		list = append(list, d.auth)
	}
	a.dir, a.auth = a.dirs[0].dir, a.dirs[0].auth
	var err error
	a.login, err = auth.NewDirectories(list, nil)
	return err
}

// openOne opens one directory's pool, settles its flavor and builds its
// authenticator; the dirApp is returned (to be closed) once the pool is open.
func (a *app) openOne(ctx context.Context, cfg *config.Config, detect bool, obs ldapdir.Observer) (*dirApp, error) {
	log := a.log
	if len(cfg.Directories()) > 1 {
		log = log.With("directory", cfg.Name())
	}
	// With metrics, the directory's LDAP operations count under its name
	// (the directory label); logins are counted by the web server.
	if m, ok := obs.(*metrics.Metrics); ok && m != nil {
		obs = m.ForDirectory(cfg.Name())
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{Logger: log, Observer: obs})
	if err != nil {
		return nil, err
	}
	d := &dirApp{cfg: cfg, dir: dir}
	if cfg.Directory.Flavor == ldapbridge.FlavorAuto || cfg.Directory.Flavor == "" {
		flavor := ldapbridge.FlavorOpenLDAP
		if detect {
			if info, err := dir.Info(ctx); err == nil {
				flavor = info.Flavor
			} else {
				a.log.Warn("could not read the root DSE to detect the server flavor; assuming openldap defaults", "err", err)
			}
		}
		cfg.ApplyFlavor(flavor)
	}
	d.auth, err = auth.New(cfg, dir, a.store, auth.Options{Logger: log, Events: events.Build(cfg.Events)})
	return d, err
}
