package slapdtest

// Fixture trees loaded by Start (Options.Fixtures) with ldapmodify as the
// rootdn, so memberOf is computed on every groupOfNames member.
//
// JumpCloud fixture (JumpCloud) under dc=jumpcloud,dc=com, org o=acme0001.
// Users and groupOfNames groups both live in JCUsersDN; posixGroups are
// separate entries in JCGroupsDN with memberUid values.
//
//	user (uid)       password                 groupOfNames groups                 for
//	svc-ldapbridge   JCServicePassword        none                                bind service account
//	alice            JCAlicePassword          Django App, active                  regular user; two mail values
//	bob              JCBobPassword            Django App, active, staff, eng.     staff flag; direct member of engineering
//	carol            JCCarolPassword          Django App, active, staff, superuser superuser flag
//	dave             JCDavePassword           Django App, active                  jpegPhoto (JCDavePhoto)
//	erin             JCErinPassword           active                              outside Django App (require fails)
//	frank            JCFrankPassword          Django App                          in the app but not active
//	grace            JCGracePassword          none                                in no group at all
//	josé             JCJosePassword           Django App, active                  non-ASCII uid
//	mallory          JCMalloryPassword        Django App, active, contractors     deny group
//	nina             JCNinaPassword           backend (backend ⊂ engineering)     reached only through nesting
//
// posixGroups: JCDjangoAppPosixDN (gid 5001, memberUid of Django App's users
// except josé: memberUid is IA5String, so a non-ASCII uid cannot be listed)
// and JCStaffPosixDN (gid 5002: bob, carol). Every acme user has gidNumber 5000.
// A second org o=other0002 holds JCOtherAliceDN, uid "alice" too but another
// person (JCOtherAlicePassword), member of that org's own cn=Django App.
//
// Classic fixture (Classic) under dc=example,dc=com: people in ExPeopleDN and
// ExPartnersDN, groups of every type in ExGroupsDN, a service account in
// ExServicesDN.
//
//	user (uid)          DN                 password             groups                                 for
//	readonly (cn)       ExServiceDN        ExServicePassword    none                                   read-only bind account
//	jdoe                ExJDoeDN           ExJDoePassword       developers, admins (unique), unix      typical user; owner of owners;
//	                                                            (memberUid), managers (role), cycle-a   occupant of managers
//	asmith              ExASmithDN         ExASmithPassword     developers, unix, cycle-b, Sales EMEA   owner of owners
//	bwayne              ExBWayneDN         ExBWaynePassword     managers (role); gidNumber 6000 = unix  primary-group membership only
//	nopass              ExNoPassDN         (none)               developers                             user without userPassword
//	jsmith (people)     ExJSmithPeopleDN   ExJSmithPeoplePassword   owners (member)                    ambiguous uid, first OU
//	jsmith (partners)   ExJSmithPartnersDN ExJSmithPartnersPassword Sales EMEA                         ambiguous uid, second OU
//	pvendor             ExPVendorDN        ExPVendorPassword    admins (unique), Sales EMEA             partner-only user
//
// Groups: ExDevelopersDN groupOfNames; ExAdminsDN groupOfUniqueNames;
// ExUnixDN posixGroup gid 6000 (memberUid jdoe, asmith; bwayne only by
// gidNumber); ExOwnersDN groupOfNames whose member is jsmith (people) but whose
// owner values are jdoe and asmith; ExManagersDN organizationalRole
// (roleOccupant jdoe, bwayne); ExCycleADN ∋ ExCycleBDN ∋ ExCycleCDN ∋ ExCycleADN
// (a nesting cycle; A also holds jdoe, B holds asmith); ExSalesEMEADN has an
// escaped comma in its RDN.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"unicode/utf8"
)

// JumpCloud fixture DNs and passwords.
const (
	JCOrgID    = "acme0001"
	JCOrgDN    = "o=" + JCOrgID + "," + JCBaseDN
	JCUsersDN  = "ou=Users," + JCOrgDN
	JCGroupsDN = "ou=Groups," + JCOrgDN

	JCServiceUID      = "svc-ldapbridge"
	JCServiceDN       = "uid=" + JCServiceUID + "," + JCUsersDN
	JCServicePassword = "svc-Bridge-7q2"

	JCAliceUID      = "alice"
	JCAliceDN       = "uid=alice," + JCUsersDN
	JCAlicePassword = "alice-Pw-1"
	JCAliceMail     = "alice@acme.example"
	JCAliceMail2    = "alice.liddell@acme.example"

	JCBobUID      = "bob"
	JCBobDN       = "uid=bob," + JCUsersDN
	JCBobPassword = "bob-Pw-2"

	JCCarolUID      = "carol"
	JCCarolDN       = "uid=carol," + JCUsersDN
	JCCarolPassword = "carol-Pw-3"

	JCDaveUID      = "dave"
	JCDaveDN       = "uid=dave," + JCUsersDN
	JCDavePassword = "dave-Pw-4"

	JCErinUID      = "erin"
	JCErinDN       = "uid=erin," + JCUsersDN
	JCErinPassword = "erin-Pw-5"

	JCFrankUID      = "frank"
	JCFrankDN       = "uid=frank," + JCUsersDN
	JCFrankPassword = "frank-Pw-6"

	JCGraceUID      = "grace"
	JCGraceDN       = "uid=grace," + JCUsersDN
	JCGracePassword = "grace-Pw-7"

	JCJoseUID      = "josé"
	JCJoseDN       = "uid=josé," + JCUsersDN
	JCJosePassword = "jose-Pw-8"

	JCMalloryUID      = "mallory"
	JCMalloryDN       = "uid=mallory," + JCUsersDN
	JCMalloryPassword = "mallory-Pw-9"

	JCNinaUID      = "nina"
	JCNinaDN       = "uid=nina," + JCUsersDN
	JCNinaPassword = "nina-Pw-10"

	JCDjangoAppGroupDN   = "cn=Django App," + JCUsersDN
	JCActiveGroupDN      = "cn=active," + JCUsersDN
	JCStaffGroupDN       = "cn=staff," + JCUsersDN
	JCSuperuserGroupDN   = "cn=superuser," + JCUsersDN
	JCContractorsGroupDN = "cn=contractors," + JCUsersDN
	JCEngineeringGroupDN = "cn=engineering," + JCUsersDN
	JCBackendGroupDN     = "cn=backend," + JCUsersDN

	JCDjangoAppPosixDN = "cn=Django App," + JCGroupsDN
	JCStaffPosixDN     = "cn=staff," + JCGroupsDN

	JCOtherOrgDN         = "o=other0002," + JCBaseDN
	JCOtherUsersDN       = "ou=Users," + JCOtherOrgDN
	JCOtherAliceDN       = "uid=alice," + JCOtherUsersDN
	JCOtherAlicePassword = "other-Alice-11"
	JCOtherDjangoAppDN   = "cn=Django App," + JCOtherUsersDN
)

// Classic fixture DNs and passwords.
const (
	ExPeopleDN   = "ou=people," + ExBaseDN
	ExPartnersDN = "ou=partners," + ExBaseDN
	ExGroupsDN   = "ou=groups," + ExBaseDN
	ExServicesDN = "ou=services," + ExBaseDN

	ExServiceDN       = "cn=readonly," + ExServicesDN
	ExServicePassword = "readonly-Ex-1"

	ExJDoeDN       = "uid=jdoe," + ExPeopleDN
	ExJDoePassword = "jdoe-Ex-2"

	ExASmithDN       = "uid=asmith," + ExPeopleDN
	ExASmithPassword = "asmith-Ex-3"

	ExBWayneDN       = "uid=bwayne," + ExPeopleDN
	ExBWaynePassword = "bwayne-Ex-4"

	ExNoPassDN = "uid=nopass," + ExPeopleDN

	ExJSmithUID              = "jsmith"
	ExJSmithPeopleDN         = "uid=jsmith," + ExPeopleDN
	ExJSmithPeoplePassword   = "jsmith-People-5"
	ExJSmithPartnersDN       = "uid=jsmith," + ExPartnersDN
	ExJSmithPartnersPassword = "jsmith-Partners-6"

	ExPVendorDN       = "uid=pvendor," + ExPartnersDN
	ExPVendorPassword = "pvendor-Ex-7"

	ExDevelopersDN = "cn=developers," + ExGroupsDN
	ExAdminsDN     = "cn=admins," + ExGroupsDN
	ExUnixDN       = "cn=unix," + ExGroupsDN
	ExUnixGID      = 6000
	ExOwnersDN     = "cn=owners," + ExGroupsDN
	ExManagersDN   = "cn=managers," + ExGroupsDN
	ExCycleADN     = "cn=cycle-a," + ExGroupsDN
	ExCycleBDN     = "cn=cycle-b," + ExGroupsDN
	ExCycleCDN     = "cn=cycle-c," + ExGroupsDN
	ExSalesEMEADN  = `cn=Sales\, EMEA,` + ExGroupsDN
)

// JCDavePhoto is the JPEG stored in dave's jpegPhoto.
var JCDavePhoto = smallJPEG()

// fixtures maps fixture names to their suffix and the LDIF below the suffix
// entry (which Start omits when a Bulk file already created it).
var fixtures = map[string]struct {
	suffix string
	body   func() string
}{
	JumpCloud: {JCBaseDN, jumpCloudBody},
	Classic:   {ExBaseDN, classicBody},
}

// suffixEntry returns the LDIF of the dcObject at the top of a served suffix.
func suffixEntry(suffix string) string {
	b := &ldifBuilder{}
	dc := strings.TrimPrefix(strings.Split(suffix, ",")[0], "dc=")
	b.entry(suffix, "objectClass", "dcObject", "objectClass", "organization", "dc", dc, "o", dc)
	return b.String()
}

// jcUser describes one JumpCloud-shaped user.
type jcUser struct {
	uid, given, sn, password, title, dept string
	number                                int
	extra                                 []string
}

// JumpCloudLDIF returns the LDIF of the JumpCloud fixture.
func JumpCloudLDIF() string { return suffixEntry(JCBaseDN) + jumpCloudBody() }

func jumpCloudBody() string {
	b := &ldifBuilder{}
	b.entry(JCOrgDN, "objectClass", "organization", "o", JCOrgID)
	b.entry(JCUsersDN, "objectClass", "organizationalUnit", "ou", "Users")
	b.entry(JCGroupsDN, "objectClass", "organizationalUnit", "ou", "Groups")
	b.entry(JCServiceDN, "objectClass", "inetOrgPerson", "uid", JCServiceUID, "cn", "LDAP bridge service",
		"sn", "service", "userPassword", JCServicePassword)
	users := []jcUser{
		{JCAliceUID, "Alice", "Liddell", JCAlicePassword, "Engineer", "R&D", 1, []string{"mail", JCAliceMail2}},
		{JCBobUID, "Bob", "Builder", JCBobPassword, "Team Lead", "R&D", 2, nil},
		{JCCarolUID, "Carol", "Danvers", JCCarolPassword, "CTO", "Exec", 3, nil},
		{JCDaveUID, "Dave", "Lister", JCDavePassword, "Designer", "Design", 4, []string{"jpegPhoto", string(JCDavePhoto)}},
		{JCErinUID, "Erin", "Brockovich", JCErinPassword, "Analyst", "Legal", 5, nil},
		{JCFrankUID, "Frank", "Castle", JCFrankPassword, "Security", "Ops", 6, nil},
		{JCGraceUID, "Grace", "Hopper", JCGracePassword, "Scientist", "Research", 7, nil},
		{JCJoseUID, "José", "Núñez", JCJosePassword, "Ingeniero", "R&D", 8, nil},
		{JCMalloryUID, "Mallory", "Knox", JCMalloryPassword, "Contractor", "External", 9, nil},
		{JCNinaUID, "Nina", "Simone", JCNinaPassword, "Backend Engineer", "R&D", 10, nil},
	}
	for _, u := range users {
		b.jcUser(JCUsersDN, u)
	}
	b.groupOfNames(JCDjangoAppGroupDN, "member", JCAliceDN, JCBobDN, JCCarolDN, JCDaveDN, JCFrankDN, JCJoseDN, JCMalloryDN)
	b.groupOfNames(JCActiveGroupDN, "member", JCAliceDN, JCBobDN, JCCarolDN, JCDaveDN, JCErinDN, JCJoseDN, JCMalloryDN)
	b.groupOfNames(JCStaffGroupDN, "member", JCBobDN, JCCarolDN)
	b.groupOfNames(JCSuperuserGroupDN, "member", JCCarolDN)
	b.groupOfNames(JCContractorsGroupDN, "member", JCMalloryDN)
	b.groupOfNames(JCBackendGroupDN, "member", JCNinaDN)
	b.groupOfNames(JCEngineeringGroupDN, "member", JCBackendGroupDN, JCBobDN)
	b.entry(JCDjangoAppPosixDN, "objectClass", "posixGroup", "cn", "Django App", "gidNumber", "5001",
		"memberUid", JCAliceUID, "memberUid", JCBobUID, "memberUid", JCCarolUID, "memberUid", JCDaveUID,
		"memberUid", JCFrankUID, "memberUid", JCMalloryUID)
	b.entry(JCStaffPosixDN, "objectClass", "posixGroup", "cn", "staff", "gidNumber", "5002",
		"memberUid", JCBobUID, "memberUid", JCCarolUID)

	b.entry(JCOtherOrgDN, "objectClass", "organization", "o", "other0002")
	b.entry(JCOtherUsersDN, "objectClass", "organizationalUnit", "ou", "Users")
	b.jcUser(JCOtherUsersDN, jcUser{"alice", "Alice", "Other", JCOtherAlicePassword, "Accountant", "Finance", 501, nil})
	b.groupOfNames(JCOtherDjangoAppDN, "member", JCOtherAliceDN)
	return b.String()
}

func (b *ldifBuilder) jcUser(usersDN string, u jcUser) {
	n := fmt.Sprint(10000 + u.number)
	mail := asciiLocal(u.uid) + "@acme.example"
	if u.uid == JCAliceUID && usersDN == JCUsersDN {
		mail = JCAliceMail
	}
	attrs := []string{
		"objectClass", "inetOrgPerson", "objectClass", "posixAccount", "objectClass", "shadowAccount",
		"uid", u.uid, "cn", u.given + " " + u.sn, "givenName", u.given, "sn", u.sn,
		"displayName", u.given + " " + u.sn, "mail", mail,
		"title", u.title, "departmentNumber", u.dept, "employeeNumber", fmt.Sprint(u.number),
		"mobile", fmt.Sprintf("+1 555 01%02d", u.number%100),
		"uidNumber", n, "gidNumber", "5000", "homeDirectory", "/home/" + asciiLocal(u.uid),
		"loginShell", "/bin/bash", "userPassword", u.password,
	}
	b.entry("uid="+u.uid+","+usersDN, append(attrs, u.extra...)...)
}

// ClassicLDIF returns the LDIF of the classic (dc=example,dc=com) fixture.
func ClassicLDIF() string { return suffixEntry(ExBaseDN) + classicBody() }

func classicBody() string {
	b := &ldifBuilder{}
	for _, ou := range []string{"people", "partners", "groups", "services"} {
		b.entry("ou="+ou+","+ExBaseDN, "objectClass", "organizationalUnit", "ou", ou)
	}
	b.entry(ExServiceDN, "objectClass", "applicationProcess", "objectClass", "simpleSecurityObject",
		"cn", "readonly", "userPassword", ExServicePassword)
	b.exUser(ExJDoeDN, "jdoe", "John", "Doe", ExJDoePassword, 2001, 6001)
	b.exUser(ExASmithDN, "asmith", "Anna", "Smith", ExASmithPassword, 2002, 6001)
	b.exUser(ExBWayneDN, "bwayne", "Bruce", "Wayne", ExBWaynePassword, 2003, ExUnixGID)
	b.exUser(ExNoPassDN, "nopass", "Noah", "Pass", "", 2004, 6001)
	b.exUser(ExJSmithPeopleDN, ExJSmithUID, "John", "Smith", ExJSmithPeoplePassword, 2005, 6001)
	b.exUser(ExJSmithPartnersDN, ExJSmithUID, "Jane", "Smith", ExJSmithPartnersPassword, 3001, 6001)
	b.exUser(ExPVendorDN, "pvendor", "Paul", "Vendor", ExPVendorPassword, 3002, 6001)

	b.groupOfNames(ExDevelopersDN, "member", ExJDoeDN, ExASmithDN, ExNoPassDN)
	b.entry(ExAdminsDN, "objectClass", "groupOfUniqueNames", "cn", "admins",
		"uniqueMember", ExJDoeDN, "uniqueMember", ExPVendorDN)
	b.entry(ExUnixDN, "objectClass", "posixGroup", "cn", "unix", "gidNumber", fmt.Sprint(ExUnixGID),
		"memberUid", "jdoe", "memberUid", "asmith")
	b.entry(ExOwnersDN, "objectClass", "groupOfNames", "cn", "owners", "member", ExJSmithPeopleDN,
		"owner", ExJDoeDN, "owner", ExASmithDN)
	b.entry(ExManagersDN, "objectClass", "organizationalRole", "cn", "managers",
		"roleOccupant", ExJDoeDN, "roleOccupant", ExBWayneDN)
	b.groupOfNames(ExSalesEMEADN, "member", ExPVendorDN, ExASmithDN, ExJSmithPartnersDN)
	b.groupOfNames(ExCycleADN, "member", ExJDoeDN)
	b.groupOfNames(ExCycleBDN, "member", ExASmithDN)
	b.groupOfNames(ExCycleCDN, "member", ExCycleADN)
	b.addValue(ExCycleBDN, "member", ExCycleCDN)
	b.addValue(ExCycleADN, "member", ExCycleBDN)
	return b.String()
}

func (b *ldifBuilder) exUser(dn, uid, given, sn, password string, uidNumber, gid int) {
	attrs := []string{
		"objectClass", "inetOrgPerson", "objectClass", "posixAccount",
		"uid", uid, "cn", given + " " + sn, "givenName", given, "sn", sn,
		"mail", strings.ToLower(given) + "." + strings.ToLower(sn) + "@example.com",
		"uidNumber", fmt.Sprint(uidNumber), "gidNumber", fmt.Sprint(gid),
		"homeDirectory", "/home/" + uid, "loginShell", "/bin/sh",
	}
	if password != "" {
		attrs = append(attrs, "userPassword", password)
	}
	b.entry(dn, attrs...)
}

// ldifBuilder writes LDIF records, base64-encoding values that are not safe
// strings (non-ASCII, binary, leading space or colon).
type ldifBuilder struct{ strings.Builder }

// entry writes an add record; kv alternates attribute names and values.
func (b *ldifBuilder) entry(dn string, kv ...string) {
	b.line("dn", dn)
	for i := 0; i+1 < len(kv); i += 2 {
		b.line(kv[i], kv[i+1])
	}
	b.WriteString("\n")
}

func (b *ldifBuilder) groupOfNames(dn, attr string, members ...string) {
	rdn, _, _ := strings.Cut(dn, ",")
	cn := strings.ReplaceAll(strings.TrimPrefix(rdn, "cn="), `\`, "")
	if strings.Contains(dn, `\,`) {
		cn = "Sales, EMEA"
	}
	kv := []string{"objectClass", "groupOfNames", "cn", cn}
	for _, m := range members {
		kv = append(kv, attr, m)
	}
	b.entry(dn, kv...)
}

// addValue writes a modify record adding one value.
func (b *ldifBuilder) addValue(dn, attr, value string) {
	b.line("dn", dn)
	b.WriteString("changetype: modify\nadd: " + attr + "\n")
	b.line(attr, value)
	b.WriteString("-\n\n")
}

func (b *ldifBuilder) line(attr, value string) {
	if safeLDIF(value) {
		b.WriteString(attr + ": " + value + "\n")
		return
	}
	b.WriteString(attr + ":: " + base64.StdEncoding.EncodeToString([]byte(value)) + "\n")
}

// safeLDIF reports whether v is an RFC 2849 SAFE-STRING.
func safeLDIF(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLocal maps a uid to an ASCII mailbox/home name (josé → jose).
func asciiLocal(uid string) string {
	r := strings.NewReplacer("é", "e", "ñ", "n", "ú", "u")
	return r.Replace(uid)
}

// smallJPEG encodes a deterministic 16x16 gradient as a JPEG.
func smallJPEG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
