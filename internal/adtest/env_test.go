package adtest

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

func TestMain(m *testing.M) { sambatest.Main(m) }

// adYAML is examples/active_directory.yaml reduced to what the fixtures
// need: users and groups searched from the domain root, nested groups by
// the in-chain rule, App Users or Level1 required, Staff for is_staff.
const adYAML = `
directory:
  urls: [LDAPS]
  tls: {ca_file: CAFILE}
  bind_dn: SVCDN
  bind_password: SVCPW
  flavor: FLAVOR
users:
  search:
    base_dn: BASEDN
    scope: sub
    filter: "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {title: title, display_name: displayName}
groups:
  search: {base_dn: "BASEDN", scope: sub, filter: "(objectClass=group)"}
  nested: true
access:
  require: {any: ["CN=App Users,GROUPS", "CN=Level1,GROUPS"]}
  flags:
    is_staff: "CN=Staff,GROUPS"
`

func adConfig(t testing.TB, dc *sambatest.DC, flavor string) *config.Config {
	t.Helper()
	y := strings.NewReplacer("LDAPS", dc.LDAPSURL, "CAFILE", dc.CAFile, "SVCDN", sambatest.ServiceDN,
		"SVCPW", sambatest.ServicePassword, "FLAVOR", flavor, "BASEDN", sambatest.BaseDN,
		"GROUPS", sambatest.GroupsDN).Replace(adYAML)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatalf("AD config: %v", err)
	}
	return cfg
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

// env is an Authenticator over the DC and a fresh sqlite store.
type env struct {
	cfg   *config.Config
	a     *auth.Authenticator
	dir   *ldapdir.Dir
	store *sqlite.Store
	logs  *syncBuffer
}

// newEnv opens cfg's directory; with flavor auto it reads the root DSE and
// applies the detected flavor, as the commands do.
func newEnv(t *testing.T, cfg *config.Config) *env {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{Logger: log})
	if err != nil {
		t.Fatalf("ldapdir.Open: %v", err)
	}
	t.Cleanup(func() { dir.Close() })
	if cfg.Directory.Flavor == "auto" {
		info, err := dir.Info(ctx)
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		cfg.ApplyFlavor(info.Flavor)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ad.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(cfg, dir, store, auth.Options{Logger: log})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return &env{cfg: cfg, a: a, dir: dir, store: store, logs: logs}
}

func (e *env) login(t *testing.T, name, pw string) *auth.Result {
	t.Helper()
	res, err := e.a.Authenticate(context.Background(), name, pw)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", name, err)
	}
	if strings.Contains(e.logs.String(), pw) {
		t.Fatalf("the password of %q appears in the logs", name)
	}
	return res
}
