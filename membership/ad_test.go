package membership

import (
	"fmt"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestPrimaryGroupSIDReplacesTheRID(t *testing.T) {
	// S-1-5-21-1-2-3-1105
	user := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x51, 4, 0, 0}
	tests := []struct {
		name     string
		sid      []byte
		rid      string
		want     string
		wantOK   bool
		wantTerm string
	}{
		{"domain users", user, "513", "S-1-5-21-1-2-3-513", true, `(objectSid=\01\05\00\00\00\00\00\05\15\00\00\00\01\00\00\00\02\00\00\00\03\00\00\00\01\02\00\00)`},
		{"no primaryGroupID", user, "", "", false, ""},
		{"malformed sid", user[:10], "513", "", false, ""},
	}
	r := mustNew(t, groupsCfg(TypeActiveDirectory, true), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &ldapbridge.Entry{DN: "cn=u"}
			e.SetRaw("objectSid", tt.sid)
			if tt.rid != "" {
				e.Set("primaryGroupID", tt.rid)
			}
			sid, ok := PrimaryGroupSID(e)
			if ok != tt.wantOK || FormatSID(sid) != tt.want {
				t.Errorf("got %q %v, want %q %v", FormatSID(sid), ok, tt.want, tt.wantOK)
			}
			if got := r.primaryTerm(e); got != tt.wantTerm {
				t.Errorf("term %s, want %s", got, tt.wantTerm)
			}
			if FormatSID(user) != "S-1-5-21-1-2-3-1105" {
				t.Errorf("the user's own SID was changed: %s", FormatSID(user))
			}
		})
	}
}

func TestRangedValuesFindsTheNextRange(t *testing.T) {
	tests := []struct {
		name string
		attr string
		vals []string
		next int
		done bool
	}{
		{"first range", "member;range=0-1499", []string{"a"}, 1500, false},
		{"last range", "Member;Range=1500-*", []string{"a"}, 0, true},
		{"plain attribute", "member", []string{"a", "b"}, 0, true},
		{"malformed range ends the loop", "member;range=9-x", []string{"a"}, 0, true},
		{"no attribute", "cn", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ldapbridge.NewEntry("cn=g", map[string][]string{tt.attr: {"a"}})
			if tt.attr == "member" {
				e.Set("member", "a", "b")
			}
			vals, next, done := rangedValues(e, "member")
			if fmt.Sprint(vals) != fmt.Sprint(tt.vals) || next != tt.next || done != tt.done {
				t.Errorf("got %v %d %v, want %v %d %v", vals, next, done, tt.vals, tt.next, tt.done)
			}
		})
	}
}

// TestPrimaryGroupKeyJoinsUserAndGroup: a sync joins a user to its Active
// Directory primary group locally, with the keys a login's objectSid
// search uses: the group's objectSid is the user's domain SID followed by
// primaryGroupID.
func TestPrimaryGroupKeyJoinsUserAndGroup(t *testing.T) {
	sid := func(d byte, rid uint32) []byte {
		return []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, d, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, byte(rid), byte(rid >> 8), 0, 0}
	}
	group := &ldapbridge.Entry{DN: "cn=Staff"}
	group.SetRaw("objectSid", sid(1, 1104))
	user := func(domain byte, primary string) *ldapbridge.Entry {
		e := &ldapbridge.Entry{DN: "cn=u"}
		e.SetRaw("objectSid", sid(domain, 1105))
		e.Set("primaryGroupID", primary)
		return e
	}
	ad := mustNew(t, groupsCfg(TypeActiveDirectory, true), Options{})
	if got := ad.PrimaryMembersTerm(group); got != "(primaryGroupID=1104)" {
		t.Errorf("PrimaryMembersTerm = %q, want (primaryGroupID=1104)", got)
	}
	if !ad.IsPrimaryGroupOf(group, user(1, "1104")) {
		t.Errorf("Staff (RID 1104) is not the primary group of a user with primaryGroupID 1104")
	}
	if ad.IsPrimaryGroupOf(group, user(1, "513")) || ad.IsPrimaryGroupOf(group, user(9, "1104")) {
		t.Errorf("Staff is the primary group of a user with another primaryGroupID or in another domain")
	}
	gon := mustNew(t, groupsCfg(TypeGroupOfNames, false), Options{})
	if gon.PrimaryGroupKey(user(1, "1104")) != "" || gon.GroupPrimaryKey(group) != "" || gon.PrimaryMembersTerm(group) != "" {
		t.Errorf("group_of_names off Active Directory has primary-group keys")
	}
}
