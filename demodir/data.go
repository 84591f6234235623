package demodir

import (
	"fmt"
	"strconv"
	"time"
)

// The demo organisation, shaped like JumpCloud's LDAP-as-a-Service: people
// and groupOfNames groups side by side in ou=Users under the organisation.
const (
	// SuffixDN is the server's naming context.
	SuffixDN = "dc=jumpcloud,dc=com"
	// OrgDN is the demo organisation.
	OrgDN = "o=demo0001," + SuffixDN
	// UsersDN holds every person and group.
	UsersDN = "ou=Users," + OrgDN

	// ServiceUsername is the bind service account; it belongs to no group.
	ServiceUsername = "ldapbridge-svc"
	// ServiceDN is the bind DN of the service account.
	ServiceDN = "uid=" + ServiceUsername + "," + UsersDN
	// ServicePassword is the service account's password (a demo value).
	ServicePassword = "demo-service-password"

	// GroupDjangoApp lists everyone allowed to log in to the app.
	GroupDjangoApp = "cn=Django App," + UsersDN
	// GroupActive lists the active accounts.
	GroupActive = "cn=active," + UsersDN
	// GroupStaff lists the staff accounts.
	GroupStaff = "cn=staff," + UsersDN
	// GroupSuperuser lists the superusers.
	GroupSuperuser = "cn=superuser," + UsersDN
	// GroupEngineering has one person and GroupBackend as members.
	GroupEngineering = "cn=Engineering," + UsersDN
	// GroupBackend is nested inside GroupEngineering.
	GroupBackend = "cn=Backend," + UsersDN

	// VendorName is what the root DSE publishes as vendorName.
	VendorName = "ldapbridge demodir"
)

// Login is a demo account that can sign in, with its password and what the
// default JumpCloud-style access rules make of it.
type Login struct {
	Username string
	Password string
	// Roles is a short description, e.g. "staff, superuser", "regular user",
	// "inactive" or "not in Django App".
	Roles string
	DN    string
}

// person is one demo user. Password is "demo-" + uid. The profile
// attributes are those JumpCloud publishes (examples/jumpcloud.yaml maps
// them): middle initial, office location, employee type and a description.
type person struct {
	uid, given, sn, title, dept, phone string
	photo                              bool
	roles                              string
	initials, office, empType, desc    string
}

// Company is every demo person's organization name (the o attribute).
const Company = "Demo Corp"

// costCenters maps a department to its cost center (businessCategory).
var costCenters = map[string]string{
	"Management": "CC-100", "Operations": "CC-200", "Engineering": "CC-300",
	"Sales": "CC-400", "Product": "CC-500", "Support": "CC-600", "Finance": "CC-700",
}

// people are listed in the order Logins reports them.
var people = []person{
	{"asmith", "Alice", "Smith", "CTO", "Management", "+1 555 0101", true, "staff, superuser", "J.", "London", "Full-time", "Runs engineering and the platform roadmap"},
	{"bjones", "Bob", "Jones", "Operations Manager", "Operations", "+1 555 0102", true, "staff", "K.", "New York", "Full-time", "Keeps the offices and the on-call rota running"},
	{"jdoe", "John", "Doe", "Backend Engineer", "Engineering", "+1 555 0103", true, "regular user", "Q.", "Berlin", "Full-time", "Works on the billing API"},
	{"fgarcia", "Frank", "Garcia", "Former Contractor", "Engineering", "+1 555 0104", true, "inactive", "M.", "Remote", "Contractor", "Contract ended; account kept for the records"},
	{"gmartin", "Grace", "Martin", "Sales Lead", "Sales", "+1 555 0105", true, "not in Django App", "L.", "New York", "Full-time", "Leads the enterprise sales team"},
	{"cbrown", "Carol", "Brown", "Engineering Manager", "Engineering", "+1 555 0106", true, "regular user", "A.", "London", "Full-time", "Manages the backend and data teams"},
	{"dlee", "David", "Lee", "Backend Engineer", "Engineering", "+1 555 0107", true, "regular user", "S.", "Berlin", "Full-time", "Works on search and the sync pipeline"},
	{"ewilson", "Emma", "Wilson", "Designer", "Product", "+1 555 0108", true, "regular user", "R.", "London", "Part-time", "Designs the web app and the admin pages"},
	{"hnguyen", "Hana", "Nguyen", "Support Engineer", "Support", "+1 555 0109", true, "regular user", "T.", "Remote", "Full-time", "Answers customer tickets, second line"},
	{"ikim", "Ivan", "Kim", "Accountant", "Finance", "+1 555 0110", true, "regular user", "D.", "New York", "Full-time", "Closes the books every month"},
	{"jmuller", "Jürgen", "Müller", "Data Analyst", "Finance", "+49 30 5550111", false, "regular user", "F.", "Berlin", "Intern", "Builds the finance dashboards"},
	{"kpatel", "Kavya", "Patel", "Product Manager", "Product", "+1 555 0112", false, "regular user", "N.", "London", "Full-time", "Owns the mobile product"},
}

// groups maps each group DN to its member DNs (people by uid, or group DNs).
var groups = []struct {
	dn      string
	members []string
}{
	{GroupDjangoApp, []string{"asmith", "bjones", "jdoe", "fgarcia", "cbrown", "dlee", "ewilson", "hnguyen", "ikim", "jmuller", "kpatel"}},
	{GroupActive, []string{"asmith", "bjones", "jdoe", "gmartin", "cbrown", "dlee", "ewilson", "hnguyen", "ikim", "jmuller", "kpatel"}},
	{GroupStaff, []string{"asmith", "bjones"}},
	{GroupSuperuser, []string{"asmith"}},
	{GroupEngineering, []string{"cbrown", GroupBackend}},
	{GroupBackend, []string{"jdoe", "dlee"}},
}

// UserDN returns the DN of the demo user uid.
func UserDN(uid string) string { return "uid=" + uid + "," + UsersDN }

// DemoPassword returns the password of the demo user uid.
func DemoPassword(uid string) string { return "demo-" + uid }

// Logins lists every demo person with a password, the notable roles first.
func Logins() []Login {
	out := make([]Login, len(people))
	for i, p := range people {
		out[i] = Login{Username: p.uid, Password: DemoPassword(p.uid), Roles: p.roles, DN: UserDN(p.uid)}
	}
	return out
}

// seedTime is when the demo organisation was "created"; entries get
// deterministic timestamps after it.
var seedTime = time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)

func newDemoTree() (*tree, error) {
	t := newTree()
	at := seedTime
	add := func(dn string, attrs map[string][]string, password string, photo []byte) error {
		at = at.Add(time.Hour)
		r, err := newRecord(dn, attrs, password, at, deterministicUUID(dn))
		if err != nil {
			return err
		}
		if photo != nil {
			r.setRaw("jpegPhoto", [][]byte{photo})
		}
		return t.insert(r)
	}
	containers := []struct {
		dn    string
		attrs map[string][]string
	}{
		{SuffixDN, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"jumpcloud"}, "o": {"JumpCloud"}}},
		{OrgDN, map[string][]string{"objectClass": {"top", "organization"}, "o": {"demo0001"}, "description": {"ldapbridge demo organisation"}}},
		{UsersDN, map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {"Users"}}},
	}
	for _, c := range containers {
		if err := add(c.dn, c.attrs, "", nil); err != nil {
			return nil, err
		}
	}
	svc := map[string][]string{
		"objectClass": personClasses, "uid": {ServiceUsername}, "cn": {"ldapbridge service"},
		"sn": {"service"}, "givenName": {"ldapbridge"}, "displayName": {"ldapbridge service account"},
		"uidNumber": {"5100"}, "gidNumber": {"5100"}, "homeDirectory": {"/home/" + ServiceUsername},
	}
	if err := add(ServiceDN, svc, ServicePassword, nil); err != nil {
		return nil, err
	}
	for i, p := range people {
		var photo []byte
		if p.photo {
			var err error
			if photo, err = avatar(i); err != nil {
				return nil, fmt.Errorf("avatar for %s: %w", p.uid, err)
			}
		}
		if err := add(UserDN(p.uid), personAttrs(i, p), DemoPassword(p.uid), photo); err != nil {
			return nil, err
		}
	}
	for _, g := range groups {
		members := make([]string, len(g.members))
		for i, m := range g.members {
			members[i] = m
			if !isDN(m) {
				members[i] = UserDN(m)
			}
		}
		attrs := map[string][]string{"objectClass": {"top", "groupOfNames"}, "cn": {firstRDNValue(g.dn)}, "member": members}
		if err := add(g.dn, attrs, "", nil); err != nil {
			return nil, err
		}
	}
	return t, nil
}

var personClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount"}

func personAttrs(i int, p person) map[string][]string {
	n := strconv.Itoa(5001 + i)
	return map[string][]string{
		"objectClass":                personClasses,
		"uid":                        {p.uid},
		"cn":                         {p.given + " " + p.sn},
		"givenName":                  {p.given},
		"sn":                         {p.sn},
		"displayName":                {p.given + " " + p.sn},
		"mail":                       {p.uid + "@demo.example.com"},
		"title":                      {p.title},
		"departmentNumber":           {p.dept},
		"telephoneNumber":            {p.phone},
		"mobile":                     {fmt.Sprintf("+1 555 02%02d", i+1)},
		"employeeNumber":             {fmt.Sprintf("E%04d", 1001+i)},
		"initials":                   {p.initials},
		"businessCategory":           {costCenters[p.dept]},
		"physicalDeliveryOfficeName": {p.office},
		"employeeType":               {p.empType},
		"o":                          {Company},
		"description":                {p.desc},
		"uidNumber":                  {n},
		"gidNumber":                  {n},
		"homeDirectory":              {"/home/" + p.uid},
		"loginShell":                 {"/bin/bash"},
	}
}
