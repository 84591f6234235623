package auth

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

func TestStableIDFormatsObjectGUID(t *testing.T) {
	guid := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	tests := []struct {
		name   string
		flavor ldapbridge.Flavor
		attr   string
		value  []byte
		want   string
	}{
		{"ad objectGUID mixed endian", ldapbridge.FlavorActiveDirectory, "objectGUID", guid, "04030201-0605-0807-090a-0b0c0d0e0f10"},
		{"auto finds objectGUID", ldapbridge.FlavorAuto, "objectGUID", guid, "04030201-0605-0807-090a-0b0c0d0e0f10"},
		{"openldap entryUUID", ldapbridge.FlavorOpenLDAP, "entryUUID", []byte("6b29fc40-ca47-1067-b31d-00dd010662da"), "6b29fc40-ca47-1067-b31d-00dd010662da"},
		{"389ds nsUniqueId", ldapbridge.Flavor389DS, "nsUniqueId", []byte("a1b2c3d4-11e1-8a6f-e8d0-9c3f5e6a7b8c"), "a1b2c3d4-11e1-8a6f-e8d0-9c3f5e6a7b8c"},
		{"openldap ignores objectGUID", ldapbridge.FlavorOpenLDAP, "objectGUID", guid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := unitConfig()
			cfg.Directory.Flavor = tt.flavor
			m := NewMapper(cfg, &fakeGroups{}, nil)
			e := &ldapbridge.Entry{DN: dn("x")}
			e.SetRaw(tt.attr, tt.value)
			if got := m.StableID(e); got != tt.want {
				t.Errorf("StableID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=") {
		t.Errorf("hash %q is not argon2id PHC", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("tr0ub4dor"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	tampered := strings.Join(append(parts[:5:5], "AAAA"+parts[5][4:]), "$")
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"argon2id right password", h, "correct horse", true},
		{"argon2id wrong password", h, "correct horsE", false},
		{"argon2id tampered key", tampered, "correct horse", false},
		{"bcrypt right password", string(bc), "tr0ub4dor", true},
		{"bcrypt 2y prefix", "$2y$" + string(bc)[4:], "tr0ub4dor", true},
		{"bcrypt wrong password", string(bc), "tr0ub4door", false},
		{"empty password never matches", h, "", false},
		{"empty hash never matches", "", "x", false},
		{"unknown scheme", "{SSHA}abcdef", "x", false},
		{"argon2id absurd memory refused", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPassword(tt.hash, tt.pw); got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("HashPassword(\"\") succeeded, want an error")
	}
}

func TestMapUserJoinsProfileAndTakesFirstAttribute(t *testing.T) {
	for _, sep := range []string{"|", "; "} {
		cfg := unitConfig()
		cfg.Users.MultiValueSeparator = sep
		m := NewMapper(cfg, &fakeGroups{}, nil)
		e := ldapbridge.NewEntry(dn("jdoe"), map[string][]string{"uid": {"JDoe"}, "mail": {"a@x", "b@x"}, "mobile": {"1", "2", "3"}})
		e.SetRaw("jpegPhoto", []byte{0xff, 0xd8, 0x00, 0x01})
		u, err := m.MapUser(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "a@x" {
			t.Errorf("email %q, want the first value a@x", u.Email)
		}
		if want := "1" + sep + "2" + sep + "3"; u.Profile["phone"] != want {
			t.Errorf("profile phone %q, want %q", u.Profile["phone"], want)
		}
		if string(u.Photo) != "\xff\xd8\x00\x01" || !u.HasPhoto {
			t.Errorf("photo %x, want the raw bytes", u.Photo)
		}
		if u.Username != "jdoe" || u.Source != ldapbridge.SourceLDAP || u.PasswordHash != "" {
			t.Errorf("got %+v", u)
		}
	}
	m := NewMapper(unitConfig(), &fakeGroups{}, nil)
	if _, err := m.MapUser(ldapbridge.NewEntry(dn("x"), nil), nil); err == nil || !strings.Contains(err.Error(), "users.username_attribute") {
		t.Errorf("entry without uid: err = %v, want one naming users.username_attribute", err)
	}
}

func TestFlagsEvaluateAnyAllNot(t *testing.T) {
	q := func(dn string) ldapbridge.GroupQuery { return ldapbridge.GroupQuery{DN: dn} }
	flags := map[string]ldapbridge.GroupQuery{
		FlagIsStaff:     {Any: []ldapbridge.GroupQuery{q(staffDN), q(adminsDN)}},
		FlagIsSuperuser: {All: []ldapbridge.GroupQuery{q(adminsDN), {Not: &ldapbridge.GroupQuery{DN: contractorsDN}}}},
		"beta":          q("CN=Beta,OU=Groups,DC=Example,DC=Com"),
	}
	tests := []struct {
		name                     string
		groups                   []string
		active, staff, super, bt bool
	}{
		{"no groups", nil, true, false, false, false},
		{"staff only", []string{staffDN}, true, true, false, false},
		{"admin", []string{adminsDN}, true, true, true, false},
		{"admin contractor", []string{adminsDN, contractorsDN}, true, true, false, false},
		{"custom flag by DN compared case-insensitively", []string{"cn=beta,ou=groups,dc=example,dc=com"}, true, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := unitConfig()
			cfg.Access.Flags = flags
			m := NewMapper(cfg, &fakeGroups{}, nil)
			var gs []membership.Group
			for _, d := range tt.groups {
				gs = append(gs, group(d, true))
			}
			u, err := m.MapUser(ldapbridge.NewEntry(dn("jdoe"), map[string][]string{"uid": {"jdoe"}}), gs)
			if err != nil {
				t.Fatal(err)
			}
			if u.IsActive != tt.active || u.IsStaff != tt.staff || u.IsSuperuser != tt.super || u.Flags["beta"] != tt.bt {
				t.Errorf("active/staff/super/beta = %v/%v/%v/%v, want %v/%v/%v/%v",
					u.IsActive, u.IsStaff, u.IsSuperuser, u.Flags["beta"], tt.active, tt.staff, tt.super, tt.bt)
			}
		})
	}
	cfg := unitConfig()
	cfg.Access.Flags = map[string]ldapbridge.GroupQuery{FlagIsActive: q("cn=active,dc=example,dc=com")}
	u, _ := NewMapper(cfg, &fakeGroups{}, nil).MapUser(ldapbridge.NewEntry(dn("jdoe"), map[string][]string{"uid": {"jdoe"}}), nil)
	if u.IsActive {
		t.Error("is_active flag configured and not met, yet the user is active")
	}
}

func TestDisplayValuesShowBinary(t *testing.T) {
	got := displayValues([][]byte{[]byte("plain"), {0x00, 0xff}, make([]byte, 100)})
	want := []string{"plain", "base64:AP8=", "(100 bytes)"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestUserBindName(t *testing.T) {
	tests := []struct {
		name, template, dnTemplate, user, want string
	}{
		{"dn template escapes", "", "uid={username},ou=people,dc=x", "a,b", `uid=a\,b,ou=people,dc=x`},
		{"bind_dn as DN", "uid={username},ou=people,dc=x", "", "a+b", `uid=a\+b,ou=people,dc=x`},
		{"bind_dn as UPN", "{username}@corp.example.com", "", "jdoe", "jdoe@corp.example.com"},
		{"bind_dn down-level", `CORP\{username}`, "", "jdoe", `CORP\jdoe`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, func(c *config.Config) {
				c.Directory.BindAsUser, c.Directory.BindDN, c.Users.DNTemplate = true, tt.template, tt.dnTemplate
			})
			got, err := u.a.userBindName(tt.user)
			if err != nil || got != tt.want {
				t.Errorf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}
