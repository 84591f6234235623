package dirsync_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/flipcheck"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// flipEnv is a login and a sync sharing one configuration, directory and
// store, for the property of issue 11 (internal/flipcheck).
type flipEnv struct {
	dir  *stopDir
	st   *sqlite.Store
	auth *auth.Authenticator
	sync *dirsync.Syncer
}

func newFlipEnv(t *testing.T, yaml string) *flipEnv {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "DSN", filepath.Join(t.TempDir(), "flip.db"))
	cfg, err := config.Parse([]byte(yaml), config.ParseOptions{})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	ctx := t.Context()
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	st, err := sqlite.Open(ctx, string(cfg.Store.DSN))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(cfg, dir, st, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sd := &stopDir{Dir: dir}
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: sd, Store: st, Mapper: a.Mapper(), SkewMargin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &flipEnv{dir: sd, st: st, auth: a, sync: s}
}

func (e *flipEnv) harness(logins []flipcheck.Login, expect []string, check func(*testing.T, string, flipcheck.Snapshot)) flipcheck.Harness {
	return flipcheck.Harness{
		Store:  e.st,
		Logins: logins,
		Login: func(ctx context.Context, name, pw string) (string, error) {
			res, err := e.auth.Authenticate(ctx, name, pw)
			if err != nil {
				return "", err
			}
			return string(res.Outcome), nil
		},
		Sync: func(ctx context.Context, mode dirsync.Mode) (*dirsync.Report, error) {
			return e.sync.Run(ctx, dirsync.RunOptions{Mode: mode})
		},
		Expect: expect,
		Check:  check,
	}
}

// creds pairs names and passwords.
func creds(namePassword ...string) []flipcheck.Login {
	var out []flipcheck.Login
	for i := 0; i+1 < len(namePassword); i += 2 {
		out = append(out, flipcheck.Login{Name: namePassword[i], Password: namePassword[i+1]})
	}
	return out
}

// wantUsers checks, once a user is stored, the verdict and flags the
// fixture promises: name → verdict, then the flags that must be set.
func wantUsers(want map[string][]string) func(*testing.T, string, flipcheck.Snapshot) {
	return func(t *testing.T, step string, s flipcheck.Snapshot) {
		t.Helper()
		for name, w := range want {
			u, ok := s.Users[name]
			if !ok {
				continue
			}
			if got := u.EffectiveVerdict(); got != w[0] {
				t.Errorf("%s: %s's verdict is %q (%q), want %q", step, name, got, u.VerdictReason, w[0])
			}
			flags := map[string]bool{"is_active": u.IsActive, "is_staff": u.IsStaff, "is_superuser": u.IsSuperuser}
			for k, v := range u.Flags {
				flags[k] = v
			}
			for _, f := range w[1:] {
				if !flags[f] {
					t.Errorf("%s: %s's flag %s is not set (flags %v)", step, name, f, flags)
				}
			}
		}
	}
}

// jcFlipConfig is the JumpCloud tree with every piece of the policy: a
// required group reached directly or by nesting, a denied group, the three
// standard flags (is_active from a group), a custom flag only nesting
// reaches, and a mirror that leaves a group out.
const jcFlipConfig = `
directory:
  urls: [URL]
  bind_dn: "` + slapdtest.JCServiceDN + `"
  bind_password: "` + slapdtest.JCServicePassword + `"
  flavor: openldap
  page_size: 3
users:
  search: {base_dn: "` + slapdtest.JCUsersDN + `", scope: sub, filter: "(uid={username})"}
  sync_filter: "(objectClass=inetOrgPerson)"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {display_name: displayName, title: title}
  photo_attribute: jpegPhoto
groups:
  search: {base_dn: "` + slapdtest.JCUsersDN + `", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
  nested: true
  mirror: {except: [active]}
access:
  require: {any: ["` + slapdtest.JCDjangoAppGroupDN + `", "` + slapdtest.JCEngineeringGroupDN + `"]}
  deny: "` + slapdtest.JCContractorsGroupDN + `"
  flags:
    is_active: "` + slapdtest.JCActiveGroupDN + `"
    is_staff: "` + slapdtest.JCStaffGroupDN + `"
    is_superuser: "` + slapdtest.JCSuperuserGroupDN + `"
    is_engineer: "` + slapdtest.JCEngineeringGroupDN + `"
sync:
  removed_users: deactivate
  max_removals: "50%"
store: {driver: sqlite, dsn: DSN}
`

// TestIdempotentLoginAndSyncJumpCloud: for every JumpCloud user, login →
// sync --full → login → sync --incremental leaves the stored record,
// flags, groups and verdict as they were after each step, and a second run
// of each step changes nothing; the incremental run reads content sync
// (syncprov) or modifyTimestamp.
func TestIdempotentLoginAndSyncJumpCloud(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	logins := creds(
		slapdtest.JCServiceUID, slapdtest.JCServicePassword,
		slapdtest.JCAliceUID, slapdtest.JCAlicePassword,
		slapdtest.JCBobUID, slapdtest.JCBobPassword,
		slapdtest.JCCarolUID, slapdtest.JCCarolPassword,
		slapdtest.JCDaveUID, slapdtest.JCDavePassword,
		slapdtest.JCErinUID, slapdtest.JCErinPassword,
		slapdtest.JCFrankUID, slapdtest.JCFrankPassword,
		slapdtest.JCGraceUID, slapdtest.JCGracePassword,
		slapdtest.JCJoseUID, slapdtest.JCJosePassword,
		slapdtest.JCMalloryUID, slapdtest.JCMalloryPassword,
		slapdtest.JCNinaUID, slapdtest.JCNinaPassword,
		slapdtest.JCGraceUID, "a-wrong-password", // a failed login stores nothing
	)
	var expect []string
	for _, l := range logins[:len(logins)-1] {
		expect = append(expect, l.Name)
	}
	ok, req, deny, inactive := ldapbridge.VerdictOK, ldapbridge.VerdictRequireGroup, ldapbridge.VerdictDenyGroup, ldapbridge.VerdictInactive
	check := wantUsers(map[string][]string{
		slapdtest.JCServiceUID: {req},
		slapdtest.JCAliceUID:   {ok, "is_active"},
		slapdtest.JCBobUID:     {ok, "is_active", "is_staff", "is_engineer"},
		slapdtest.JCCarolUID:   {ok, "is_active", "is_staff", "is_superuser"},
		slapdtest.JCDaveUID:    {ok, "is_active"},
		slapdtest.JCErinUID:    {req, "is_active"},
		slapdtest.JCFrankUID:   {inactive},
		slapdtest.JCGraceUID:   {req},
		slapdtest.JCJoseUID:    {ok, "is_active"},
		slapdtest.JCMalloryUID: {deny, "is_active"},
		slapdtest.JCNinaUID:    {inactive, "is_engineer"}, // admitted through backend ⊂ engineering, but not in active
	})
	y := strings.ReplaceAll(jcFlipConfig, "URL", srv.URL)
	for _, source := range []string{"contentsync", "modifytimestamp"} {
		t.Run(source, func(t *testing.T) {
			e := newFlipEnv(t, y)
			if source == "modifytimestamp" {
				e.dir.noContentSync = true
				time.Sleep(2100 * time.Millisecond) // fixture timestamps fall outside the 1s skew margin
			}
			flipcheck.Run(t, e.harness(logins, expect, check))
		})
	}
}

// classicFlipConfig is the classic tree searched as a union of two bases,
// with the group type, nesting and policy of each case.
const classicFlipConfig = `
directory:
  urls: [URL]
  bind_dn: "` + slapdtest.ExServiceDN + `"
  bind_password: "` + slapdtest.ExServicePassword + `"
  flavor: openldap
  page_size: 2
users:
  search:
  - {base_dn: "` + slapdtest.ExPeopleDN + `", scope: one, filter: "(&(objectClass=inetOrgPerson)(uid={username}))"}
  - {base_dn: "` + slapdtest.ExPartnersDN + `", scope: one, filter: "(&(objectClass=inetOrgPerson)(uid={username}))"}
  sync_filter: "(objectClass=inetOrgPerson)"
  attributes: {first_name: givenName, last_name: sn, email: mail}
  profile: {uid_number: uidNumber, shell: loginShell}
groups:
  search: {base_dn: "` + slapdtest.ExGroupsDN + `", scope: sub, filter: "(objectClass=CLASS)"}
  type: TYPE
  nested: NESTED
  mirror: MIRROR
access:
POLICY
sync:
  removed_users: deactivate
  max_removals: "50%"
store: {driver: sqlite, dsn: DSN}
`

// TestIdempotentLoginAndSyncClassic is the property on the classic tree,
// once per group type the tree holds: groupOfNames with a nesting cycle
// (read from the groups and from memberOf), groupOfUniqueNames, posixGroup
// with bwayne in unix only by his gidNumber, and organizationalRole.
func TestIdempotentLoginAndSyncClassic(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	logins := creds(
		"jdoe", slapdtest.ExJDoePassword,
		"asmith", slapdtest.ExASmithPassword,
		"bwayne", slapdtest.ExBWaynePassword,
		"pvendor", slapdtest.ExPVendorPassword,
		slapdtest.ExJSmithUID, slapdtest.ExJSmithPeoplePassword, // ambiguous: two entries
		slapdtest.ExJSmithUID, slapdtest.ExJSmithPartnersPassword,
		"nopass", "anything", // no userPassword
	)
	expect := []string{"jdoe", "asmith", "bwayne", "nopass", "pvendor"}
	ok, req, inactive := ldapbridge.VerdictOK, ldapbridge.VerdictRequireGroup, ldapbridge.VerdictInactive
	// In the cycle A ∋ B ∋ C ∋ A jdoe (in A) and asmith (in B) are in all three.
	cyclePolicy := `  require: {any: ["` + slapdtest.ExDevelopersDN + `", '` + slapdtest.ExSalesEMEADN + `']}
  deny: "` + slapdtest.ExOwnersDN + `"
  flags:
    is_active: "` + slapdtest.ExDevelopersDN + `"
    is_staff: "` + slapdtest.ExCycleCDN + `"
    is_superuser: "` + slapdtest.ExCycleADN + `"
    in_sales: '` + slapdtest.ExSalesEMEADN + `'`
	cycleWant := map[string][]string{
		"jdoe":    {ok, "is_active", "is_staff", "is_superuser"},
		"asmith":  {ok, "is_active", "is_staff", "is_superuser", "in_sales"},
		"bwayne":  {req},
		"nopass":  {ok, "is_active"},
		"pvendor": {inactive, "in_sales"},
	}
	cases := []struct {
		name, typ, class, nested, mirror, policy string
		want                                     map[string][]string
		// modTime hides content sync, so the incremental run reads
		// modifyTimestamp.
		modTime bool
	}{
		{"group_of_names nested cycle", "group_of_names", "groupOfNames", "true", "{except: [cycle-b]}", cyclePolicy, cycleWant, false},
		{"member_of nested cycle", "member_of", "groupOfNames", "true", "all", cyclePolicy, cycleWant, false},
		{"group_of_unique_names", "group_of_unique_names", "groupOfUniqueNames", "false", "all",
			`  require: "` + slapdtest.ExAdminsDN + `"
  flags:
    is_superuser: "` + slapdtest.ExAdminsDN + `"`,
			map[string][]string{"jdoe": {ok, "is_superuser"}, "pvendor": {ok, "is_superuser"}, "asmith": {req}, "bwayne": {req}}, false},
		{"posix primary group", "posix", "posixGroup", "false", "all",
			`  require: "` + slapdtest.ExUnixDN + `"
  deny: "cn=nobody,` + slapdtest.ExGroupsDN + `"
  flags:
    is_staff: "` + slapdtest.ExUnixDN + `"`,
			map[string][]string{"jdoe": {ok, "is_staff"}, "asmith": {ok, "is_staff"}, "bwayne": {ok, "is_staff"}, "pvendor": {req}, "nopass": {req}}, false},
		{"posix primary group modifyTimestamp", "posix", "posixGroup", "false", "all",
			`  require: "` + slapdtest.ExUnixDN + `"
  flags:
    is_staff: "` + slapdtest.ExUnixDN + `"`,
			map[string][]string{"jdoe": {ok, "is_staff"}, "asmith": {ok, "is_staff"}, "bwayne": {ok, "is_staff"}, "pvendor": {req}, "nopass": {req}}, true},
		{"organizational_role", "organizational_role", "organizationalRole", "false", "all",
			`  require: "` + slapdtest.ExManagersDN + `"
  flags:
    is_active: {not: "` + slapdtest.ExManagersDN + `"}`,
			map[string][]string{"jdoe": {inactive}, "bwayne": {inactive}, "asmith": {req}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.NewReplacer("URL", srv.URL, "TYPE", tc.typ, "CLASS", tc.class, "NESTED", tc.nested, "MIRROR", tc.mirror, "POLICY", tc.policy).Replace(classicFlipConfig)
			e := newFlipEnv(t, y)
			if tc.modTime {
				e.dir.noContentSync = true
				time.Sleep(2100 * time.Millisecond) // fixture timestamps fall outside the 1s skew margin
			}
			flipcheck.Run(t, e.harness(logins, expect, wantUsers(tc.want)))
		})
	}
}
