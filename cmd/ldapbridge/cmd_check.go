package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// searchReport is one configured search run by `check`.
type searchReport struct {
	Key     string `json:"key"`
	BaseDN  string `json:"base"`
	Scope   string `json:"scope"`
	Filter  string `json:"filter"`
	Entries int    `json:"entries"`
	Error   string `json:"error,omitempty"`
}

// checkJSON is the `check --json` object.
type checkJSON struct {
	Config   string              `json:"config"`
	OK       bool                `json:"ok"`
	Warnings []string            `json:"warnings"`
	Servers  []ldapdir.URLReport `json:"servers"`
	Flavor   string              `json:"flavor"`
	Searches []searchReport      `json:"searches"`
	Problems []string            `json:"problems"`
}

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config, dial every server, bind, and run the configured searches",
		Long: "Validates the configuration, dials each directory URL, binds as the service\n" +
			"account, runs the user and group searches and reads every group DN named in\n" +
			"access, and says what is wrong and how to fix it. Exit 0 when all is well,\n" +
			"1 when the directory disagrees with the config, 2 when the config is invalid.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			a := &app{cfg: cfg, log: g.logger()}
			dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{Logger: a.log})
			if err != nil {
				return usage(err)
			}
			defer dir.Close()
			rep := runCheck(ctx, a, dir)
			rep.Config = g.configPath
			if g.json {
				if err := printJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printCheck(g, rep)
			}
			if !rep.OK {
				return failed(fmt.Errorf("check found %d problem(s)", len(rep.Problems)))
			}
			return nil
		},
	}
}

func runCheck(ctx context.Context, a *app, dir *ldapdir.Dir) checkJSON {
	cfg := a.cfg
	rep := checkJSON{Warnings: cfg.Warnings(), Searches: []searchReport{}, Problems: []string{}}
	rep.Warnings = append(rep.Warnings, storeFileWarnings(cfg.Store)...)
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	rep.Servers = dir.Check(ctx)
	usable := false
	for _, s := range rep.Servers {
		if s.Error != "" {
			rep.Problems = append(rep.Problems, s.Error)
		}
		if s.Reachable && s.ServiceBind {
			usable = true
		}
	}
	if !usable {
		rep.Problems = append(rep.Problems, "no directory server could be reached and bound — fix the errors above, then run check again")
		return rep
	}
	flavor := cfg.Directory.Flavor
	if info, err := dir.Info(ctx); err == nil {
		if flavor == ldapbridge.FlavorAuto || flavor == "" {
			flavor = info.Flavor
			cfg.ApplyFlavor(flavor)
		}
	} else {
		rep.Problems = append(rep.Problems, "root DSE: "+err.Error())
	}
	rep.Flavor = string(flavor)

	count := func(key, base string, scope ldapbridge.Scope, filter string, mustMatch bool, fix string) {
		r := searchReport{Key: key, BaseDN: base, Scope: scope.String(), Filter: filter}
		err := dir.SearchPages(ctx, &ldapbridge.SearchRequest{BaseDN: base, Scope: scope, Filter: filter, Attributes: []string{"1.1"}},
			func(page []*ldapbridge.Entry) error { r.Entries += len(page); return nil })
		switch {
		case err != nil:
			r.Error = err.Error()
			if errors.Is(err, ldapbridge.ErrNotFound) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s.base_dn: %q does not exist — check the base DN", key, base))
			} else {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", key, err))
			}
		case r.Entries == 0 && mustMatch:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: filter %s matches nobody under %q — %s", key, filter, base, fix))
		}
		rep.Searches = append(rep.Searches, r)
	}
	for i, s := range cfg.Users.Search {
		key := fmt.Sprintf("users.search[%d]", i)
		if len(cfg.Users.Search) == 1 {
			key = "users.search"
		}
		// Every user a login could find: the filter with {username} as a wildcard.
		login := strings.ReplaceAll(s.Filter, "{username}", "*")
		count(key, s.BaseDN, s.LDAPScope(), login, true, "check "+key+".base_dn and "+key+".filter")
		count(key+" (sync_filter)", s.BaseDN, s.LDAPScope(), cfg.Users.SyncFilter, true, "check users.sync_filter")
	}
	usesGroups := !cfg.Access.Require.IsZero() || !cfg.Access.Deny.IsZero() || len(cfg.Access.Flags) > 0
	for i, s := range cfg.Groups.Search {
		key := fmt.Sprintf("groups.search[%d]", i)
		if len(cfg.Groups.Search) == 1 {
			key = "groups.search"
		}
		count(key, s.BaseDN, s.LDAPScope(), s.Filter, usesGroups, "check "+key+".base_dn and "+key+".filter")
	}
	checkGroupDNs(ctx, cfg.Access.Require, "access.require", dir, &rep)
	checkGroupDNs(ctx, cfg.Access.Deny, "access.deny", dir, &rep)
	for _, name := range sortedKeys(cfg.Access.Flags) {
		checkGroupDNs(ctx, cfg.Access.Flags[name], "access.flags."+name, dir, &rep)
	}
	rep.OK = len(rep.Problems) == 0
	return rep
}

// storeFileWarnings warns about each file of a SQLite store (the database
// and its -wal and -shm files) that group or others may read or write: it
// holds password hashes of local accounts and the directory's data.
func storeFileWarnings(cfg config.Store) []string {
	if cfg.Driver != "sqlite" && cfg.Driver != "" {
		return nil
	}
	loose, err := sqlite.LoosePermissions(cfg.DSN.Reveal())
	var out []string
	if err != nil {
		out = append(out, fmt.Sprintf("store.dsn: %v", err))
	}
	for _, f := range loose {
		open := "readable"
		if f.Mode&0o044 == 0 {
			open = "writable"
		}
		out = append(out, fmt.Sprintf("store.dsn: the database file %s is %s by group or others (mode %04o) — restrict it with: chmod 600 %s",
			f.Path, open, f.Mode, f.Path))
	}
	return out
}

// checkGroupDNs reads every group DN a rule names, so a typo is caught
// before it silently refuses everyone.
func checkGroupDNs(ctx context.Context, q ldapbridge.GroupQuery, key string, dir *ldapdir.Dir, rep *checkJSON) {
	for _, dn := range q.DNs() {
		_, err := dir.Search(ctx, &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: []string{"1.1"}})
		switch {
		case errors.Is(err, ldapbridge.ErrNotFound):
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: group %q does not exist in the directory — correct the DN", key, dn))
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: read %q: %v", key, dn, err))
		}
	}
}

func printCheck(g *globals, rep checkJSON) {
	w := g.stdout
	fmt.Fprintf(w, "config %s: valid\n", rep.Config)
	for _, wa := range rep.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", wa)
	}
	for _, s := range rep.Servers {
		fmt.Fprintf(w, "directory.urls[%d] %s:\n", s.Index, s.URL)
		fmt.Fprintf(w, "  reachable: %s\n", yesNo(s.Reachable))
		if s.TLS != "" {
			fmt.Fprintf(w, "  tls: %s; certificate %s, issued by %s, expires %s\n", s.TLS, s.PeerSubject, s.PeerIssuer, s.PeerNotAfter.Format("2006-01-02"))
		}
		if s.Reachable {
			fmt.Fprintf(w, "  service bind: %s\n", yesNo(s.ServiceBind))
		}
		if s.Flavor != "" {
			fmt.Fprintf(w, "  server: %s %s\n", s.Flavor, s.Vendor)
		}
		if s.Domain != "" || s.NetBIOSDomain != "" {
			fmt.Fprintf(w, "  domain: %s (NetBIOS %s); functional level: domain %s, forest %s\n", s.Domain, s.NetBIOSDomain, s.DomainFunctionality, s.ForestFunctionality)
		}
	}
	if rep.Flavor != "" {
		fmt.Fprintf(w, "flavor in use: %s\n", rep.Flavor)
	}
	for _, s := range rep.Searches {
		status := fmt.Sprintf("%d entries", s.Entries)
		if s.Error != "" {
			status = "error: " + s.Error
		}
		fmt.Fprintf(w, "%s: %s (base %q, scope %s, filter %s)\n", s.Key, status, s.BaseDN, s.Scope, s.Filter)
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "OK: no problems found")
		return
	}
	fmt.Fprintf(w, "%d problem(s):\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
