package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/web"
)

// twoDirectoriesYAML: corp is the JumpCloud tree of one slapd, ext the
// classic tree of another (issue 14).
const twoDirectoriesYAML = `
directories:
  - name: corp
    directory: {urls: [CORP_URL], bind_dn: "uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com", bind_password: "CORP_PW", flavor: openldap}
    users:
      search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", filter: "(uid={username})"}
    groups: {search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", filter: "(objectClass=groupOfNames)"}}
    access: {skip_unreachable: true}
  - name: ext
    directory: {urls: [EXT_URL], bind_dn: "cn=readonly,ou=services,dc=example,dc=com", bind_password: "EXT_PW", flavor: openldap}
    users:
      search: {base_dn: "ou=people,dc=example,dc=com", filter: "(uid={username})"}
      sync_filter: "(&(objectClass=inetOrgPerson)(!(uid=jsmith)))"
sync: {max_removals: 50%}
store: {driver: sqlite, dsn: DSN}
`

const jdoeInCorpLDIF = `dn: uid=jdoe,ou=Users,o=acme0001,dc=jumpcloud,dc=com
objectClass: inetOrgPerson
uid: jdoe
cn: Jane Corp
sn: Corp
userPassword: jdoe-Corp-9
`

func twoDirectoriesCLI(t *testing.T, corp, ext *slapdtest.Server) cli {
	t.Helper()
	y := strings.NewReplacer("CORP_URL", corp.URL, "CORP_PW", slapdtest.JCServicePassword,
		"EXT_URL", ext.URL, "EXT_PW", slapdtest.ExServicePassword,
		"DSN", filepath.Join(t.TempDir(), "lb.db")).Replace(twoDirectoriesYAML)
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return cli{t: t, config: path}
}

func decode[T any](t *testing.T, r cliResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("output is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return v
}

type loginJSON struct {
	Outcome, Reason, Directory string
	User                       *struct{ Username string }
}

type syncJSON struct {
	Directory        string
	Aborted          bool
	UsersCreated     int `json:"users_created"`
	UsersDeactivated int `json:"users_deactivated"`
	Warnings         []string
}

func TestTwoDirectoriesFromTheCommandLine(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	c := twoDirectoriesCLI(t, corp, ext)

	r := c.run(slapdtest.ExJDoePassword+"\n", "auth", "test", "jdoe", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Outcome != "ok" || got.Directory != "ext" {
		t.Fatalf("auth test jdoe: exit %d, %+v\n%s", r.code, got, r.stderr)
	}
	r = c.run(slapdtest.JCAlicePassword+"\n", "auth", "test", "alice", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Directory != "corp" {
		t.Fatalf("auth test alice: exit %d, %+v", r.code, got)
	}

	r = c.run("", "users", "list", "--json", "--directory", "ext")
	users := decode[[]struct{ Username, Directory string }](t, r)
	if len(users) != 1 || users[0].Username != "jdoe" || users[0].Directory != "ext" {
		t.Fatalf("users list --directory ext: %+v", users)
	}
	r = c.run("", "users", "show", "alice", "--json")
	if u := decode[struct{ Directory string }](t, r); u.Directory != "corp" {
		t.Fatalf("users show alice: directory %q", u.Directory)
	}
	// The text list has a DIRECTORY column with several directories.
	r = c.run("", "users", "list")
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			rows[f[0]] = f
		}
	}
	if h := rows["USERNAME"]; r.code != 0 || len(h) < 3 || h[1] != "SOURCE" || h[2] != "DIRECTORY" {
		t.Fatalf("users list header: exit %d, %q\n%s", r.code, h, r.stderr)
	}
	if rows["jdoe"][2] != "ext" || rows[slapdtest.JCAliceUID][2] != "corp" {
		t.Errorf("users list directories: jdoe %q, alice %q", rows["jdoe"], rows[slapdtest.JCAliceUID])
	}

	r = c.run("", "explain", "jdoe", "--json")
	if ex := decode[struct {
		Found     bool
		Directory string
	}](t, r); r.code != 0 || !ex.Found || ex.Directory != "ext" {
		t.Fatalf("explain jdoe: exit %d, %+v", r.code, ex)
	}
	r = c.run("", "explain", "alice", "--directory", "ext", "--json")
	if ex := decode[struct{ Found bool }](t, r); r.code != 1 || ex.Found {
		t.Fatalf("explain alice --directory ext: exit %d, found %v", r.code, ex.Found)
	}
	if r = c.run("", "explain", "alice", "--directory", "nope"); r.code != 2 || !strings.Contains(r.stderr, "corp, ext") {
		t.Fatalf("explain --directory nope: exit %d\n%s", r.code, r.stderr)
	}

	// The same uid in corp now: the account stays with ext, corp refuses.
	corp.Apply(t, jdoeInCorpLDIF)
	r = c.run("jdoe-Corp-9\n", "auth", "test", "jdoe", "--json")
	if got := decode[loginJSON](t, r); r.code != 1 || got.Outcome != "user_not_found" || got.Reason != "username taken by directory ext" || got.Directory != "corp" {
		t.Fatalf("auth test jdoe (in both): exit %d, %+v", r.code, got)
	}
}

// TestTwoDirectoriesSyncEachOnItsOwn: a sync runs every directory, each
// its own run; a removal in one leaves the other's accounts alone; with
// one slapd stopped the other's sync and logins go on.
func TestTwoDirectoriesSyncEachOnItsOwn(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	corp.Apply(t, jdoeInCorpLDIF)
	c := twoDirectoriesCLI(t, corp, ext)

	r := c.run("", "sync", "--json")
	reps := decode[[]syncJSON](t, r)
	if r.code != 0 || len(reps) != 2 || reps[0].Directory != "corp" || reps[1].Directory != "ext" || reps[0].UsersCreated == 0 || reps[1].UsersCreated == 0 {
		t.Fatalf("first sync: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	// jdoe is in both: corp, synced first, created the account; ext's
	// run refuses its jdoe with the conflict reason.
	if !strings.Contains(strings.Join(reps[1].Warnings, "\n"), "username taken by directory corp") {
		t.Errorf("ext's warnings lack the conflict: %q", reps[1].Warnings)
	}
	list := func(dir string) map[string]bool {
		r := c.run("", "users", "list", "--json", "--directory", dir)
		out := map[string]bool{}
		for _, u := range decode[[]struct {
			Username string
			Active   bool `json:"is_active"`
		}](t, r) {
			out[u.Username] = u.Active
		}
		return out
	}
	corpUsers, extUsers := list("corp"), list("ext")
	if !corpUsers["jdoe"] || !corpUsers["alice"] || !extUsers["asmith"] || !extUsers["bwayne"] || len(extUsers) == 0 {
		t.Fatalf("after the first sync: corp %v, ext %v", corpUsers, extUsers)
	}
	if _, ok := extUsers["jdoe"]; ok {
		t.Fatalf("ext holds a jdoe account: %v", extUsers)
	}

	// asmith leaves ext: the next sync deactivates asmith and no one of corp.
	ext.Apply(t, "dn: uid=asmith,ou=people,dc=example,dc=com\nchangetype: delete\n")
	r = c.run("", "sync", "--full", "--json")
	reps = decode[[]syncJSON](t, r)
	if r.code != 0 || len(reps) != 2 || reps[0].UsersDeactivated != 0 || reps[1].UsersDeactivated != 1 {
		t.Fatalf("sync after asmith left ext: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	if got := list("ext"); got["asmith"] || !got["bwayne"] {
		t.Errorf("ext after the removal: %v", got)
	}
	if got := list("corp"); len(got) != len(corpUsers) {
		t.Errorf("corp's accounts changed: %v, were %v", got, corpUsers)
	} else {
		for name, active := range corpUsers {
			if got[name] != active {
				t.Errorf("corp's %s: active %v, was %v", name, got[name], active)
			}
		}
	}

	// corp's slapd stops: its part of the sync fails, ext's runs; ext's
	// users still sign in (corp has access.skip_unreachable).
	corp.Stop(t)
	r = c.run("", "sync", "--json")
	reps = decode[[]syncJSON](t, r)
	if r.code != 1 || len(reps) == 0 || reps[len(reps)-1].Directory != "ext" || reps[len(reps)-1].Aborted {
		t.Fatalf("sync with corp down: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	r = c.run("", "sync", "--directory", "ext", "--json")
	if reps = decode[[]syncJSON](t, r); r.code != 0 || len(reps) != 1 || reps[0].Directory != "ext" {
		t.Fatalf("sync --directory ext with corp down: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	r = c.run(slapdtest.ExBWaynePassword+"\n", "auth", "test", "bwayne", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Directory != "ext" {
		t.Fatalf("auth test bwayne with corp down: exit %d, %+v", r.code, got)
	}
	r = c.run("", "sync", "history", "--json", "--limit", "0")
	dirs := map[string]int{}
	for _, run := range decode[[]struct{ Directory, Outcome string }](t, r) {
		dirs[run.Directory+" "+run.Outcome]++
	}
	if dirs["ext ok"] != 4 || dirs["corp ok"] != 2 {
		t.Errorf("sync history by directory and outcome: %v", dirs)
	}
}

// TestSlapdAndSambaDirectories: an OpenLDAP directory and an Active
// Directory (Samba DC) in one deployment; the AD has a username suffix,
// so the alice of each is an account of its own.
func TestSlapdAndSambaDirectories(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dc := sambatest.Start(t)
	y := `
directories:
  - name: corp
    directory: {urls: [` + corp.URL + `], bind_dn: "uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com", bind_password: "` + slapdtest.JCServicePassword + `", flavor: openldap}
    users:
      search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", filter: "(uid={username})"}
  - name: ad
    directory:
      urls: [` + dc.LDAPSURL + `]
      tls: {ca_file: ` + dc.CAFile + `}
      bind_dn: "` + sambatest.ServiceDN + `"
      bind_password: "` + sambatest.ServicePassword + `"
    users:
      search: {base_dn: "` + sambatest.BaseDN + `", filter: "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"}
      username_suffix: "@ad"
sync: {max_removals: 50%}
store: {driver: sqlite, dsn: ` + filepath.Join(t.TempDir(), "lb.db") + `}
`
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, config: path}

	// nina@ad is in the AD only (corp has a nina of its own): she signs
	// in through the AD, as nina@ad.
	r := c.run(sambatest.NinaPassword+"\n", "auth", "test", "nina@ad", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Directory != "ad" || got.User == nil || got.User.Username != "nina@ad" {
		t.Fatalf("auth test nina: exit %d, %+v\n%s", r.code, got, r.stderr)
	}
	// alice is in both: corp's without the suffix, the AD's with it.
	r = c.run(slapdtest.JCAlicePassword+"\n", "auth", "test", "alice", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Directory != "corp" || got.User.Username != "alice" {
		t.Fatalf("auth test alice: exit %d, %+v", r.code, got)
	}
	r = c.run(sambatest.AlicePassword+"\n", "auth", "test", "alice@ad", "--json")
	if got := decode[loginJSON](t, r); r.code != 0 || got.Directory != "ad" || got.User.Username != "alice@ad" {
		t.Fatalf("auth test alice@ad: exit %d, %+v\n%s", r.code, got, r.stderr)
	}
	// The AD's password for corp's alice is corp's to refuse.
	r = c.run(sambatest.AlicePassword+"\n", "auth", "test", "alice", "--json")
	if got := decode[loginJSON](t, r); r.code != 1 || got.Outcome != "bad_credentials" || got.Directory != "corp" {
		t.Fatalf("auth test alice with the AD password: exit %d, %+v", r.code, got)
	}

	r = c.run("", "sync", "--json")
	reps := decode[[]syncJSON](t, r)
	if r.code != 0 || len(reps) != 2 || reps[0].Aborted || reps[1].Aborted {
		t.Fatalf("sync: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	r = c.run("", "users", "list", "--json", "--directory", "ad")
	names := map[string]bool{}
	for _, u := range decode[[]struct{ Username, Directory string }](t, r) {
		names[u.Username] = u.Directory == "ad"
	}
	if !names["nina@ad"] || !names["alice@ad"] || names["alice"] {
		t.Fatalf("ad's accounts after the sync: %v", names)
	}
}

// TestTwoDirectoriesCheckLabelsEachProblem: check runs for every
// directory and names the directory in each problem.
func TestTwoDirectoriesCheckLabelsEachProblem(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	corp.Apply(t, jdoeInCorpLDIF)
	c := twoDirectoriesCLI(t, corp, ext)
	type checkOut struct {
		OK       bool
		Warnings []string
		Flavor   string
		Servers  []struct{ URL string }
		Searches []struct{ Key string }
		Problems []string
	}
	r := c.run("", "check", "--json")
	rep := decode[checkOut](t, r)
	if r.code != 0 || !rep.OK || len(rep.Servers) != 2 || !strings.Contains(rep.Flavor, "corp=") || !strings.Contains(rep.Flavor, "ext=") {
		t.Fatalf("check: exit %d, %+v", r.code, rep)
	}
	seen := map[string]bool{}
	for _, s := range rep.Searches {
		seen[strings.SplitN(s.Key, ":", 2)[0]] = true
	}
	if !seen["corp"] || !seen["ext"] {
		t.Errorf("searches are not labelled by directory: %+v", rep.Searches)
	}
	if w := strings.Join(rep.Warnings, "\n"); !strings.Contains(w, "username jdoe is in the directories corp, ext") || strings.Contains(w, "username alice ") {
		t.Errorf("check's warnings do not list jdoe (and only names in both) as a conflict:\n%s", w)
	}

	raw, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(raw), `base_dn: "ou=people,dc=example,dc=com"`, `base_dn: "ou=nobody,dc=example,dc=com"`, 1)
	if err := os.WriteFile(c.config, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.run("", "check", "--json")
	rep = decode[checkOut](t, r)
	found := false
	for _, p := range rep.Problems {
		if strings.HasPrefix(p, "directory ext: ") && strings.Contains(p, "ou=nobody") {
			found = true
		}
		if strings.HasPrefix(p, "directory corp: ") {
			t.Errorf("a problem is labelled corp: %s", p)
		}
	}
	if r.code != 1 || !found {
		t.Fatalf("check with ext's base wrong: exit %d, problems %q", r.code, rep.Problems)
	}
}

// TestServeTwoDirectoriesReadyzMetricsAndAnOutage: serve signs users of
// both directories in; /readyz and /metrics show each directory; with
// corp's slapd stopped (corp has access.skip_unreachable) ext's users
// still sign in and /readyz says which directory is down.
func TestServeTwoDirectoriesReadyzMetricsAndAnOutage(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	c := twoDirectoriesCLI(t, corp, ext)
	raw, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.config, append(raw, "web: {listen: '127.0.0.1:0'}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	in := serveInProcess(t, c.config)
	base := in.base

	signIn(t, base, "jdoe", slapdtest.ExJDoePassword)
	signIn(t, base, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if code, b := body(base, "/readyz"); code != 200 || !strings.Contains(b, "directory corp: up") || !strings.Contains(b, "directory ext: up") {
		t.Fatalf("/readyz: %d %q", code, b)
	}
	_, m := body(base, "/metrics")
	for _, want := range []string{
		`ldapbridge_logins_total{directory="ext",outcome="ok"} 1`,
		`ldapbridge_logins_total{directory="corp",outcome="ok"} 1`,
		`ldapbridge_ldap_operations_total{directory="ext",op="check_password",result="ok",url="` + ext.URL + `"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	corp.Stop(t)
	signIn(t, base, "jdoe", slapdtest.ExJDoePassword)
	if !waitFor(30*time.Second, func() bool {
		code, b := body(base, "/readyz")
		return code == 200 && strings.Contains(b, "directory corp: down") && strings.Contains(b, "directory ext: up")
	}) {
		code, b := body(base, "/readyz")
		t.Fatalf("/readyz with corp down: %d %q", code, b)
	}
}

// twoStaffYAML: two classic slapds, a and b, each with its own cn=staff;
// b's usernames carry the suffix @b, so the jdoe and asmith of each are
// accounts of their own.
const twoStaffYAML = `
directories:
  - name: a
    directory: {urls: [A_URL], bind_dn: "cn=readonly,ou=services,dc=example,dc=com", bind_password: "PW", flavor: openldap}
    users:
      search: {base_dn: "ou=people,dc=example,dc=com", filter: "(uid={username})"}
      sync_filter: "(&(objectClass=inetOrgPerson)(!(uid=jsmith)))"
    groups: {type: group_of_names, search: {base_dn: "ou=groups,dc=example,dc=com", filter: "(&(objectClass=groupOfNames)(cn=staff))"}}
  - name: b
    directory: {urls: [B_URL], bind_dn: "cn=readonly,ou=services,dc=example,dc=com", bind_password: "PW", flavor: openldap}
    users:
      search: {base_dn: "ou=people,dc=example,dc=com", filter: "(uid={username})"}
      sync_filter: "(&(objectClass=inetOrgPerson)(!(uid=jsmith)))"
      username_suffix: "@b"
    groups: {type: group_of_names, search: {base_dn: "ou=groups,dc=example,dc=com", filter: "(&(objectClass=groupOfNames)(cn=staff))"}}
sync: {max_removals: 50%}
store: {driver: sqlite, dsn: DSN}
`

func staffLDIF(member string) string {
	return "dn: cn=staff,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: staff\nmember: " + member + "\n"
}

// TestTwoDirectoriesSameNamedGroupsStayApart: a and b both have a group
// cn=staff (same name, same DN); a's is stored as "staff", b's as
// "staff@b", and each directory's users are members of their own
// directory's group only, after logins and after syncs.
func TestTwoDirectoriesSameNamedGroupsStayApart(t *testing.T) {
	a := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	b := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	a.Apply(t, staffLDIF(slapdtest.ExJDoeDN))
	b.Apply(t, staffLDIF(slapdtest.ExASmithDN))
	y := strings.NewReplacer("A_URL", a.URL, "B_URL", b.URL, "PW", slapdtest.ExServicePassword,
		"DSN", filepath.Join(t.TempDir(), "lb.db")).Replace(twoStaffYAML)
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, config: path}

	groupsOf := func(name string) []string {
		t.Helper()
		r := c.run("", "users", "show", name, "--json")
		if r.code != 0 {
			t.Fatalf("users show %s: exit %d\n%s", name, r.code, r.stderr)
		}
		return decode[struct{ Groups []string }](t, r).Groups
	}
	want := func(stage string, wants map[string][]string) {
		t.Helper()
		for name, w := range wants {
			if got := groupsOf(name); strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("%s: %s's groups = %q, want %q", stage, name, got, w)
			}
		}
	}

	for _, login := range []struct{ name, pw, dir string }{
		{"jdoe", slapdtest.ExJDoePassword, "a"},
		{"asmith@b", slapdtest.ExASmithPassword, "b"},
		{"jdoe@b", slapdtest.ExJDoePassword, "b"},
	} {
		r := c.run(login.pw+"\n", "auth", "test", login.name, "--json")
		if got := decode[loginJSON](t, r); r.code != 0 || got.Outcome != "ok" || got.Directory != login.dir {
			t.Fatalf("auth test %s: exit %d, %+v\n%s", login.name, r.code, got, r.stderr)
		}
	}
	want("after the logins", map[string][]string{"jdoe": {"staff"}, "asmith@b": {"staff@b"}, "jdoe@b": nil})

	r := c.run("", "sync", "--json")
	if reps := decode[[]syncJSON](t, r); r.code != 0 || len(reps) != 2 {
		t.Fatalf("sync: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	want("after the sync", map[string][]string{"jdoe": {"staff"}, "asmith": nil, "asmith@b": {"staff@b"}, "jdoe@b": nil})

	r = c.run("", "groups", "list", "--json")
	groups := map[string]int{}
	for _, g := range decode[[]struct {
		Name    string
		Members int `json:"direct_members"`
	}](t, r) {
		groups[g.Name] = g.Members
	}
	if len(groups) != 2 || groups["staff"] != 1 || groups["staff@b"] != 1 {
		t.Errorf("groups list: %v, want staff and staff@b with one member each", groups)
	}

	// b's staff gains jdoe and a's loses jdoe: each sync changes its own
	// directory's group only.
	b.Apply(t, "dn: cn=staff,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\nmember: "+slapdtest.ExJDoeDN+"\n")
	a.Apply(t, "dn: cn=staff,ou=groups,dc=example,dc=com\nchangetype: modify\nreplace: member\nmember: "+slapdtest.ExASmithDN+"\n")
	r = c.run("", "sync", "--full", "--json")
	if reps := decode[[]syncJSON](t, r); r.code != 0 || len(reps) != 2 {
		t.Fatalf("second sync: exit %d, %+v\n%s", r.code, reps, r.stderr)
	}
	want("after the second sync", map[string][]string{"jdoe": nil, "asmith": {"staff"}, "asmith@b": {"staff@b"}, "jdoe@b": {"staff@b"}})
}

// TestUsersListHasNoDirectoryColumnWithOneDirectory: the single form's
// text list keeps its columns.
func TestUsersListHasNoDirectoryColumnWithOneDirectory(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, nil)
	if r := c.run(slapdtest.JCAlicePassword+"\n", "auth", "test", slapdtest.JCAliceUID); r.code != 0 {
		t.Fatalf("auth test alice: exit %d\n%s", r.code, r.stderr)
	}
	r := c.run("", "users", "list")
	header, rest, _ := strings.Cut(r.stdout, "\n")
	if r.code != 0 || strings.Join(strings.Fields(header), " ") != "USERNAME SOURCE NAME EMAIL ACTIVE STAFF SUPERUSER" ||
		!strings.HasPrefix(strings.Join(strings.Fields(rest), " "), slapdtest.JCAliceUID+" ldap ") {
		t.Errorf("users list with one directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestAdminSyncNowRecordsEveryDirectorysRun: the admin's "sync now" runs
// every directory, and the history the admin page reads names each run's
// directory, so the page can show them all.
func TestAdminSyncNowRecordsEveryDirectorysRun(t *testing.T) {
	corp := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	ext := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	c := twoDirectoriesCLI(t, corp, ext)
	g := &globals{configPath: c.config, logLevel: "info", stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	cfg, err := g.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.openAppWith(t.Context(), cfg, withDetect, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	job, err := newSyncJob(context.Background(), a, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(job.Close)
	var deps web.Deps
	job.webDeps(&deps)
	if err := deps.StartSync("carol"); err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	if !waitFor(30*time.Second, func() bool { return !deps.SyncRunning() }) {
		t.Fatal("the sync did not finish within 30s")
	}
	runs, err := deps.SyncHistory(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.Directory+" "+r.Outcome)
	}
	if strings.Join(got, ",") != "ext ok,corp ok" {
		t.Errorf("history after sync now: %q, want ext's and corp's runs, newest first", got)
	}
}
