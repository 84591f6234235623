package sambatest

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// The domain every DC is provisioned with.
const (
	Realm         = "LDAPBRIDGE.TEST"
	DNSDomain     = "ldapbridge.test"
	NetBIOSDomain = "LDAPBRIDGE"
	BaseDN        = "DC=ldapbridge,DC=test"
	AdminDN       = "CN=Administrator,CN=Users," + BaseDN
	AdminPassword = "Adm1n-Passw0rd!"
	// DomainUsersDN is the usual primary group (RID 513) of every user.
	DomainUsersDN  = "CN=Domain Users,CN=Users," + BaseDN
	DomainUsersRID = 513
)

// Where the fixtures live.
const (
	RootDN    = "OU=LDAPBridge," + BaseDN
	PeopleDN  = "OU=People," + RootDN
	GroupsDN  = "OU=Groups," + RootDN
	BulkDN    = "OU=Bulk," + RootDN
	ServiceOU = "OU=Service," + RootDN
)

// The service account that ldapbridge binds as.
const (
	ServiceSAM      = "svc-ldapbridge"
	ServiceDN       = "CN=" + ServiceSAM + "," + ServiceOU
	ServicePassword = "Svc-Passw0rd-2024!"
)

// Fixture users, all under PeopleDN with CN = sAMAccountName and
// userPrincipalName = sAMAccountName@ldapbridge.test.
const (
	// Alice: given name, surname, mail, title and a thumbnailPhoto; in App
	// and Staff, with Staff as her primary group (primaryGroupID), so Staff
	// is in neither her memberOf nor Staff's member.
	AliceSAM      = "alice"
	AlicePassword = "Alice-Pw-2024!"
	AliceMail     = "alice@ldapbridge.test"
	AliceTitle    = "Chief Rabbit Officer"
	// Nina is only in Level3, which is in Level2, which is in Level1.
	NinaSAM      = "nina"
	NinaPassword = "Nina-Pw-2024!"
	// Dora is disabled (userAccountControl 514); in App.
	DoraSAM      = "dora"
	DoraPassword = "Dora-Pw-2024!"
	// Ed's account expired (accountExpires in 2012); in App.
	EdSAM      = "ed"
	EdPassword = "Ed-Pw-2024!"
	// Mona must change her password (pwdLastSet 0); in App.
	MonaSAM      = "mona"
	MonaPassword = "Mona-Pw-2024!"
	// Larry is locked out at every Start (LockoutThreshold bad binds); in App.
	LarrySAM      = "larry"
	LarryPassword = "Larry-Pw-2024!"
	// Hank may never log on (logonHours all zero); in App.
	HankSAM      = "hank"
	HankPassword = "Hank-Pw-2024!"
	// José has a non-ASCII sAMAccountName and names; in App.
	JoseSAM       = "josé"
	JosePassword  = "Jose-Pw-2024!"
	JoseGivenName = "José"
	JoseSurname   = "Núñez"
)

// LockoutThreshold is the domain's lockoutThreshold: this many bad
// passwords in a row lock an account for 30 minutes.
const LockoutThreshold = 5

// Fixture groups, under GroupsDN, CN = sAMAccountName.
const (
	AppGroup    = "App Users"
	StaffGroup  = "Staff"
	Level1Group = "Level1"
	Level2Group = "Level2"
	Level3Group = "Level3"
	BigGroup    = "Big Group"
	// BigMembers is how many bulk users (BulkUserSAM(0..BigMembers-1)) Big Group holds.
	BigMembers = 1600
)

// UserDN returns the DN of a fixture user.
func UserDN(sam string) string { return "CN=" + sam + "," + PeopleDN }

// GroupDN returns the DN of a fixture group.
func GroupDN(name string) string { return "CN=" + name + "," + GroupsDN }

// UPN returns a fixture user's userPrincipalName.
func UPN(sam string) string { return sam + "@" + DNSDomain }

// user is one fixture user with a password.
type user struct {
	sam, given, sn, password, mail, title string
	photo                                 bool
	groups                                []string
	extra                                 map[string][]string
}

func fixtureUsers() []user {
	return []user{
		{sam: ServiceSAM, given: "Service", sn: "Account", password: ServicePassword},
		{sam: AliceSAM, given: "Alice", sn: "Liddell", password: AlicePassword, mail: AliceMail, title: AliceTitle, photo: true, groups: []string{AppGroup, StaffGroup}},
		{sam: NinaSAM, given: "Nina", sn: "Nested", password: NinaPassword, groups: []string{Level3Group}},
		{sam: DoraSAM, given: "Dora", sn: "Disabled", password: DoraPassword, groups: []string{AppGroup}, extra: map[string][]string{"userAccountControl": {"514"}}},
		{sam: EdSAM, given: "Ed", sn: "Expired", password: EdPassword, groups: []string{AppGroup}, extra: map[string][]string{"accountExpires": {"129000000000000000"}}},
		{sam: MonaSAM, given: "Mona", sn: "Mustchange", password: MonaPassword, groups: []string{AppGroup}},
		{sam: LarrySAM, given: "Larry", sn: "Locked", password: LarryPassword, groups: []string{AppGroup}},
		{sam: HankSAM, given: "Hank", sn: "Hours", password: HankPassword, groups: []string{AppGroup}},
		{sam: JoseSAM, given: JoseGivenName, sn: JoseSurname, password: JosePassword, mail: "jose@ldapbridge.test", groups: []string{AppGroup}},
	}
}

// fixtureGroups lists the groups in creation order; parents name the
// groups each one is a member of.
var fixtureGroups = []struct {
	name    string
	parents []string
}{
	{AppGroup, nil}, {StaffGroup, nil}, {Level1Group, nil},
	{Level2Group, []string{Level1Group}}, {Level3Group, []string{Level2Group}}, {BigGroup, nil},
}

// BulkUserSAM is the sAMAccountName of the i-th bulk user (no password,
// so disabled), member of Big Group.
func BulkUserSAM(i int) string { return "bulk" + pad5(i) }

// BulkUserDN is the DN of the i-th bulk user.
func BulkUserDN(i int) string { return "CN=" + BulkUserSAM(i) + "," + BulkDN }

func pad5(i int) string {
	b := []byte("00000")
	for p := 4; p >= 0 && i > 0; p-- {
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

// Photo returns the JPEG stored as Alice's thumbnailPhoto.
func Photo() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{uint8(x * 30), uint8(y * 30), 200, 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}
