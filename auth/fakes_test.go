package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
	"github.com/ldapbridge/ldapbridge/membership"
	"golang.org/x/text/unicode/norm"
)

// fakeDir is an in-memory directory for unit tests. A search matches the
// (uid=VALUE) term of its filter against each entry's uid, case-insensitively;
// a base search matches the DN. Passwords are checked against passwords.
type fakeDir struct {
	mu        sync.Mutex
	entries   []*ldapbridge.Entry
	passwords map[string]string // normalised DN -> password
	bindErr   map[string]error  // normalised DN -> error returned by CheckPassword
	down      error             // when set, every call fails with it
	calls     []string
	searches  []*ldapbridge.SearchRequest
}

var uidTerm = regexp.MustCompile(`\(uid=((?:[^)\\]|\\[0-9a-fA-F]{2})*)\)`)

func unescapeFilter(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+2 < len(v) {
			if x, err := hex.DecodeString(v[i+1 : i+3]); err == nil {
				b.Write(x)
				i += 2
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func (d *fakeDir) record(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, op)
	return d.down
}

func (d *fakeDir) ncalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func (d *fakeDir) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	if err := d.record("search"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.searches = append(d.searches, req)
	d.mu.Unlock()
	var out []*ldapbridge.Entry
	for _, e := range d.entries {
		if req.Scope == ldapbridge.ScopeBase {
			if ldaptext.EqualDN(e.DN, req.BaseDN) {
				out = append(out, e)
			}
			continue
		}
		if !strings.HasSuffix(normDN(e.DN), normDN(req.BaseDN)) {
			continue
		}
		m := uidTerm.FindStringSubmatch(req.Filter)
		if m == nil {
			continue
		}
		want := norm.NFC.String(unescapeFilter(m[1]))
		if strings.EqualFold(norm.NFC.String(e.First("uid")), want) {
			out = append(out, e)
		}
	}
	if req.Scope == ldapbridge.ScopeBase && len(out) == 0 {
		return nil, ldapbridge.ErrNotFound
	}
	return out, nil
}

func (d *fakeDir) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	es, err := d.Search(ctx, req)
	if err != nil {
		return err
	}
	return fn(es)
}

func (d *fakeDir) CheckPassword(ctx context.Context, dn, password string) error {
	if password == "" {
		return ldapbridge.ErrEmptyPassword
	}
	if err := d.record("bind"); err != nil {
		return err
	}
	if err := d.bindErr[normDN(dn)]; err != nil {
		return err
	}
	if pw, ok := d.passwords[normDN(dn)]; ok && pw == password {
		return nil
	}
	return ldapbridge.ErrInvalidCredentials
}

func (d *fakeDir) BindAs(ctx context.Context, dn, password string) (ldapbridge.Session, error) {
	if err := d.CheckPassword(ctx, dn, password); err != nil {
		return nil, err
	}
	return fakeSession{d}, nil
}

type fakeSession struct{ *fakeDir }

func (fakeSession) Close() error { return nil }

func (d *fakeDir) Info(ctx context.Context) (*ldapbridge.ServerInfo, error) {
	return &ldapbridge.ServerInfo{}, d.record("info")
}
func (d *fakeDir) Close() error { return nil }

// fakeGroups resolves groups from a fixed map: normalised user DN -> groups.
type fakeGroups struct {
	byUser map[string][]membership.Group
	calls  int
}

func (g *fakeGroups) UserAttributes() []string { return []string{"memberOf"} }

func (g *fakeGroups) UserGroups(ctx context.Context, s ldapbridge.Searcher, e *ldapbridge.Entry) (*membership.Result, error) {
	g.calls++
	if _, err := s.Search(ctx, &ldapbridge.SearchRequest{BaseDN: "dc=example,dc=com", Scope: ldapbridge.ScopeSub, Filter: "(member=x)"}); err != nil {
		return &membership.Result{}, err
	}
	return &membership.Result{Groups: g.byUser[normDN(e.DN)], Queries: []membership.Query{{BaseDN: "dc=example,dc=com", Scope: "sub", Filter: "(member=x)", Entries: len(g.byUser[normDN(e.DN)])}}}, nil
}

func (g *fakeGroups) Contains(groups []membership.Group) func(string) bool {
	set := map[string]bool{}
	for _, x := range groups {
		set[normDN(x.DN)] = true
	}
	return func(dn string) bool { return set[normDN(dn)] }
}

// memStore is an in-memory Store: exactly the methods auth calls.
type memStore struct {
	users      map[int64]*ldapbridge.User
	groups     map[int64]*ldapbridge.Group
	userGroups map[int64][]int64
	parents    map[int64][]int64
	next       int64
	calls      int
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{users: map[int64]*ldapbridge.User{}, groups: map[int64]*ldapbridge.Group{},
		userGroups: map[int64][]int64{}, parents: map[int64][]int64{}}
}

func (s *memStore) touch() { s.calls++ }

func (s *memStore) InTx(ctx context.Context, fn func(ldapbridge.Store) error) error {
	s.touch()
	return fn(memTx{memStore: s})
}

// memTx is the memStore as the whole ldapbridge.Store that InTx's callback
// takes (the drivers' signature). auth sees the transaction as a Store only
// (Authenticator.inTx), so the methods left to the nil interface in
// notStore are out of its reach; memStore's own methods are shallower and win.
type memTx struct {
	*memStore
	notStore
}

type notStore struct{ ldapbridge.Store }

func (s *memStore) read(u *ldapbridge.User) *ldapbridge.User {
	c := *u
	c.Photo = nil
	c.DirectGroups, c.Groups = []string{}, []string{}
	seen := map[int64]bool{}
	var walk func(id int64)
	walk = func(id int64) {
		if seen[id] {
			return
		}
		seen[id] = true
		c.Groups = append(c.Groups, s.groups[id].Name)
		for _, p := range s.parents[id] {
			walk(p)
		}
	}
	for _, id := range s.userGroups[u.ID] {
		c.DirectGroups = append(c.DirectGroups, s.groups[id].Name)
		walk(id)
	}
	sort.Strings(c.DirectGroups)
	sort.Strings(c.Groups)
	return &c
}

func (s *memStore) find(pred func(*ldapbridge.User) bool) (*ldapbridge.User, error) {
	s.touch()
	var found []*ldapbridge.User
	for _, u := range s.users {
		if pred(u) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return nil, ldapbridge.ErrNotFound
	case 1:
		return s.read(found[0]), nil
	}
	return nil, ldapbridge.ErrAmbiguous
}

func (s *memStore) User(ctx context.Context, name string) (*ldapbridge.User, error) {
	return s.find(func(u *ldapbridge.User) bool { return u.Username == name })
}
func (s *memStore) UserByID(ctx context.Context, id int64) (*ldapbridge.User, error) {
	return s.find(func(u *ldapbridge.User) bool { return u.ID == id })
}
func (s *memStore) UserByStableID(ctx context.Context, sid string) (*ldapbridge.User, error) {
	return s.find(func(u *ldapbridge.User) bool { return u.StableID == sid })
}
func (s *memStore) UserByField(ctx context.Context, field, v string) (*ldapbridge.User, error) {
	return s.find(func(u *ldapbridge.User) bool { return strings.EqualFold(userField(u, field), v) })
}

func (s *memStore) conflict(u *ldapbridge.User) bool {
	for _, o := range s.users {
		if o.ID != u.ID && (o.Username == u.Username || (u.StableID != "" && o.StableID == u.StableID)) {
			return true
		}
	}
	return false
}

func (s *memStore) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	s.touch()
	if s.conflict(u) {
		return ldapbridge.ErrConflict
	}
	s.next++
	u.ID = s.next
	u.CreatedAt, u.UpdatedAt = time.Now(), time.Now()
	c := *u
	s.users[u.ID] = &c
	return nil
}

func (s *memStore) UpdateUser(ctx context.Context, u *ldapbridge.User) error {
	s.touch()
	old, ok := s.users[u.ID]
	if !ok {
		return ldapbridge.ErrNotFound
	}
	if s.conflict(u) {
		return ldapbridge.ErrConflict
	}
	c := *u
	if c.Photo == nil && c.HasPhoto {
		c.Photo = old.Photo
	}
	s.users[u.ID] = &c
	return nil
}

func (s *memStore) Photo(ctx context.Context, id int64) ([]byte, error) {
	s.touch()
	u, ok := s.users[id]
	if !ok || !u.HasPhoto {
		return nil, ldapbridge.ErrNotFound
	}
	return append([]byte(nil), u.Photo...), nil
}

func (s *memStore) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	s.touch()
	u, ok := s.users[id]
	if !ok {
		return ldapbridge.ErrNotFound
	}
	u.LastLoginAt = &at
	return nil
}

func (s *memStore) UpsertGroup(ctx context.Context, g *ldapbridge.Group) error {
	s.touch()
	for id, o := range s.groups {
		if (g.StableID != "" && o.StableID == g.StableID) || ldaptext.EqualDN(o.DN, g.DN) {
			g.ID = id
			c := *g
			s.groups[id] = &c
			return nil
		}
	}
	s.next++
	g.ID = s.next
	c := *g
	s.groups[g.ID] = &c
	return nil
}

func (s *memStore) SetUserGroupsWithin(ctx context.Context, uid int64, ids []int64, owned func(*ldapbridge.Group) bool) error {
	s.touch()
	keep := []int64{}
	for _, id := range s.userGroups[uid] {
		if g := s.groups[id]; !owned(g) && !slices.Contains(ids, id) {
			keep = append(keep, id)
		}
	}
	s.userGroups[uid] = append(keep, ids...)
	return nil
}

func (s *memStore) AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	s.touch()
	for _, m := range ms {
		if m.UserID != 0 && !slices.Contains(s.userGroups[m.UserID], m.GroupID) {
			s.userGroups[m.UserID] = append(s.userGroups[m.UserID], m.GroupID)
		}
	}
	return nil
}

func (s *memStore) SetGroupParents(ctx context.Context, gid int64, ids []int64) error {
	s.touch()
	s.parents[gid] = append([]int64(nil), ids...)
	return nil
}

func (s *memStore) groupNames() []string {
	var out []string
	for _, g := range s.groups {
		out = append(out, g.Name)
	}
	sort.Strings(out)
	return out
}

var errDown = fmt.Errorf("directory.urls[0]: dial tcp 127.0.0.1:1: connection refused: %w", ldapbridge.ErrUnavailable)
