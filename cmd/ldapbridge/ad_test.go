package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/membership"
)

func TestMain(m *testing.M) { sambatest.Main(m) }

// adCLI writes an Active Directory config (flavor auto, so the commands
// detect it) for the test DC, searching users and groups from the domain root.
func adCLI(t *testing.T, dc *sambatest.DC) cli {
	t.Helper()
	y := `
directory:
  urls: [` + dc.LDAPSURL + `]
  tls: {ca_file: ` + dc.CAFile + `}
  bind_dn: "` + sambatest.ServiceDN + `"
  bind_password: ${AD_BIND_PASSWORD}
users:
  search:
    base_dn: "` + sambatest.BaseDN + `"
    filter: "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))"
  attributes: {first_name: givenName, last_name: sn, email: mail}
groups:
  search: {base_dn: "` + sambatest.BaseDN + `", filter: "(objectClass=group)"}
  nested: true
access:
  require: "` + sambatest.GroupDN(sambatest.Level1Group) + `"
store: {driver: sqlite, dsn: ` + filepath.Join(t.TempDir(), "lb.db") + `}
`
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AD_BIND_PASSWORD", sambatest.ServicePassword)
	return cli{t: t, config: path}
}

func TestExplainThreeLevelNestedADUserShowsOneInChainQuery(t *testing.T) {
	c := adCLI(t, sambatest.Start(t))
	r := c.run("", "explain", sambatest.NinaSAM, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var ex struct {
		Found      bool     `json:"found"`
		GroupNames []string `json:"group_names"`
		Flavor     string   `json:"flavor"`
		Outcome    string   `json:"outcome"`
		AD         *struct {
			Domain       string `json:"domain"`
			Disabled     bool   `json:"disabled"`
			PrimaryGroup string `json:"primary_group"`
			InChainQuery string `json:"in_chain_query"`
		} `json:"active_directory"`
		Queries []struct {
			Filter  string `json:"filter"`
			Entries int    `json:"entries"`
		} `json:"queries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, g := range []string{sambatest.Level1Group, sambatest.Level2Group, sambatest.Level3Group} {
		if !slices.Contains(ex.GroupNames, g) {
			t.Errorf("group_names %v lack %s", ex.GroupNames, g)
		}
	}
	var inChain []string
	groupQueries := 0
	for _, q := range ex.Queries {
		if strings.Contains(q.Filter, "member:"+membership.InChainRule+":=") {
			inChain = append(inChain, q.Filter)
		}
		if strings.Contains(q.Filter, "objectClass=group") {
			groupQueries++
		}
	}
	// The in-chain search for nina, and one for the groups that contain
	// her primary group (Domain Users is in Builtin\Users), which the
	// rule does not follow and a sync does.
	if len(inChain) != 2 || groupQueries != 2 || !strings.Contains(inChain[1], ":="+sambatest.DomainUsersDN) {
		t.Fatalf("queries %+v: want two group searches, in-chain for nina and for her primary group", ex.Queries)
	}
	if ex.Outcome != "ok" || ex.Flavor != "active_directory" || ex.AD == nil || ex.AD.Domain != sambatest.DNSDomain ||
		ex.AD.Disabled || ex.AD.PrimaryGroup != sambatest.DomainUsersDN || ex.AD.InChainQuery != inChain[0] {
		t.Errorf("outcome %s flavor %s AD %+v", ex.Outcome, ex.Flavor, ex.AD)
	}

	text := c.run("", "explain", sambatest.DoraSAM)
	for _, want := range []string{"disabled:      yes (userAccountControl 514)", "in-chain:", "domain:        " + sambatest.DNSDomain + " (NetBIOS " + sambatest.NetBIOSDomain + ")"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("explain dora lacks %q:\n%s", want, text.stdout)
		}
	}
}

func TestCheckShowsADDomainAndLevel(t *testing.T) {
	c := adCLI(t, sambatest.Start(t))
	r := c.run("", "check", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Flavor  string `json:"flavor"`
		Servers []struct {
			Domain              string `json:"domain"`
			NetBIOSDomain       string `json:"netbios_domain"`
			DomainFunctionality string `json:"domain_functionality"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Servers[0]
	if rep.Flavor != "active_directory" || s.Domain != sambatest.DNSDomain || s.NetBIOSDomain != sambatest.NetBIOSDomain || !strings.HasPrefix(s.DomainFunctionality, "4 (") {
		t.Errorf("check: %s", r.stdout)
	}
	text := c.run("", "check")
	if !strings.Contains(text.stdout, "domain: "+sambatest.DNSDomain+" (NetBIOS "+sambatest.NetBIOSDomain+"); functional level: domain 4 (") {
		t.Errorf("check text lacks the domain line:\n%s", text.stdout)
	}
}

func TestAuthTestADReasonsAndSpellings(t *testing.T) {
	c := adCLI(t, sambatest.Start(t))
	tests := []struct {
		name, user, pw, outcome, reason string
	}{
		{"down-level name", sambatest.NetBIOSDomain + `\` + sambatest.NinaSAM, sambatest.NinaPassword, "ok", ""},
		{"userPrincipalName", sambatest.UPN(sambatest.NinaSAM), sambatest.NinaPassword, "ok", ""},
		{"disabled", sambatest.DoraSAM, sambatest.DoraPassword, "inactive", "account disabled (Active Directory bind error data 533)"},
		{"locked", sambatest.LarrySAM, sambatest.LarryPassword, "account_locked", "the account is locked out (Active Directory bind error data 775)"},
		{"must change", sambatest.MonaSAM, sambatest.MonaPassword, "must_change_password", "must be changed before signing in (Active Directory bind error data 773)"},
		{"account expired", sambatest.EdSAM, sambatest.EdPassword, "account_expired", "the account has expired (Active Directory bind error data 701)"},
		{"wrong password", sambatest.NinaSAM, "Wrong-Passw0rd!", "bad_credentials", "data 52e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.pw+"\n", "auth", "test", tc.user, "--json")
			var res struct{ Outcome, Reason string }
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
			}
			if res.Outcome != tc.outcome || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("outcome %s reason %q, want %s containing %q", res.Outcome, res.Reason, tc.outcome, tc.reason)
			}
		})
	}
}
