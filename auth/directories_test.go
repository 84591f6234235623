package auth_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// twoDirsYAML: corp is the JumpCloud tree of one slapd, ext the classic
// tree of another.
const twoDirsYAML = `
directories:
  - name: corp
    directory: {urls: [CORP_URL], bind_dn: "uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com", bind_password: CORP_PW, flavor: openldap}
    users:
      search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", filter: "(uid={username})"}
    access: {skip_unreachable: CORP_SKIP}
  - name: ext
    directory: {urls: [EXT_URL], bind_dn: "cn=readonly,ou=services,dc=example,dc=com", bind_password: EXT_PW, flavor: openldap}
    users:
      search: {base_dn: "ou=people,dc=example,dc=com", filter: "(uid={username})"}
      username_suffix: "EXT_SUFFIX"
`

// jdoeInCorp adds the classic tree's jdoe uid to the JumpCloud tree, with
// another password.
const jdoeInCorp = `dn: uid=jdoe,ou=Users,o=acme0001,dc=jumpcloud,dc=com
objectClass: inetOrgPerson
uid: jdoe
cn: Jane Corp
sn: Corp
userPassword: jdoe-Corp-9
`

type twoDirs struct {
	login *auth.Directories
	store *sqlite.Store
	logs  *syncBuffer
}

func newTwoDirs(t *testing.T, corp, ext *slapdtest.Server, suffix string, skip bool) *twoDirs {
	t.Helper()
	skipS := "false"
	if skip {
		skipS = "true"
	}
	y := strings.NewReplacer("CORP_URL", corp.URL, "CORP_PW", slapdtest.JCServicePassword, "CORP_SKIP", skipS,
		"EXT_URL", ext.URL, "EXT_PW", slapdtest.ExServicePassword, "EXT_SUFFIX", suffix).Replace(twoDirsYAML)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var list []*auth.Authenticator
	for _, dc := range cfg.Directories() {
		dir, err := ldapdir.Open(ctx, dc.Directory, ldapdir.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dir.Close() })
		a, err := auth.New(dc, dir, store, auth.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, a)
	}
	login, err := auth.NewDirectories(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &twoDirs{login: login, store: store, logs: logs}
}

func (d *twoDirs) try(t *testing.T, name, pw string) *auth.Result {
	t.Helper()
	res, err := d.login.Authenticate(context.Background(), name, pw)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", name, err)
	}
	return res
}

func (d *twoDirs) want(t *testing.T, name, pw string, outcome auth.Outcome, dir string) *auth.Result {
	t.Helper()
	res := d.try(t, name, pw)
	if res.Outcome != outcome || res.Directory != dir {
		t.Fatalf("login %q: %s in directory %q (%s), want %s in %q", name, res.Outcome, res.Directory, res.Reason, outcome, dir)
	}
	return res
}

func (d *twoDirs) account(t *testing.T, name, dir string) {
	t.Helper()
	u, err := d.store.User(context.Background(), name)
	if err != nil {
		t.Fatalf("account %q: %v", name, err)
	}
	if u.Directory != dir {
		t.Fatalf("account %q belongs to %q, want %q", name, u.Directory, dir)
	}
}

// TestTwoDirectoriesLoginInOrder is issue 14's login contract on two
// slapds: the first directory that holds the name decides.
func TestTwoDirectoriesLoginInOrder(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}, LogLevel: "stats"})
	d := newTwoDirs(t, corp, ext, "", false)

	// A user only in the second directory signs in through it.
	d.want(t, "jdoe", slapdtest.ExJDoePassword, auth.OK, "ext")
	d.account(t, "jdoe", "ext")
	if !strings.Contains(ext.Log(), `BIND dn="uid=jdoe,ou=people,dc=example,dc=com"`) {
		t.Fatalf("ext's slapd log shows no bind of jdoe; the log assertion below would prove nothing:\n%s", ext.Log())
	}
	// A user of the first directory signs in there.
	d.want(t, slapdtest.JCAliceUID, slapdtest.JCAlicePassword, auth.OK, "corp")
	d.account(t, slapdtest.JCAliceUID, "corp")
	// A wrong password in the first directory is bad_credentials, and the
	// second is not asked.
	d.want(t, slapdtest.JCBobUID, "wrong-password", auth.BadCredentials, "corp")
	if strings.Contains(ext.Log(), "bob") {
		t.Errorf("ext's slapd was asked about bob after corp refused the password:\n%s", ext.Log())
	}
	// A name in neither directory.
	res := d.want(t, "nobody-here", "x-password", auth.UserNotFound, "")
	if !strings.Contains(res.Reason, "corp, ext") {
		t.Errorf("reason %q does not name the directories", res.Reason)
	}

	// The same uid in both, without a suffix: the account stays with the
	// directory that created it (ext); corp, asked first, refuses.
	corp.Apply(t, jdoeInCorp)
	res = d.want(t, "jdoe", "jdoe-Corp-9", auth.UserNotFound, "corp")
	if res.Reason != "username taken by directory ext" || res.TakenBy != "ext" {
		t.Errorf("reason %q, taken by %q; want the conflict reason", res.Reason, res.TakenBy)
	}
	if !strings.Contains(d.logs.String(), "username taken by directory ext") {
		t.Errorf("the logs lack the conflict reason:\n%s", d.logs.String())
	}
	d.account(t, "jdoe", "ext")
}

// TestTwoDirectoriesWithASuffixAreTwoAccounts: with users.username_suffix
// on ext the same uid signs in from both, as two accounts, and ext's users
// sign in with or without the suffix.
func TestTwoDirectoriesWithASuffixAreTwoAccounts(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	corp.Apply(t, jdoeInCorp)
	d := newTwoDirs(t, corp, ext, "@ext", false)

	d.want(t, "jdoe", "jdoe-Corp-9", auth.OK, "corp")
	d.account(t, "jdoe", "corp")
	res := d.want(t, "jdoe@ext", slapdtest.ExJDoePassword, auth.OK, "ext")
	if res.User.Username != "jdoe@ext" {
		t.Errorf("ext's jdoe is stored as %q, want jdoe@ext", res.User.Username)
	}
	d.account(t, "jdoe@ext", "ext")
	d.account(t, "jdoe", "corp")
	// Without the suffix: asmith is only in ext.
	res = d.want(t, "asmith", slapdtest.ExASmithPassword, auth.OK, "ext")
	if res.User.Username != "asmith@ext" {
		t.Errorf("asmith is stored as %q, want asmith@ext", res.User.Username)
	}
	d.want(t, "asmith@ext", slapdtest.ExASmithPassword, auth.OK, "ext")
}

// TestUnreachableDirectoryFailsTheLoginUnlessSkipped: a stopped first
// slapd fails every login with ldap_error, unless it has
// access.skip_unreachable, when the second directory's users still sign in.
func TestUnreachableDirectoryFailsTheLoginUnlessSkipped(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	strict := newTwoDirs(t, corp, ext, "", false)
	skipping := newTwoDirs(t, corp, ext, "", true)
	corp.Stop(t)

	strict.want(t, "jdoe", slapdtest.ExJDoePassword, auth.LDAPError, "corp")
	skipping.want(t, "jdoe", slapdtest.ExJDoePassword, auth.OK, "ext")
	res := skipping.want(t, "alice", slapdtest.JCAlicePassword, auth.UserNotFound, "")
	if !strings.Contains(res.Reason, "unreachable and skipped: corp") {
		t.Errorf("reason %q does not say corp was skipped", res.Reason)
	}
}
