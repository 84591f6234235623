package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/ldaptext"
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
	Store    storeReport         `json:"store"`
	// Skipped says why the searches were not run; "" when they were.
	Skipped string `json:"skipped,omitempty"`
	// Problems are one line each, one per root cause, each naming the fix.
	Problems []string `json:"problems"`
}

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config, dial every server, bind, run the configured searches and open the store",
		Long: "Validates the configuration, dials each directory URL, binds as the service\n" +
			"account, runs the user and group searches, samples usernames for ambiguous\n" +
			"matches, reads every group DN named in access, opens the store and reads its\n" +
			"schema version, and says what is wrong and how to fix it, one line per\n" +
			"problem. Exit 0 when all is well, 1 when the directory or the store disagrees\n" +
			"with the config, 2 when the config is invalid.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// check reports the config's warnings and the directory's
			// failures itself, once: they are not also printed on
			// standard error or logged as warnings.
			cfg, err := g.loadConfigQuiet()
			if err != nil {
				return err
			}
			var rep checkJSON
			samples := map[string][]string{} // stored username -> directories holding it
			for i, dc := range cfg.Directories() {
				a := &app{cfg: dc, log: g.logger()}
				dir, err := ldapdir.Open(ctx, dc.Directory, ldapdir.Options{Logger: g.checkDirLogger()})
				if err != nil {
					if len(cfg.Directories()) > 1 {
						err = fmt.Errorf("directory %s: %w", dc.Name(), err)
					}
					return usage(err)
				}
				defer dir.Close()
				r := runCheck(ctx, a, dir)
				if len(cfg.Directories()) == 1 {
					rep = r
					break
				}
				mergeCheck(&rep, r, dc.Name(), i == 0)
				for _, name := range sampleUsernames(ctx, dc, dir) {
					samples[name] = append(samples[name], dc.Name())
				}
			}
			rep.Warnings = append(rep.Warnings, usernameConflicts(samples)...)
			rep.Config = g.configPath
			if g.json {
				if err := printJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printCheck(g, rep)
			}
			if !rep.OK {
				return failed(fmt.Errorf("check found %d problem(s), listed above", len(rep.Problems)))
			}
			return nil
		},
	}
}

// sampleUsernames returns the stored usernames (users.username_case and
// users.username_suffix applied) of up to sampleEntries users of the
// directory cfg, read with users.sync_filter under each users.search base.
func sampleUsernames(ctx context.Context, cfg *config.Config, dir *ldapdir.Dir) []string {
	attr := cfg.Users.UsernameAttribute
	if attr == "" || len(cfg.Users.Search) == 0 {
		return nil
	}
	filter := cfg.Users.SyncFilter
	if filter == "" {
		filter = "(objectClass=*)"
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range cfg.Users.Search {
		err := dir.SearchPages(ctx, &ldapbridge.SearchRequest{BaseDN: s.BaseDN, Scope: s.LDAPScope(), Filter: filter, Attributes: []string{attr}},
			func(page []*ldapbridge.Entry) error {
				for _, e := range page {
					v := e.First(attr)
					if v == "" {
						continue
					}
					if cfg.Users.UsernameCase != "preserve" {
						v = strings.ToLower(v)
					}
					v += cfg.Users.UsernameSuffix
					if !seen[v] {
						seen[v] = true
						out = append(out, v)
					}
					if len(seen) >= sampleEntries {
						return errEnough
					}
				}
				return nil
			})
		if err != nil || len(seen) >= sampleEntries {
			break // a failing search is reported by the directory's own check
		}
	}
	return out
}

// usernameConflicts are the warnings for the sampled usernames that more
// than one directory holds, sorted.
func usernameConflicts(samples map[string][]string) []string {
	var out []string
	for name, dirs := range samples {
		if len(dirs) > 1 {
			out = append(out, fmt.Sprintf("username %s is in the directories %s (from a sample of each): its account stays with the directory that creates it first, and the others' %s is refused as user_not_found — set users.username_suffix on all but one of them",
				name, strings.Join(dirs, ", "), name))
		}
	}
	return sorted(out)
}

// mergeCheck adds the check of the directory called name to rep (with
// several directories): every problem, warning, server and search is
// labelled with the directory's name; a line the directories share (the
// store's) is kept once.
func mergeCheck(rep *checkJSON, r checkJSON, name string, first bool) {
	if first {
		*rep = checkJSON{OK: true, Warnings: []string{}, Searches: []searchReport{}, Problems: []string{}, Store: r.Store}
	}
	label := func(dst []string, lines []string) []string {
		for _, l := range lines {
			dup := false
			for _, have := range dst {
				if strings.HasSuffix(have, ": "+l) {
					dup = true
					break
				}
			}
			if !dup {
				dst = append(dst, "directory "+name+": "+l)
			}
		}
		return dst
	}
	rep.OK = rep.OK && r.OK
	rep.Problems = label(rep.Problems, r.Problems)
	rep.Warnings = label(rep.Warnings, r.Warnings)
	rep.Servers = append(rep.Servers, r.Servers...)
	for _, s := range r.Searches {
		s.Key = name + ": " + s.Key
		rep.Searches = append(rep.Searches, s)
	}
	if rep.Flavor != "" {
		rep.Flavor += ", "
	}
	rep.Flavor += name + "=" + r.Flavor
	if r.Skipped != "" {
		if rep.Skipped != "" {
			rep.Skipped += "; "
		}
		rep.Skipped += "directory " + name + ": " + r.Skipped
	}
}

// checkDirLogger is the directory's logger during check: at the default
// level its warnings (a server marked down) repeat problems check
// reports, so only errors pass; --log-level info or debug shows them all.
func (g *globals) checkDirLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil || level == slog.LevelWarn {
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// checker gathers what runCheck finds, so that each root cause becomes
// one problem line.
type checker struct {
	ctx context.Context
	cfg *config.Config
	dir *ldapdir.Dir
	rep *checkJSON
	// exists caches DNs read with a base search.
	exists map[string]bool
	// notFound lists the DNs the searches and access rules named that the
	// directory does not have, with the key naming each.
	notFound []missingDN
	// namingContexts are the root DSE's.
	namingContexts []string
	placeholders   []*placeholderFinding
}

type missingDN struct {
	key, dn string
	group   bool // an access rule's group, not a search base
}

func runCheck(ctx context.Context, a *app, dir *ldapdir.Dir) checkJSON {
	cfg := a.cfg
	rep := checkJSON{Warnings: append([]string{}, cfg.Warnings()...), Searches: []searchReport{}, Problems: []string{}}
	limit, ok := openFileLimit()
	if w := maxConnectionsWarning(cfg.Web.MaxConnections, limit, ok); w != "" {
		rep.Warnings = append(rep.Warnings, w)
	}
	if w := offlineTLSWarning(cfg); w != "" {
		rep.Warnings = append(rep.Warnings, w)
	}
	c := &checker{ctx: ctx, cfg: cfg, dir: dir, rep: &rep, exists: map[string]bool{}, placeholders: findPlaceholders(cfg)}
	store, storeProblems, storeWarnings := checkStore(ctx, cfg.Store)
	rep.Store = store
	rep.Warnings = append(rep.Warnings, storeWarnings...)

	rep.Servers = dir.Check(ctx)
	usable := false
	for _, s := range rep.Servers {
		usable = usable || s.Reachable && s.ServiceBind
	}
	var dirProblems []string
	if usable {
		dirProblems = c.directory()
	} else {
		rep.Skipped = "no directory server could be reached and bound, so the searches were not run"
	}
	// Placeholders are decided once the naming contexts are known; a
	// server failure one of them explains is not a line of its own.
	rep.Problems = append(rep.Problems, c.placeholderProblems()...)
	for _, s := range rep.Servers {
		if s.Error != "" && !c.explainedByPlaceholder(s) {
			rep.Problems = append(rep.Problems, s.Error)
		}
	}
	rep.Problems = append(rep.Problems, dirProblems...)
	if !c.placeholderIn("store.dsn") {
		rep.Problems = append(rep.Problems, storeProblems...)
	}
	rep.OK = len(rep.Problems) == 0
	return rep
}

// reported reports whether a placeholder finding is a problem: a template
// marker always is; an RFC 2606 example name is not when the directory
// turned out to serve it (a lab directory) or the server named by it
// answered.
func (c *checker) reported(f *placeholderFinding) bool {
	if !f.exampleDomain {
		return true
	}
	if servedByDirectory(f.text, c.namingContexts) {
		return false
	}
	for _, s := range c.rep.Servers {
		if s.Reachable && strings.Contains(urlHost(s.URL), f.text) {
			return false
		}
	}
	// Only the DN-shaped and host-shaped keys are left: a DN that the
	// directory was shown not to serve, or a host that did not answer.
	return len(c.namingContexts) > 0 || !c.anyReachable() || f.inHostKey()
}

func (c *checker) anyReachable() bool {
	for _, s := range c.rep.Servers {
		if s.Reachable {
			return true
		}
	}
	return false
}

// inHostKey reports whether the finding is in a URL or server name.
func (f *placeholderFinding) inHostKey() bool {
	for _, k := range f.keys {
		if strings.HasPrefix(k, "directory.urls") || k == "directory.tls.server_name" || k == "store.dsn" {
			return true
		}
	}
	return false
}

func (c *checker) placeholderProblems() []string {
	var out []string
	for _, f := range c.placeholders {
		if c.reported(f) {
			out = append(out, f.message())
		}
	}
	return out
}

// placeholderIn reports whether check reports a placeholder in key.
func (c *checker) placeholderIn(key string) bool {
	for _, f := range c.placeholders {
		if c.reported(f) && f.in(key) {
			return true
		}
	}
	return false
}

// explainedByPlaceholder reports whether a server's failure follows from
// a placeholder check reports anyway: a host left from the example that
// does not answer, or a bind DN or password left from it.
func (c *checker) explainedByPlaceholder(s ldapdir.URLReport) bool {
	for _, f := range c.placeholders {
		if !c.reported(f) {
			continue
		}
		if !s.Reachable && f.in(fmt.Sprintf("directory.urls[%d]", s.Index)) {
			return true
		}
		if errors.Is(s.Err, ldapdir.ErrServiceBind) && (f.in("directory.bind_dn") || f.in("directory.bind_password")) {
			return true
		}
	}
	return false
}

// directory runs the checks that need a bound server and returns their
// problems.
func (c *checker) directory() []string {
	cfg, rep := c.cfg, c.rep
	var problems []string
	flavor := cfg.Directory.Flavor
	if info, err := c.dir.Info(c.ctx); err == nil {
		c.namingContexts = info.NamingContexts
		if flavor == ldapbridge.FlavorAuto || flavor == "" {
			flavor = info.Flavor
			cfg.ApplyFlavor(flavor)
		}
	} else {
		problems = append(problems, "root DSE: "+err.Error())
	}
	rep.Flavor = string(flavor)

	for i, s := range cfg.Users.Search {
		key := searchKey("users.search", i, len(cfg.Users.Search))
		// Every user a login could find: the filter with {username} as a wildcard.
		login := strings.ReplaceAll(s.Filter, "{username}", "*")
		if p := c.count(key, "", s, login, true, "check "+key+".base_dn and "+key+".filter"); p != "" {
			problems = append(problems, p)
		}
		if p := c.count(key, " (sync_filter)", s, cfg.Users.SyncFilter, true, "check users.sync_filter"); p != "" {
			problems = append(problems, p)
		}
	}
	usesGroups := !cfg.Access.Require.IsZero() || !cfg.Access.Deny.IsZero() || len(cfg.Access.Flags) > 0
	for i, s := range cfg.Groups.Search {
		key := searchKey("groups.search", i, len(cfg.Groups.Search))
		if p := c.count(key, "", s, s.Filter, usesGroups, "check "+key+".base_dn and "+key+".filter"); p != "" {
			problems = append(problems, p)
		}
	}
	problems = append(problems, c.ambiguousUsernames()...)
	problems = append(problems, c.groupDNs(cfg.Access.Require, "access.require")...)
	problems = append(problems, c.groupDNs(cfg.Access.Deny, "access.deny")...)
	for _, name := range sortedKeys(cfg.Access.Flags) {
		problems = append(problems, c.groupDNs(cfg.Access.Flags[name], "access.flags."+name)...)
	}
	return append(problems, c.missingDNProblems()...)
}

// count runs one configured search and returns its problem, or "". A base
// DN that does not exist is kept for missingDNProblems.
func (c *checker) count(key, label string, s config.Search, filter string, mustMatch bool, fix string) string {
	r := searchReport{Key: key + label, BaseDN: s.BaseDN, Scope: s.LDAPScope().String(), Filter: filter}
	defer func() { c.rep.Searches = append(c.rep.Searches, r) }()
	err := c.dir.SearchPages(c.ctx, &ldapbridge.SearchRequest{BaseDN: s.BaseDN, Scope: s.LDAPScope(), Filter: filter, Attributes: []string{"1.1"}},
		func(page []*ldapbridge.Entry) error { r.Entries += len(page); return nil })
	switch {
	case err != nil && errors.Is(err, ldapbridge.ErrNotFound):
		r.Error = err.Error()
		c.exists[strings.ToLower(s.BaseDN)] = false
		c.addMissing(missingDN{key: key + ".base_dn", dn: s.BaseDN})
	case err != nil:
		r.Error = err.Error()
		return fmt.Sprintf("%s: %v", r.Key, err)
	case r.Entries == 0 && mustMatch:
		return fmt.Sprintf("%s: filter %s matches nobody under %q — %s", r.Key, filter, s.BaseDN, fix)
	}
	return ""
}

func (c *checker) addMissing(m missingDN) {
	for _, x := range c.notFound {
		if x.key == m.key && strings.EqualFold(x.dn, m.dn) {
			return
		}
	}
	c.notFound = append(c.notFound, m)
}

// groupDNs reads every group DN a rule names, so a typo is caught before
// it silently refuses everyone. A DN that does not exist is kept for
// missingDNProblems; a failed read is returned as a problem.
func (c *checker) groupDNs(q ldapbridge.GroupQuery, key string) []string {
	var problems []string
	for _, dn := range q.DNs() {
		ok, err := c.dnExists(dn)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: read %q: %v", key, dn, err))
		case !ok:
			c.addMissing(missingDN{key: key, dn: dn, group: true})
		}
	}
	return problems
}

// dnExists reads dn with a base search.
func (c *checker) dnExists(dn string) (bool, error) {
	if ok, known := c.exists[strings.ToLower(dn)]; known {
		return ok, nil
	}
	_, err := c.dir.Search(c.ctx, &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: []string{"1.1"}})
	if errors.Is(err, ldapbridge.ErrNotFound) {
		c.exists[strings.ToLower(dn)] = false
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.exists[strings.ToLower(dn)] = true
	return true, nil
}

// missingRoot returns the highest ancestor of dn (dn itself included) that
// does not exist, below one that does; top is true when no ancestor exists.
func (c *checker) missingRoot(dn string) (root string, top bool) {
	root = dn
	for {
		parent := parentDN(root)
		if parent == "" {
			return root, true
		}
		ok, err := c.dnExists(parent)
		if err != nil || ok {
			return root, false
		}
		root = parent
	}
}

// parentDN is dn without its first RDN; "" for a one-RDN DN or one that
// does not parse.
func parentDN(dn string) string {
	d, err := ldaptext.ParseDN(dn)
	if err != nil || len(d.RDNs) < 2 {
		return ""
	}
	d.RDNs = d.RDNs[1:]
	return d.String()
}

// missingDNProblems turns the DNs that do not exist into one line per root
// cause: the highest missing ancestor they share, with the candidates for
// a base (the naming contexts and the bind DN's suffix). A group DN whose
// parent exists is its own line.
func (c *checker) missingDNProblems() []string {
	type cause struct {
		root string
		top  bool
		dns  []missingDN
	}
	var causes []*cause
	byRoot := map[string]*cause{}
	for _, m := range c.notFound {
		root, top := c.missingRoot(m.dn)
		id := strings.ToLower(root)
		if m.group && strings.EqualFold(root, m.dn) {
			id = "group:" + m.key + ":" + id
		}
		cs := byRoot[id]
		if cs == nil {
			cs = &cause{root: root, top: top}
			byRoot[id] = cs
			causes = append(causes, cs)
		}
		cs.dns = append(cs.dns, m)
	}
	var out []string
	for _, cs := range causes {
		if c.holdsPlaceholder(cs.dns) {
			continue // the placeholder line names it
		}
		first := cs.dns[0]
		if first.group && len(cs.dns) == 1 && strings.EqualFold(cs.root, first.dn) {
			out = append(out, fmt.Sprintf("%s: group %q does not exist in the directory — correct the DN", first.key, first.dn))
			continue
		}
		msg := fmt.Sprintf("%s: %q does not exist", first.key, first.dn)
		nc := c.namingContextOf(first.dn)
		switch {
		case cs.top && nc == "":
			msg += ": it is under none of the server's naming contexts"
		case cs.top:
			msg += fmt.Sprintf(": the directory has no entry for its naming context %q", nc)
		case !strings.EqualFold(cs.root, first.dn):
			msg += fmt.Sprintf(": the directory has no %q", cs.root)
		}
		var also []string
		for _, m := range cs.dns[1:] {
			if !slicesContainsFold(also, m.key) && m.key != first.key {
				also = append(also, m.key)
			}
		}
		if len(also) > 0 {
			msg += fmt.Sprintf(" (also under it: %s)", keyList(also))
		}
		out = append(out, msg+" — "+c.baseCandidates())
	}
	return out
}

// holdsPlaceholder reports whether one of the missing DNs holds a
// placeholder that check reports on its own line.
func (c *checker) holdsPlaceholder(dns []missingDN) bool {
	for _, m := range dns {
		dn := strings.ToLower(strings.ReplaceAll(m.dn, " ", ""))
		for _, f := range c.placeholders {
			if c.reported(f) && strings.Contains(dn, strings.ToLower(strings.ReplaceAll(f.text, " ", ""))) {
				return true
			}
		}
	}
	return false
}

// namingContextOf returns the server's naming context dn is in, or "".
func (c *checker) namingContextOf(dn string) string {
	dn = strings.ToLower(strings.ReplaceAll(dn, " ", ""))
	for _, nc := range c.namingContexts {
		n := strings.ToLower(strings.ReplaceAll(nc, " ", ""))
		if n != "" && (dn == n || strings.HasSuffix(dn, ","+n)) {
			return nc
		}
	}
	return ""
}

// baseCandidates names the DNs a base could be under: the server's naming
// contexts and the bind DN's suffix.
func (c *checker) baseCandidates() string {
	ncs := sortedUnique(c.namingContexts)
	suffix := parentDN(c.cfg.Directory.BindDN)
	var parts []string
	if len(ncs) > 0 {
		parts = append(parts, "the server's naming contexts ("+strings.Join(ncs, "; ")+")")
	}
	if suffix != "" && !slicesContainsFold(ncs, suffix) {
		parts = append(parts, "the bind DN's suffix ("+suffix+")")
	}
	if len(parts) == 0 {
		return "correct the DN"
	}
	return "correct the DN; candidates are " + strings.Join(parts, " and ")
}

func slicesContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Sampling of usernames: how many entries are read for their usernames,
// and how many of those names are looked up as a login would.
const (
	sampleEntries = 2000
	sampleLogins  = 25
	maxAmbiguous  = 3
)

var errEnough = errors.New("enough entries sampled")

// ambiguousUsernames samples the usernames users.search finds and runs the
// login search for each of them (every name seen twice, and the first
// sampleLogins others): a name that matches two entries makes that login
// fail as ambiguous.
func (c *checker) ambiguousUsernames() []string {
	cfg := c.cfg
	attr := cfg.Users.UsernameAttribute
	if attr == "" || cfg.Users.DNTemplate != "" || len(cfg.Users.Search) == 0 {
		return nil
	}
	seen := map[string]int{}
	var order []string
	dns := map[string]bool{}
	read := 0
	for _, s := range cfg.Users.Search {
		login := strings.ReplaceAll(s.Filter, "{username}", "*")
		err := c.dir.SearchPages(c.ctx, &ldapbridge.SearchRequest{BaseDN: s.BaseDN, Scope: s.LDAPScope(), Filter: login, Attributes: []string{attr}},
			func(page []*ldapbridge.Entry) error {
				for _, e := range page {
					if dns[strings.ToLower(e.DN)] {
						continue
					}
					dns[strings.ToLower(e.DN)] = true
					for _, v := range e.Values(attr) {
						k := strings.ToLower(v)
						if seen[k] == 0 {
							order = append(order, v)
						}
						seen[k]++
					}
					if read++; read >= sampleEntries {
						return errEnough
					}
				}
				return nil
			})
		if err != nil && !errors.Is(err, errEnough) {
			return nil // the search's own problem is reported by count
		}
		if read >= sampleEntries {
			break
		}
	}
	var names []string
	for _, v := range order {
		if seen[strings.ToLower(v)] > 1 {
			names = append(names, v)
		}
	}
	for _, v := range order {
		if len(names) >= sampleLogins+maxAmbiguous {
			break
		}
		if seen[strings.ToLower(v)] == 1 {
			names = append(names, v)
		}
	}
	var found []string
	nAmbiguous := 0
	for _, name := range names {
		entries := c.loginEntries(name)
		if len(entries) < 2 {
			continue
		}
		nAmbiguous++
		if len(found) < maxAmbiguous {
			sort.Strings(entries)
			found = append(found, fmt.Sprintf("%q matches %s", name, strings.Join(entries, " and ")))
		}
	}
	if nAmbiguous == 0 {
		return nil
	}
	key := searchKey("users.search", 0, len(cfg.Users.Search))
	if len(cfg.Users.Search) > 1 {
		key = "users.search"
	}
	more := ""
	if nAmbiguous > len(found) {
		more = fmt.Sprintf(" and %d more", nAmbiguous-len(found))
	}
	return []string{fmt.Sprintf("%s: %d of %d sampled usernames match more than one entry, so their logins fail as ambiguous: %s%s — make each username match one entry (narrow %s.filter or base_dn, or pick a unique users.username_attribute)",
		key, nAmbiguous, len(names), strings.Join(found, "; "), more, key)}
}

// loginEntries returns the DNs a login as name would find: the union of
// every users.search with the name in its filter.
func (c *checker) loginEntries(name string) []string {
	dns := map[string]string{}
	for _, s := range c.cfg.Users.Search {
		filter, err := ldaptext.Filter(s.Filter, map[string]string{"username": name})
		if err != nil {
			return nil
		}
		entries, err := c.dir.Search(c.ctx, &ldapbridge.SearchRequest{BaseDN: s.BaseDN, Scope: s.LDAPScope(), Filter: filter, Attributes: []string{"1.1"}})
		if err != nil {
			return nil
		}
		for _, e := range entries {
			dns[strings.ToLower(e.DN)] = e.DN
		}
	}
	out := make([]string, 0, len(dns))
	for _, dn := range dns {
		out = append(out, dn)
	}
	return out
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

func printCheck(g *globals, rep checkJSON) {
	w := g.stdout
	fmt.Fprintf(w, "config %s: valid\n", rep.Config)
	for _, wa := range rep.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", wa)
	}
	for _, s := range rep.Servers {
		fmt.Fprintf(w, "directory.urls[%d] %s:\n", s.Index, s.URL)
		fmt.Fprintf(w, "  reachable: %s\n", yesNo(s.Reachable))
		switch {
		case s.TLS != "":
			fmt.Fprintf(w, "  tls: %s; certificate %s, issued by %s, expires %s\n", s.TLS, s.PeerSubject, s.PeerIssuer, s.PeerNotAfter.Format("2006-01-02"))
		case s.PeerSubject != "":
			fmt.Fprintf(w, "  tls: failed; the server presented %s, issued by %s, SANs %s, expires %s\n", s.PeerSubject, s.PeerIssuer, strings.Join(s.PeerSANs, ", "), s.PeerNotAfter.Format("2006-01-02"))
		}
		if s.ServiceBind || errors.Is(s.Err, ldapdir.ErrServiceBind) {
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
	if rep.Skipped != "" {
		fmt.Fprintf(w, "searches: not run: %s\n", rep.Skipped)
	}
	for _, s := range rep.Searches {
		status := fmt.Sprintf("%d entries", s.Entries)
		if s.Error != "" {
			status = "failed"
		}
		fmt.Fprintf(w, "%s: %s (base %q, scope %s, filter %s)\n", s.Key, status, s.BaseDN, s.Scope, s.Filter)
	}
	st := rep.Store
	switch {
	case st.Missing:
		fmt.Fprintf(w, "store: %s, not created yet (schema version %d will be applied)\n", st.Driver, st.Latest)
	case st.Opened:
		fmt.Fprintf(w, "store: %s, schema version %d of %d\n", st.Driver, st.Version, st.Latest)
	default:
		fmt.Fprintf(w, "store: %s, not usable\n", st.Driver)
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
