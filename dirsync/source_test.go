package dirsync_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// A ChangeSource written outside the package: a fake mechanism whose
// "directory" is a map and whose cursor is a version number kept in TS.
// It proves that the interface uses exported types only and that the
// pipeline around it (plans, writes, removals, cursor) does not care
// which mechanism read the users.

type fakeDirectory struct{}

func (fakeDirectory) Search(context.Context, *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	return nil, nil
}

func (fakeDirectory) SearchPages(context.Context, *ldapbridge.SearchRequest, func([]*ldapbridge.Entry) error) error {
	return nil
}

func (fakeDirectory) Info(context.Context) (*ldapbridge.ServerInfo, error) {
	return &ldapbridge.ServerInfo{URL: "fake://directory"}, nil
}

func (fakeDirectory) CheckPassword(context.Context, string, string) error {
	return errors.New("no logins")
}

func (fakeDirectory) BindAs(context.Context, string, string) (ldapbridge.Session, error) {
	return nil, errors.New("no logins")
}

func (fakeDirectory) Close() error { return nil }

// fakeSource reads the people of a fakeDirectoryState.
type fakeSource struct {
	state    *fakeDirectoryState
	searches int
	opened   bool
	closed   bool
}

type fakeDirectoryState struct {
	version int
	people  map[string]int // uid -> version it last changed at
	deleted map[string]int // uid -> version it was deleted at
}

func (f *fakeSource) Kind() string { return "fake" }

func (f *fakeSource) Open(ctx context.Context) (dirsync.Directory, *ldapbridge.ServerInfo, error) {
	f.opened = true
	info, err := fakeDirectory{}.Info(ctx)
	return fakeDirectory{}, info, err
}

func (f *fakeSource) Incremental() error { return nil }

func (f *fakeSource) Resume(since *dirsync.Cursor) error {
	if _, err := parseVersion(since.TS); err != nil {
		return err
	}
	return nil
}

func (f *fakeSource) Read(ctx context.Context, since *dirsync.Cursor, out dirsync.UserSink) error {
	after := -1
	if since != nil {
		after, _ = parseVersion(since.TS)
	}
	f.searches++
	var page []*ldapbridge.Entry
	for _, uid := range slices.Sorted(maps.Keys(f.state.people)) {
		if f.state.people[uid] > after {
			page = append(page, fakeEntry(uid, f.state.people[uid]))
		}
	}
	if err := out.Entries(ctx, page); err != nil {
		return err
	}
	if since != nil {
		for uid, v := range f.state.deleted {
			if v > after {
				out.Deleted("id-" + uid)
			}
		}
	}
	return nil
}

func (f *fakeSource) Checkpoint(next *dirsync.Cursor) { next.TS = "v" + strconv.Itoa(f.state.version) }

func (f *fakeSource) Searches() int { return f.searches }

func (f *fakeSource) Close() error { f.closed = true; return nil }

func parseVersion(ts string) (int, error) {
	v, ok := strings.CutPrefix(ts, "v")
	if !ok {
		return 0, errors.New("not a fake version")
	}
	return strconv.Atoi(v)
}

// fakeEntry is a person whose surname says the version it changed at.
func fakeEntry(uid string, version int) *ldapbridge.Entry {
	return ldapbridge.NewEntry("uid="+uid+",ou=people,dc=fake", map[string][]string{
		"uid": {uid}, "sn": {"v" + strconv.Itoa(version)}, "entryUUID": {"id-" + uid},
	})
}

const fakeConfig = `
directory: {urls: ["ldap://127.0.0.1:1"], flavor: openldap}
users:
  search: {base_dn: "ou=people,dc=fake", scope: sub, filter: "(uid={username})"}
  sync_filter: "(objectClass=person)"
  attributes: {last_name: sn}
sync: {removed_users: deactivate, max_removals: 100%}
store: {driver: sqlite, dsn: DSN}
`

// newFakeEnv returns fakeConfig over a fresh, migrated SQLite store and
// the login policy of that config, for syncs driven by a fake source.
func newFakeEnv(t *testing.T) (*config.Config, *sqlite.Store, *auth.Authenticator) {
	t.Helper()
	ctx := t.Context()
	dsn := filepath.Join(t.TempDir(), "fake.db")
	cfg, err := config.Parse([]byte(strings.ReplaceAll(fakeConfig, "DSN", dsn)), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(cfg, fakeDirectory{}, st, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, st, a
}

func TestAChangeSourceFromAnotherPackageDrivesTheSync(t *testing.T) {
	ctx := t.Context()
	cfg, st, a := newFakeEnv(t)
	state := &fakeDirectoryState{version: 1, people: map[string]int{"ann": 1, "bob": 1, "cid": 1}, deleted: map[string]int{}}
	var sources []*fakeSource
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: fakeDirectory{}, Store: st, Mapper: a.Mapper(),
		NewSource: func(dirsync.Directory) dirsync.ChangeSource {
			src := &fakeSource{state: state}
			sources = append(sources, src)
			return src
		}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Run(ctx, dirsync.RunOptions{})
	if err != nil || rep.Mode != dirsync.Full || rep.UsersCreated != 3 || rep.Server != "fake://directory" || rep.LDAPSearches != 1 {
		t.Fatalf("first run: %v, mode %s, %d created, server %q, %d searches; want full, 3, fake://directory, 1",
			err, rep.Mode, rep.UsersCreated, rep.Server, rep.LDAPSearches)
	}
	if !sources[0].opened || !sources[0].closed {
		t.Errorf("the source was opened %v, closed %v; want both", sources[0].opened, sources[0].closed)
	}
	raw, err := st.SyncCursor(ctx, "fake://directory")
	if err != nil || !strings.Contains(raw, `"kind":"fake"`) || !strings.Contains(raw, `"ts":"v1"`) {
		t.Fatalf("cursor after the first run: %q, %v; want kind fake at v1", raw, err)
	}

	// bob changes, cid is deleted: the next run is incremental, reads bob
	// alone and deactivates cid from the source's deletion.
	state.version = 2
	state.people["bob"] = 2
	delete(state.people, "cid")
	state.deleted["cid"] = 2
	rep, err = s.Run(ctx, dirsync.RunOptions{})
	if err != nil || rep.Mode != dirsync.Incremental || !slices.Equal(rep.Plan.Update, []string{"bob"}) || rep.UsersUnchanged != 0 ||
		!slices.Equal(rep.Plan.Deactivate, []string{"cid"}) || rep.UsersDeactivated != 1 {
		t.Fatalf("incremental run: %v, mode %s, updated %v, %d unchanged, deactivated %v; want incremental, bob alone updated, cid deactivated",
			err, rep.Mode, rep.Plan.Update, rep.UsersUnchanged, rep.Plan.Deactivate)
	}
	if bob, err := st.User(ctx, "bob"); err != nil || bob.LastName != "v2" {
		t.Errorf("bob after his change: %+v, %v; want last name v2", bob, err)
	}
	if cid, err := st.User(ctx, "cid"); err != nil || cid.IsActive {
		t.Errorf("cid after its deletion: %+v, %v; want inactive", cid, err)
	}
	if ann, err := st.User(ctx, "ann"); err != nil || !ann.IsActive {
		t.Errorf("ann, not read by the incremental run: %+v, %v; want active", ann, err)
	}
	if raw, _ := st.SyncCursor(ctx, "fake://directory"); !strings.Contains(raw, `"ts":"v2"`) || !strings.Contains(raw, `"since_full":1`) {
		t.Errorf("cursor after the incremental run: %q; want v2, one run since the full one", raw)
	}
}
