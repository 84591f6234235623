package demodir

import "fmt"

// ConfigYAML returns an ldapbridge configuration for the demo directory at
// url: the tutorial JumpCloud setup (service account, uid search under
// ou=Users, groupOfNames with nesting, Django App required, flags from the
// active, staff and superuser groups) with the store at dsn.
func ConfigYAML(url, dsn string) []byte {
	return fmt.Appendf(nil, `directory:
  urls: [%q]
  flavor: jumpcloud
  bind_dn: %q
  bind_password: %q
users:
  search: {base_dn: %q, scope: sub, filter: "(&(objectClass=inetOrgPerson)(uid={username}))"}
  profile:
    middle_name: initials
    display_name: displayName
    title: title
    department: departmentNumber
    cost_center: businessCategory
    location: physicalDeliveryOfficeName
    employee_id: employeeNumber
    employee_type: employeeType
    company: o
    description: description
    phone: mobile
groups:
  search: {base_dn: %[4]q, scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
  nested: true
access:
  require: %q
  flags:
    is_active: %q
    is_staff: %q
    is_superuser: %q
sync:
  schedule: 1m
  max_removals: 50%%
store:
  driver: sqlite
  dsn: %q
`, url, ServiceDN, ServicePassword, UsersDN, GroupDjangoApp, GroupActive, GroupStaff, GroupSuperuser, dsn)
}
