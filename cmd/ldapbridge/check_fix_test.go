package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// jcCheckYAML is a working configuration for the JumpCloud fixture over
// LDAPS, written here rather than taken from examples/ so that the edits
// of each case below are exact.
func jcCheckYAML(s *slapdtest.Server, db string) string {
	return `directory:
  urls: [` + s.LDAPSURL + `]
  tls: {ca_file: ` + s.CAFile + `}
  bind_dn: "` + slapdtest.JCServiceDN + `"
  bind_password: ${LDAP_BIND_PASSWORD}
  dial_timeout: 3s
  flavor: jumpcloud
users:
  search: {base_dn: "` + slapdtest.JCUsersDN + `", scope: sub, filter: "(uid={username})"}
groups:
  search: {base_dn: "` + slapdtest.JCUsersDN + `", filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  require: "` + slapdtest.JCDjangoAppGroupDN + `"
  flags:
    is_staff: "` + slapdtest.JCStaffGroupDN + `"
    is_superuser: "` + slapdtest.JCSuperuserGroupDN + `"
store: {driver: sqlite, dsn: "` + db + `"}
`
}

func writeCheckConfig(t *testing.T, y string) cli {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LDAP_BIND_PASSWORD", slapdtest.JCServicePassword)
	return cli{t: t, config: path}
}

// checkOnce runs check (text and JSON) and asserts the contract every case
// shares: the exit code, the number of problems, each problem printed once
// on standard output and nowhere else, standard error holding only the
// final line that counts them, and each wanted text in one problem line.
func checkOnce(t *testing.T, c cli, code, nProblems int, wants ...string) checkJSON {
	t.Helper()
	r := c.run("", "check")
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	wantErr := ""
	if nProblems > 0 {
		wantErr = fmt.Sprintf("ldapbridge: check found %d problem(s), listed above\n", nProblems)
	}
	if r.stderr != wantErr {
		t.Errorf("stderr %q, want only %q (each problem is printed once, on standard output)", r.stderr, wantErr)
	}
	jr := c.run("", "check", "--json")
	var rep checkJSON
	if err := json.Unmarshal([]byte(jr.stdout), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, jr.stdout)
	}
	if len(rep.Problems) != nProblems || rep.OK != (nProblems == 0) {
		t.Errorf("%d problems (ok %v), want %d, one per root cause:\n%s", len(rep.Problems), rep.OK, nProblems, strings.Join(rep.Problems, "\n"))
	}
	for _, p := range rep.Problems {
		if strings.Contains(p, "\n") {
			t.Errorf("a problem spans lines: %q", p)
		}
		if n := strings.Count(r.stdout, p); n != 1 {
			t.Errorf("problem printed %d times on standard output, want once: %q\n%s", n, p, r.stdout)
		}
	}
	for _, w := range wants {
		found := false
		for _, p := range rep.Problems {
			found = found || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("no problem line contains %q:\n%s", w, strings.Join(rep.Problems, "\n"))
		}
	}
	if strings.Contains(r.stdout+r.stderr+jr.stdout, slapdtest.JCServicePassword) {
		t.Error("check printed the bind password")
	}
	return rep
}

func TestCheckNamesEveryFix(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	tlsHost := strings.TrimPrefix(s.LDAPSURL, "ldaps://")
	plainHost := strings.TrimPrefix(s.URL, "ldap://")
	tests := []struct {
		name      string
		edit      func(string) string
		code, n   int
		wants     []string
		reachable bool
	}{
		{"a working config", nil, 0, 0, nil, true},
		{"ldap:// to the LDAPS port", func(y string) string { return strings.Replace(y, s.LDAPSURL, "ldap://"+tlsHost, 1) }, 1, 1,
			[]string{"directory.urls[0]: ldap://" + tlsHost + " answered with TLS — use ldaps://" + tlsHost}, true},
		{"ldaps:// to the plain port", func(y string) string { return strings.Replace(y, s.LDAPSURL, "ldaps://"+plainHost, 1) }, 1, 1,
			[]string{"directory.urls[0]: ldaps://" + plainHost + " answered plain LDAP, not TLS — use ldap://" + plainHost}, true},
		{"a CA that did not sign the server certificate", func(y string) string { return strings.Replace(y, s.CAFile, s.WrongCAFile, 1) }, 1, 1,
			[]string{"set directory.tls.ca_file to the CA that signed the server certificate", "the server presented: subject \"", "SANs localhost, 127.0.0.1, ::1, expires 20"}, true},
		{"a closed port", func(y string) string { return strings.Replace(y, s.LDAPSURL, "ldaps://127.0.0.1:1", 1) }, 1, 1,
			[]string{"directory.urls[0]: dial ldaps://127.0.0.1:1", "check directory.urls"}, false},
		{"a wrong bind password", func(y string) string {
			return strings.Replace(y, "${LDAP_BIND_PASSWORD}", "not-the-password", 1)
		}, 1, 1, []string{"check directory.bind_dn and directory.bind_password"}, true},
		{"a base DN that does not exist used by every search and group", func(y string) string {
			y = strings.ReplaceAll(y, "o="+slapdtest.JCOrgID+",", "o=acme9999,")
			return strings.Replace(y, `bind_dn: "uid=svc-ldapbridge,ou=Users,o=acme9999,`, `bind_dn: "uid=svc-ldapbridge,ou=Users,o=acme0001,`, 1)
		}, 1, 1, []string{
			`users.search.base_dn: "ou=Users,o=acme9999,dc=jumpcloud,dc=com" does not exist: the directory has no "o=acme9999,dc=jumpcloud,dc=com" (also under it: groups.search.base_dn, access.require, access.flags.is_staff, access.flags.is_superuser) — correct the DN`,
			"candidates are the server's naming contexts (dc=example,dc=com; dc=jumpcloud,dc=com) and the bind DN's suffix (" + slapdtest.JCUsersDN + ")",
		}, true},
		{"a base DN outside every naming context", func(y string) string {
			return strings.Replace(y, `search: {base_dn: "`+slapdtest.JCUsersDN+`", scope: sub`, `search: {base_dn: "ou=People,dc=acme,dc=test", scope: sub`, 1)
		}, 1, 1, []string{`users.search.base_dn: "ou=People,dc=acme,dc=test" does not exist: it is under none of the server's naming contexts — correct the DN; candidates are the server's naming contexts`}, true},
		{"a required group that does not exist", func(y string) string {
			return strings.Replace(y, `require: "cn=Django App,`, `require: "cn=Djngo App,`, 1)
		}, 1, 1, []string{`access.require: group "cn=Djngo App,` + slapdtest.JCUsersDN + `" does not exist in the directory — correct the DN`}, true},
		{"a user filter that matches nobody", func(y string) string {
			return strings.Replace(y, `filter: "(uid={username})"`, `filter: "(&(objectClass=posixGroup)(uid={username}))"`, 1)
		}, 1, 1, []string{"matches nobody", "check users.search.base_dn and users.search.filter"}, true},
		{"a user search that finds two entries for one username", func(y string) string {
			return strings.Replace(y, `search: {base_dn: "`+slapdtest.JCUsersDN+`", scope: sub, filter`, `search: {base_dn: "`+slapdtest.JCBaseDN+`", scope: sub, filter`, 1)
		}, 1, 1, []string{`"alice" matches uid=alice,ou=Users,o=acme0001,dc=jumpcloud,dc=com and uid=alice,ou=Users,o=other0002,dc=jumpcloud,dc=com`,
			"logins fail as ambiguous", "make each username match one entry"}, true},
		{"ORGID left from the JumpCloud example", func(y string) string {
			return strings.ReplaceAll(y, slapdtest.JCOrgID, "ORGID")
		}, 1, 1, []string{`directory.bind_dn, users.search.base_dn, groups.search.base_dn, access.require and 2 more: "ORGID" is a placeholder left from the example configuration — replace it with your JumpCloud organization ID`}, true},
		{"a CHANGE_ME password", func(y string) string {
			return strings.Replace(y, "${LDAP_BIND_PASSWORD}", "CHANGE_ME", 1)
		}, 1, 1, []string{`directory.bind_password: "CHANGE_ME" is a placeholder left from the example configuration — replace it with your own value`}, true},
		{"an example suffix the directory does not serve", func(y string) string {
			return strings.Replace(y, `search: {base_dn: "`+slapdtest.JCUsersDN+`", scope: sub`, `search: {base_dn: "OU=Staff,DC=corp,DC=example,DC=com", scope: sub`, 1)
		}, 1, 1, []string{`users.search.base_dn: "dc=corp,dc=example,dc=com" is a placeholder left from the example configuration — replace it with your directory's suffix`}, true},
		{"an example.com host", func(y string) string {
			return strings.Replace(y, s.LDAPSURL, "ldaps://ldap1.example.com:636", 1)
		}, 1, 1, []string{`directory.urls[0]: "ldap1.example.com" is a placeholder left from the example configuration — replace it with your own host or domain name`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := jcCheckYAML(s, filepath.Join(t.TempDir(), "lb.db"))
			if tt.edit != nil {
				y = tt.edit(y)
			}
			rep := checkOnce(t, writeCheckConfig(t, y), tt.code, tt.n, tt.wants...)
			if len(rep.Servers) != 1 || rep.Servers[0].Reachable != tt.reachable {
				t.Errorf("servers %+v, want reachable %v", rep.Servers, tt.reachable)
			}
		})
	}
}

// TestCheckLeavesAnExampleSuffixTheDirectoryServes: dc=example,dc=com is a
// placeholder only where the directory does not serve it; the Classic
// fixture does, and its two jsmith entries make that login ambiguous.
func TestCheckLeavesAnExampleSuffixTheDirectoryServes(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.Classic}})
	yaml := func(base string) string {
		return `directory:
  urls: [` + s.URL + `]
  bind_dn: "` + slapdtest.ExServiceDN + `"
  bind_password: ` + slapdtest.ExServicePassword + `
  flavor: openldap
users:
  search: {base_dn: "` + base + `", filter: "(uid={username})"}
store: {driver: sqlite, dsn: ` + filepath.Join(t.TempDir(), "lb.db") + `}
`
	}
	rep := checkOnce(t, writeCheckConfig(t, yaml(slapdtest.ExPeopleDN)), 0, 0)
	if len(rep.Warnings) == 0 {
		t.Errorf("the inline bind_password is not warned about: %+v", rep)
	}
	checkOnce(t, writeCheckConfig(t, yaml(slapdtest.ExBaseDN)), 1, 1,
		`users.search: 1 of `, `"jsmith" matches uid=jsmith,ou=partners,dc=example,dc=com and uid=jsmith,ou=people,dc=example,dc=com`)
}

// TestCheckStore: check opens the store without migrating it; a store it
// cannot open, or whose schema is newer than the binary, is a problem
// (exit 1); migrations still to apply are a warning naming `migrate`.
func TestCheckStore(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	latest := sqlite.LatestVersion()
	migrated := func(t *testing.T, c cli) {
		if r := c.run("", "migrate"); r.code != 0 {
			t.Fatalf("migrate: exit %d %s", r.code, r.stderr)
		}
	}
	setVersion := func(t *testing.T, db, stmt string) {
		h, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if _, err := h.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		store   func(t *testing.T, db string) string
		prepare func(t *testing.T, c cli, db string)
		code, n int
		wants   []string
		warning string
		version int
	}{
		{"a migrated SQLite store", nil, migrated0(migrated), 0, 0, nil, "", latest},
		{"a SQLite store one migration behind", nil, func(t *testing.T, c cli, db string) {
			migrated(t, c)
			setVersion(t, db, "DELETE FROM schema_migrations WHERE version = "+strconv.Itoa(latest))
		}, 0, 0, nil, fmt.Sprintf("store: schema version %d, 1 migration(s) to apply — run `ldapbridge migrate`", latest-1), latest - 1},
		{"a SQLite store migrated by a newer ldapbridge", nil, func(t *testing.T, c cli, db string) {
			migrated(t, c)
			setVersion(t, db, fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'future', 0)", latest+1))
		}, 1, 1, []string{fmt.Sprintf("has schema version %d but this ldapbridge knows only up to %d", latest+1, latest)}, "", 0},
		{"a SQLite file in a directory that does not exist", func(t *testing.T, db string) string {
			return "{driver: sqlite, dsn: " + filepath.Join(filepath.Dir(db), "missing", "lb.db") + "}"
		}, nil, 1, 1, []string{"does not exist and cannot be created", "make it writable by this user"}, "", 0},
		{"a PostgreSQL server that does not answer", func(*testing.T, string) string {
			return "{driver: postgres, dsn: \"postgres://ldapbridge:pw-never-printed@127.0.0.1:1/ldapbridge\"}"
		}, nil, 1, 1, []string{"store.dsn: connect to postgres at 127.0.0.1:1", "is PostgreSQL running?"}, "", 0},
		{"a PostgreSQL host left from the example", func(*testing.T, string) string {
			return "{driver: postgres, dsn: \"postgres://ldapbridge:CHANGE_ME@db.example.com:1/ldapbridge?connect_timeout=2\"}"
		}, nil, 1, 2, []string{`store.dsn: "CHANGE_ME" is a placeholder`, `store.dsn: "db.example.com" is a placeholder left from the example configuration — replace it with your own host or domain name`}, "", 0},
		{"a PostgreSQL database never migrated", func(t *testing.T, _ string) string {
			return "{driver: postgres, dsn: \"" + pgtest.New(t) + "\"}"
		}, nil, 0, 0, nil, fmt.Sprintf("store: schema version 0, %d migration(s) to apply", postgres.LatestVersion()), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "lb.db")
			y := jcCheckYAML(s, db)
			if tt.store != nil {
				y = regexp.MustCompile(`store: .*\n`).ReplaceAllLiteralString(y, "store: "+tt.store(t, db)+"\n")
			}
			c := writeCheckConfig(t, y)
			if tt.prepare != nil {
				tt.prepare(t, c, db)
			}
			rep := checkOnce(t, c, tt.code, tt.n, tt.wants...)
			if rep.Store.Version != tt.version {
				t.Errorf("store report %+v, want version %d", rep.Store, tt.version)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(rep.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings %q lack %q", rep.Warnings, tt.warning)
			}
			if strings.Contains(strings.Join(rep.Problems, "")+strings.Join(rep.Warnings, ""), "pw-never-printed") {
				t.Error("check printed the store password")
			}
		})
	}
}

func migrated0(f func(*testing.T, cli)) func(*testing.T, cli, string) {
	return func(t *testing.T, c cli, _ string) { f(t, c) }
}

// TestCheckWarnsWhenMaxConnectionsExceedsTheOpenFileLimit: the warning
// names both numbers and both fixes; at the limit there is none.
func TestCheckWarnsWhenMaxConnectionsExceedsTheOpenFileLimit(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max  uint64
		warn bool
	}{{rl.Cur, false}, {rl.Cur + 1, true}} {
		y := jcCheckYAML(s, filepath.Join(t.TempDir(), "lb.db")) + fmt.Sprintf("web: {max_connections: %d}\n", tt.max)
		rep := checkOnce(t, writeCheckConfig(t, y), 0, 0)
		want := fmt.Sprintf("web.max_connections: %d is above this process's open-file limit of %d (RLIMIT_NOFILE) — raise the limit (ulimit -n", tt.max, rl.Cur)
		got := strings.Contains(strings.Join(rep.Warnings, "\n"), want)
		if got != tt.warn || tt.warn && !strings.Contains(strings.Join(rep.Warnings, "\n"), "LimitNOFILE=") {
			t.Errorf("max_connections %d, limit %d: warnings %q; want warning %v", tt.max, rl.Cur, rep.Warnings, tt.warn)
		}
	}
}

// TestAuthTestPrintsADirectoryProblemOnce: a login that fails on the
// directory prints the reason, with its fix, once on standard output;
// standard error holds only the final line, unless --log-level asks for
// the log records.
func TestAuthTestPrintsADirectoryProblemOnce(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	tlsHost := strings.TrimPrefix(s.LDAPSURL, "ldaps://")
	tests := []struct {
		name, url, password, fix string
	}{
		{"ldap:// to the LDAPS port", "ldap://" + tlsHost, slapdtest.JCServicePassword, "answered with TLS — use ldaps://" + tlsHost},
		{"a wrong service password", s.LDAPSURL, "not-the-password", "check directory.bind_dn and directory.bind_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(jcCheckYAML(s, filepath.Join(t.TempDir(), "lb.db")), s.LDAPSURL, tt.url, 1)
			c := writeCheckConfig(t, y)
			t.Setenv("LDAP_BIND_PASSWORD", tt.password)
			r := c.run(slapdtest.JCAlicePassword+"\n", "auth", "test", slapdtest.JCAliceUID)
			if r.code != 1 || strings.Count(r.stdout, tt.fix) != 1 || !strings.Contains(r.stdout, "ldap_error") {
				t.Errorf("exit %d, want 1 and the fix %q once on standard output:\n%s", r.code, tt.fix, r.stdout)
			}
			if want := "ldapbridge: login refused: ldap_error\n"; r.stderr != want {
				t.Errorf("stderr %q, want only %q", r.stderr, want)
			}
			r = c.run(slapdtest.JCAlicePassword+"\n", "auth", "test", slapdtest.JCAliceUID, "--log-level", "error")
			if !strings.Contains(r.stderr, "level=ERROR") {
				t.Errorf("--log-level error: no log record on standard error: %q", r.stderr)
			}
		})
	}
}

// TestEveryExampleHasAPlaceholderCheckFinds: each examples/*.yaml, as
// shipped, holds a value check reports as a placeholder, so a copy used
// without filling it in does not pass check. It matches the patterns, not
// the files' exact text.
func TestEveryExampleHasAPlaceholderCheckFinds(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, line := range strings.Split(string(raw), "\n") {
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i] // comments are not values
			}
			for _, p := range placeholders {
				found = append(found, p.re.FindAllString(line, -1)...)
			}
		}
		if len(found) == 0 {
			t.Errorf("%s: no placeholder found; check would pass the example as it stands", f)
		}
	}
}

// TestCheckPrintsNoPartOfASecretThatLooksLikeAPlaceholder: a password is a
// placeholder only when all of it is one; a real password holding
// placeholder-like text is neither reported nor printed.
func TestCheckPrintsNoPartOfASecretThatLooksLikeAPlaceholder(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	const pw = "s3cret-<Dog> YOUR_PET-CHANGEME"
	c := writeCheckConfig(t, jcCheckYAML(s, filepath.Join(t.TempDir(), "lb.db")))
	t.Setenv("LDAP_BIND_PASSWORD", pw)
	checkOnce(t, c, 1, 1, "check directory.bind_dn and directory.bind_password")
	r := c.run("", "check")
	for _, part := range []string{"<Dog>", "YOUR_PET", "CHANGEME", pw} {
		if strings.Contains(r.stdout+r.stderr, part) {
			t.Errorf("check printed %q of the password:\n%s%s", part, r.stdout, r.stderr)
		}
	}
}
