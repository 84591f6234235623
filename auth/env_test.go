package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// tutorialYAML is the JumpCloud tutorial configuration (examples/jumpcloud.yaml)
// pointed at the test slapd and bound as the fixture's service account.
const tutorialYAML = `
directory:
  urls: [URL]
  bind_dn: uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com
  bind_password: PASSWORD
  flavor: jumpcloud
users:
  search:
    base_dn: ou=Users,o=acme0001,dc=jumpcloud,dc=com
    scope: sub
    filter: "(uid={username})"
  attributes: {first_name: givenName, last_name: sn, email: mail}
groups:
  search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  require: "cn=Django App,ou=Users,o=acme0001,dc=jumpcloud,dc=com"
  flags:
    is_active: cn=active,ou=Users,o=acme0001,dc=jumpcloud,dc=com
    is_staff: cn=staff,ou=Users,o=acme0001,dc=jumpcloud,dc=com
    is_superuser: cn=superuser,ou=Users,o=acme0001,dc=jumpcloud,dc=com
`

func tutorialConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	y := strings.NewReplacer("URL", url, "PASSWORD", slapdtest.JCServicePassword).Replace(tutorialYAML)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatalf("tutorial config: %v", err)
	}
	return cfg
}

// env is one Authenticator over a real directory and a fresh sqlite store.
type env struct {
	a     *auth.Authenticator
	dir   *ldapdir.Dir
	store *sqlite.Store
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, cfg *config.Config) *env {
	t.Helper()
	return newEnvDir(t, cfg, cfg.Directory)
}

// newEnvDir opens the directory with dirCfg instead of cfg.Directory.
func newEnvDir(t *testing.T, cfg *config.Config, dirCfg config.Directory) *env {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	dir, err := ldapdir.Open(ctx, dirCfg, ldapdir.Options{Logger: log})
	if err != nil {
		t.Fatalf("ldapdir.Open: %v", err)
	}
	t.Cleanup(func() { dir.Close() })
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return attach(t, cfg, dir, store, logs)
}

func attach(t *testing.T, cfg *config.Config, dir *ldapdir.Dir, store *sqlite.Store, logs *syncBuffer) *env {
	t.Helper()
	a, err := auth.New(cfg, dir, store, auth.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return &env{a: a, dir: dir, store: store, logs: logs}
}

func (e *env) login(t *testing.T, name, pw string) *auth.Result {
	t.Helper()
	res, err := e.a.Authenticate(context.Background(), name, pw)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", name, err)
	}
	if len(pw) >= 8 && strings.Contains(e.logs.String(), pw) {
		t.Fatalf("the password of %q appears in the logs", name)
	}
	return res
}

func (e *env) mustLogin(t *testing.T, name, pw string) *auth.Result {
	t.Helper()
	res := e.login(t, name, pw)
	if res.Outcome != auth.OK || !res.Authenticated || !res.Allowed {
		t.Fatalf("login %q: %s (%s) err=%v, want ok", name, res.Outcome, res.Reason, res.Err)
	}
	return res
}

func (e *env) stored(t *testing.T, name string) *ldapbridge.User {
	t.Helper()
	u, err := e.store.User(context.Background(), name)
	if err != nil {
		t.Fatalf("store.User(%q): %v", name, err)
	}
	return u
}

func (e *env) userCount(t *testing.T) int {
	t.Helper()
	us, err := e.store.ListUsers(context.Background(), ldapbridge.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return len(us)
}

func q(dn string) ldapbridge.GroupQuery { return ldapbridge.GroupQuery{DN: dn} }
