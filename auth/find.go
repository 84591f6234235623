package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/membership"
)

// foundUser is the directory entry of the user logging in.
type foundUser struct {
	Entry *ldapbridge.Entry
	// Stored is the account of the typed name read earlier in this login,
	// if any; save reuses it when its stable id matches.
	Stored *ldapbridge.User
	// groups, when not nil, is the group read already started.
	groups *pendingGroups
	// account, when not nil, is save's account lookup already made.
	account *accountLookup
}

// lookup finds the entry of dirName with users.dn_template (a base read) or
// every users.search (a union merged by DN). A miss or an ambiguous name is
// a user_not_found Result, a directory failure an ldap_error Result. When
// rec is non-nil the searches are appended to it and the cache is bypassed.
func (a *Authenticator) lookup(ctx context.Context, s ldapbridge.Searcher, dirName string, rec *[]membership.Query) (*foundUser, *Result, error) {
	if rec == nil && a.cache != nil {
		if e, ok := a.cache.user(dirName); ok {
			return &foundUser{Entry: e}, nil, nil
		}
	}
	var entries []*ldapbridge.Entry
	var res *Result
	var err error
	if a.cfg.Users.DNTemplate != "" {
		entries, res, err = a.readByTemplate(ctx, s, dirName, rec)
	} else {
		entries, res, err = a.searchUnion(ctx, s, dirName, rec)
	}
	if res != nil || err != nil {
		return nil, res, err
	}
	switch len(entries) {
	case 0:
		return nil, newResult(UserNotFound, "no directory entry matches "+quote(dirName)), nil
	case 1:
	default:
		dns := make([]string, len(entries))
		for i, e := range entries {
			dns[i] = e.DN
		}
		reason := fmt.Sprintf("username %s matches %d entries; refusing an ambiguous login (make users.search match one entry per name)", quote(dirName), len(entries))
		a.log.Error("ambiguous username: login refused", "username", dirName, "entries", len(entries), "dns", dns)
		return nil, newResult(UserNotFound, reason), nil
	}
	if rec == nil && a.cache != nil {
		a.cache.putUser(dirName, entries[0])
	}
	return &foundUser{Entry: entries[0]}, nil, nil
}

// readByTemplate reads the entry whose DN is users.dn_template filled with
// the escaped name.
func (a *Authenticator) readByTemplate(ctx context.Context, s ldapbridge.Searcher, dirName string, rec *[]membership.Query) ([]*ldapbridge.Entry, *Result, error) {
	dn, err := ldaptext.DN(a.cfg.Users.DNTemplate, map[string]string{"username": dirName})
	if err != nil {
		return nil, nil, fmt.Errorf("users.dn_template: %w; use {username}", err)
	}
	req := &ldapbridge.SearchRequest{BaseDN: dn, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: a.mapper.Attributes()}
	entries, err := s.Search(ctx, req)
	record(rec, req, len(entries))
	if err != nil {
		if isNoSuchObject(err) {
			return nil, nil, nil
		}
		return nil, searchFailure(req, err), nil
	}
	return entries, nil, nil
}

// searchUnion runs every users.search with the escaped name and merges the
// entries by normalised DN.
func (a *Authenticator) searchUnion(ctx context.Context, s ldapbridge.Searcher, dirName string, rec *[]membership.Query) ([]*ldapbridge.Entry, *Result, error) {
	var out []*ldapbridge.Entry
	seen := map[string]bool{}
	for i, srch := range a.cfg.Users.Search {
		filter, err := ldaptext.Filter(a.loginFilter(srch.Filter, dirName), map[string]string{"username": dirName})
		if err != nil {
			return nil, nil, fmt.Errorf("users.search[%d].filter: %w; use {username}", i, err)
		}
		req := &ldapbridge.SearchRequest{BaseDN: srch.BaseDN, Scope: srch.LDAPScope(), Filter: filter, Attributes: a.mapper.Attributes(), Few: true}
		entries, err := s.Search(ctx, req)
		record(rec, req, len(entries))
		if err != nil {
			if isNoSuchObject(err) {
				continue // a base that does not exist holds nobody
			}
			return nil, searchFailure(req, err), nil
		}
		for _, e := range entries {
			if k := normDN(e.DN); !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	return out, nil, nil
}

// samTerm is the sAMAccountName={username} term of an AD users filter.
var samTerm = regexp.MustCompile(`(?i)\(\s*samaccountname\s*=\s*\{username\}\s*\)`)

// loginFilter adapts a users.search filter to the typed name: on Active
// Directory a name with "@" is a userPrincipalName, so the filter's
// (sAMAccountName={username}) term becomes (userPrincipalName={username});
// every other term of the filter stays. A filter without that term is used
// as written.
func (a *Authenticator) loginFilter(filter, dirName string) string {
	if a.cfg.Directory.Flavor != ldapbridge.FlavorActiveDirectory || !strings.Contains(dirName, "@") {
		return filter
	}
	return samTerm.ReplaceAllLiteralString(filter, "(userPrincipalName={username})")
}

func record(rec *[]membership.Query, req *ldapbridge.SearchRequest, n int) {
	if rec != nil {
		*rec = append(*rec, membership.Query{BaseDN: req.BaseDN, Scope: req.Scope.String(), Filter: req.Filter, Entries: n})
	}
}

func searchFailure(req *ldapbridge.SearchRequest, err error) *Result {
	res := newResult(LDAPError, fmt.Sprintf("user search (base %q, filter %s) failed: %v", req.BaseDN, clip(req.Filter, 512), err))
	res.Err = err
	return res
}

// isNoSuchObject reports LDAP 32 or a driver's ErrNotFound.
func isNoSuchObject(err error) bool {
	return errors.Is(err, ldapbridge.ErrNotFound) || ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject)
}

// userBindName is the name to bind as with directory.bind_as_user:
// users.dn_template, else directory.bind_dn with {username} (a DN template,
// or a UPN/down-level form such as {username}@corp.example.com).
func (a *Authenticator) userBindName(dirName string) (string, error) {
	vars := map[string]string{"username": dirName}
	if t := a.cfg.Users.DNTemplate; t != "" {
		dn, err := ldaptext.DN(t, vars)
		if err != nil {
			return "", fmt.Errorf("users.dn_template: %w", err)
		}
		return dn, nil
	}
	t := a.cfg.Directory.BindDN
	if !strings.Contains(t, "{username}") {
		return "", errors.New("directory.bind_as_user is set but neither users.dn_template nor directory.bind_dn contains {username}; set one, e.g. bind_dn: \"{username}@corp.example.com\"")
	}
	if _, err := ldaptext.ParseDN(strings.ReplaceAll(t, "{username}", "x")); err == nil && strings.Contains(t, "=") {
		dn, err := ldaptext.DN(t, vars)
		if err != nil {
			return "", fmt.Errorf("directory.bind_dn: %w", err)
		}
		return dn, nil
	}
	return strings.ReplaceAll(t, "{username}", dirName), nil
}

// userGroups resolves the user's groups, from the cache when warm.
func (a *Authenticator) userGroups(ctx context.Context, s ldapbridge.Searcher, e *ldapbridge.Entry, fresh bool) ([]membership.Group, error) {
	key := normDN(e.DN)
	if a.cache != nil && !fresh {
		if g, ok := a.cache.groups(key); ok {
			return g, nil
		}
	}
	r, err := a.groups.UserGroups(ctx, s, e)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		a.cache.putGroups(key, r.Groups)
	}
	return r.Groups, nil
}

func normDN(dn string) string { return ldaptext.MustNormalizeDN(dn) }

// quote quotes a username for a reason, cut as in the logs.
func quote(s string) string { return fmt.Sprintf("%q", LogName(s)) }

// cache keeps user entries (by directory name) and group lists (by
// normalised DN) for access.cache_ttl.
type cache struct {
	ttl    time.Duration
	now    func() time.Time
	mu     sync.Mutex
	puts   int
	users  map[string]cached[*ldapbridge.Entry]
	groupm map[string]cached[[]membership.Group]
}

type cached[T any] struct {
	v       T
	expires time.Time
}

func newCache(ttl time.Duration, now func() time.Time) *cache {
	return &cache{ttl: ttl, now: now, users: map[string]cached[*ldapbridge.Entry]{}, groupm: map[string]cached[[]membership.Group]{}}
}

func cacheGet[T any](c *cache, m map[string]cached[T], k string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := m[k]
	if !ok || !c.now().Before(v.expires) {
		delete(m, k)
		var zero T
		return zero, false
	}
	return v.v, true
}

func cachePut[T any](c *cache, m map[string]cached[T], k string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.puts++
	if c.puts%1024 == 0 { // now and then, drop expired entries so the maps stay small
		for key, old := range m {
			if !now.Before(old.expires) {
				delete(m, key)
			}
		}
	}
	m[k] = cached[T]{v: v, expires: now.Add(c.ttl)}
}

func (c *cache) user(name string) (*ldapbridge.Entry, bool)  { return cacheGet(c, c.users, name) }
func (c *cache) putUser(name string, e *ldapbridge.Entry)    { cachePut(c, c.users, name, e) }
func (c *cache) groups(dn string) ([]membership.Group, bool) { return cacheGet(c, c.groupm, dn) }
func (c *cache) putGroups(dn string, g []membership.Group)   { cachePut(c, c.groupm, dn, g) }
