package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var userTests = []test{
	{"CreateThenReadByEveryKeyReturnsEveryField", testCreateRead},
	{"CreateSetsIDAndUTCTimestamps", testCreateTimestamps},
	{"MissingThingsAreErrNotFound", testNotFound},
	{"DuplicateUsernameOrStableIDIsErrConflict", testConflict},
	{"InvalidUserIsRefusedWithoutConflict", testInvalidUser},
	{"UserByFieldMatchesExactlyAndEmailDNIgnoreCase", testUserByField},
	{"UpdateWritesEveryField", testUpdateEveryField},
	{"PhotoIsSetKeptWhenNilAndClearedByHasPhotoFalse", testPhoto},
	{"DeleteUserCascadesMembershipsAndPhoto", testDeleteUser},
	{"ListUsersSearchesFiltersPagesAndSorts", testListUsers},
	{"RecordLoginSetsLastLoginAt", testRecordLogin},
	{"UnicodeUsernameRoundTripsByteExact", testUnicodeUsername},
}

func testCreateRead(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	synced := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	u := newUser("alice")
	u.IsStaff, u.IsSuperuser = true, true
	u.Flags = map[string]bool{"beta": true, "vpn": false}
	u.Profile = map[string]string{"title": "Engineer", "phone": "+1 555|+1 556", "display_name": "Alice Ä. Smith"}
	u.Photo = []byte{0xff, 0xd8, 0xff, 0x00, 0x01}
	u.LastSyncedAt = &synced
	create(t, s, u)
	if u.ID == 0 || !u.HasPhoto {
		t.Fatalf("CreateUser set ID=%d HasPhoto=%v, want a non-zero ID and HasPhoto", u.ID, u.HasPhoto)
	}
	want := *u
	wantSynced := ms(synced)
	want.LastSyncedAt = &wantSynced

	reads := []struct {
		name string
		read func() (*ldapbridge.User, error)
	}{
		{"User", func() (*ldapbridge.User, error) { return s.User(ctx, "alice") }},
		{"UserByID", func() (*ldapbridge.User, error) { return s.UserByID(ctx, u.ID) }},
		{"UserByStableID", func() (*ldapbridge.User, error) { return s.UserByStableID(ctx, "uuid-alice") }},
		{"UserByField(username)", func() (*ldapbridge.User, error) { return s.UserByField(ctx, "username", "alice") }},
	}
	for _, r := range reads {
		got, err := r.read()
		must(t, err, r.name)
		wantUser(t, &want, got, r.name)
		wantNames(t, got.Groups, nil, r.name+" Groups")
		wantNames(t, got.DirectGroups, nil, r.name+" DirectGroups")
	}
	photo, err := s.Photo(ctx, u.ID)
	must(t, err, "Photo")
	if !bytes.Equal(photo, u.Photo) {
		t.Errorf("Photo: got %x, want %x", photo, u.Photo)
	}
}

func testCreateTimestamps(t *testing.T, s ldapbridge.Store) {
	before := time.Now().Add(-time.Second)
	a := create(t, s, newUser("a"))
	b := create(t, s, newUser("b"))
	after := time.Now().Add(time.Second)
	if a.ID == b.ID {
		t.Errorf("two users got the same ID %d", a.ID)
	}
	for _, u := range []*ldapbridge.User{a, b} {
		if u.CreatedAt.Before(before) || u.CreatedAt.After(after) || !u.UpdatedAt.Equal(u.CreatedAt) {
			t.Errorf("%s: CreatedAt %v UpdatedAt %v, want both now", u.Username, u.CreatedAt, u.UpdatedAt)
		}
		if u.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: CreatedAt location %v, want UTC", u.Username, u.CreatedAt.Location())
		}
		if !u.CreatedAt.Equal(ms(u.CreatedAt)) {
			t.Errorf("%s: CreatedAt %v has sub-millisecond digits the store cannot keep", u.Username, u.CreatedAt)
		}
		got := get(t, s, u.Username)
		wantUser(t, u, got, "read back "+u.Username)
	}
}

func testNotFound(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("nophoto"))
	ghost := newUser("ghost")
	ghost.ID = u.ID + 1000
	checks := []struct {
		name string
		err  func() error
	}{
		{"User", func() error { _, err := s.User(ctx, "ghost"); return err }},
		{"UserByID", func() error { _, err := s.UserByID(ctx, ghost.ID); return err }},
		{"UserByStableID", func() error { _, err := s.UserByStableID(ctx, "uuid-ghost"); return err }},
		{"UserByStableID empty", func() error { _, err := s.UserByStableID(ctx, ""); return err }},
		{"UserByField email", func() error { _, err := s.UserByField(ctx, "email", "ghost@example.com"); return err }},
		{"Photo of user without photo", func() error { _, err := s.Photo(ctx, u.ID); return err }},
		{"Photo of missing user", func() error { _, err := s.Photo(ctx, ghost.ID); return err }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, ghost) }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, ghost.ID) }},
		{"RecordLogin", func() error { return s.RecordLogin(ctx, ghost.ID, time.Now()) }},
		{"Group", func() error { _, err := s.Group(ctx, "ghosts"); return err }},
		{"GroupByDN", func() error { _, err := s.GroupByDN(ctx, "cn=ghosts,dc=example,dc=com"); return err }},
		{"DeleteGroup", func() error { return s.DeleteGroup(ctx, 424242) }},
		{"SetUserGroups of missing user", func() error { return s.SetUserGroups(ctx, ghost.ID, nil) }},
		{"SetGroupParents of missing group", func() error { return s.SetGroupParents(ctx, 424242, nil) }},
		{"SetUserGroups with missing group", func() error { return s.SetUserGroups(ctx, u.ID, []int64{424242}) }},
		{"AddMemberships with missing group", func() error {
			return s.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: 424242, UserID: u.ID}})
		}},
	}
	for _, c := range checks {
		wantErr(t, c.err(), ldapbridge.ErrNotFound, c.name)
	}
}

func testConflict(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	create(t, s, newUser("bob"))
	dupName := newUser("bob")
	dupName.StableID = "other"
	wantErr(t, s.CreateUser(ctx, dupName), ldapbridge.ErrConflict, "CreateUser with a taken username")
	dupStable := newUser("bobby")
	dupStable.StableID = "uuid-bob"
	wantErr(t, s.CreateUser(ctx, dupStable), ldapbridge.ErrConflict, "CreateUser with a taken stable id")

	// Users without a stable id do not collide with each other.
	x, y := newUser("x"), newUser("y")
	x.StableID, y.StableID = "", ""
	create(t, s, x)
	create(t, s, y)

	y.Username = "bob"
	wantErr(t, s.UpdateUser(ctx, y), ldapbridge.ErrConflict, "UpdateUser to a taken username")
	if got := get(t, s, "y"); got.ID != y.ID {
		t.Errorf("user y changed after a refused update")
	}
}

func testInvalidUser(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	bad := map[string]*ldapbridge.User{
		"empty username": {Source: ldapbridge.SourceLDAP},
		"unknown source": {Username: "carl", Source: "nis"},
	}
	for name, u := range bad {
		err := s.CreateUser(ctx, u)
		if err == nil || errors.Is(err, ldapbridge.ErrConflict) {
			t.Errorf("CreateUser with %s: got %v, want a validation error", name, err)
		}
	}
}

func testUserByField(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a, b := newUser("ann"), newUser("ben")
	a.Email, a.DN, a.LastName = "Ann.Smith@Example.COM", "uid=ann,ou=Users,dc=example,dc=com", "Smith"
	b.LastName = "Smith"
	create(t, s, a)
	create(t, s, b)
	found := []struct{ field, value, want string }{
		{"email", "ann.smith@example.com", "ann"},
		{"email", "ANN.SMITH@EXAMPLE.COM", "ann"},
		{"dn", "UID=ANN,OU=Users,DC=example,DC=com", "ann"},
		{"first_name", "First ben", "ben"},
		{"username", "ben", "ben"},
	}
	for _, f := range found {
		u, err := s.UserByField(ctx, f.field, f.value)
		if err != nil || u.Username != f.want {
			t.Errorf("UserByField(%s, %q): got %v, %v; want %s", f.field, f.value, u, err, f.want)
		}
	}
	_, err := s.UserByField(ctx, "first_name", "FIRST BEN")
	wantErr(t, err, ldapbridge.ErrNotFound, "UserByField first_name is case-sensitive")
	_, err = s.UserByField(ctx, "last_name", "Smith")
	wantErr(t, err, ldapbridge.ErrAmbiguous, "UserByField matching two users")
	_, err = s.UserByField(ctx, "password_hash", "")
	if err == nil || errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("UserByField on an unknown field: got %v, want an error naming the field", err)
	}
	if err != nil && !strings.Contains(err.Error(), "password_hash") {
		t.Errorf("UserByField on an unknown field: error %q does not name the field", err)
	}
}

func testUpdateEveryField(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("dora"))
	created := u.CreatedAt
	login := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	synced := time.Now().Add(time.Hour)
	u.Username, u.Source, u.DN, u.StableID = "dora2", ldapbridge.SourceLocal, "uid=dora2,dc=x", "uuid-new"
	u.FirstName, u.LastName, u.Email = "Dóra", "Nagy-Kovács", "dora@example.org"
	u.IsActive, u.IsStaff, u.IsSuperuser = false, true, true
	u.Flags = map[string]bool{"vpn": true, "beta": false}
	u.Profile = map[string]string{"display_name": "Дора 山田 🚀", "title": "<b>&\"quoted\"</b>", "empty": ""}
	u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
	u.LastLoginAt, u.LastSyncedAt = &login, &synced
	time.Sleep(2 * time.Millisecond)
	must(t, s.UpdateUser(ctx, u), "UpdateUser")
	if !u.UpdatedAt.After(created) {
		t.Errorf("UpdatedAt %v not after CreatedAt %v", u.UpdatedAt, created)
	}
	want := *u
	want.CreatedAt = created
	wantSynced, wantLogin := ms(synced), ms(login)
	want.LastSyncedAt, want.LastLoginAt = &wantSynced, &wantLogin
	wantUser(t, &want, get(t, s, "dora2"), "after update")
	if _, err := s.User(ctx, "dora"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("old username still found after rename: %v", err)
	}

	u.Flags, u.Profile, u.LastLoginAt, u.LastSyncedAt = nil, nil, nil, nil
	must(t, s.UpdateUser(ctx, u), "UpdateUser clearing maps and times")
	want = *u
	want.CreatedAt = created
	wantUser(t, &want, get(t, s, "dora2"), "after clearing")
}

func testPhoto(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("pia"))
	steps := []struct {
		name     string
		photo    []byte
		hasPhoto bool
		want     []byte // nil: no photo stored
	}{
		{"set", []byte("jpeg-1"), false, []byte("jpeg-1")},
		{"kept when Photo is nil and HasPhoto true", nil, true, []byte("jpeg-1")},
		{"replaced", []byte("jpeg-2\x00\xff"), true, []byte("jpeg-2\x00\xff")},
		{"cleared by HasPhoto false", nil, false, nil},
		{"stays cleared", nil, false, nil},
		{"set again", []byte("jpeg-3"), false, []byte("jpeg-3")},
	}
	for _, st := range steps {
		u.Photo, u.HasPhoto = st.photo, st.hasPhoto
		must(t, s.UpdateUser(ctx, u), "UpdateUser "+st.name)
		got, err := s.Photo(ctx, u.ID)
		if st.want == nil {
			wantErr(t, err, ldapbridge.ErrNotFound, "Photo after "+st.name)
		} else if err != nil || !bytes.Equal(got, st.want) {
			t.Errorf("Photo after %s: got %q, %v; want %q", st.name, got, err, st.want)
		}
		if r := get(t, s, "pia"); r.HasPhoto != (st.want != nil) || r.Photo != nil {
			t.Errorf("after %s: read HasPhoto=%v Photo=%q, want HasPhoto=%v and no Photo", st.name, r.HasPhoto, r.Photo, st.want != nil)
		}
	}
}

func testDeleteUser(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := newUser("dan")
	u.Photo = []byte("jpeg")
	create(t, s, u)
	keep := create(t, s, newUser("keep"))
	g := group(t, s, "staff")
	must(t, s.SetUserGroups(ctx, u.ID, []int64{g.ID}), "SetUserGroups dan")
	must(t, s.SetUserGroups(ctx, keep.ID, []int64{g.ID}), "SetUserGroups keep")
	must(t, s.DeleteUser(ctx, u.ID), "DeleteUser")

	_, err := s.UserByID(ctx, u.ID)
	wantErr(t, err, ldapbridge.ErrNotFound, "UserByID after delete")
	_, err = s.Photo(ctx, u.ID)
	wantErr(t, err, ldapbridge.ErrNotFound, "Photo after delete")
	ms, err := s.Memberships(ctx)
	must(t, err, "Memberships")
	if len(ms) != 1 || ms[0] != (ldapbridge.Membership{GroupID: g.ID, UserID: keep.ID}) {
		t.Errorf("Memberships after delete: got %+v, want only keep in staff", ms)
	}
	// The username and stable id are free again.
	create(t, s, newUser("dan"))
}

func testListUsers(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	specs := []struct{ name, first, last, email, source string }{
		{"carol", "Carol", "Jones", "cj@example.com", ldapbridge.SourceLDAP},
		{"alice", "Alice", "Smith", "alice@corp.example", ldapbridge.SourceLDAP},
		{"bob", "Robert", "SMITHERS", "bob@example.com", ldapbridge.SourceLDAP},
		{"Zed", "Zed", "Zulu", "zed@example.com", ldapbridge.SourceLDAP},
		{"admin", "Break", "Glass", "", ldapbridge.SourceLocal},
		{"under_score", "U", "S", "us@example.com", ldapbridge.SourceLDAP},
		{"percent", "Hundred%", "P", "p@example.com", ldapbridge.SourceLDAP},
	}
	for _, sp := range specs {
		u := newUser(sp.name)
		u.FirstName, u.LastName, u.Email, u.Source = sp.first, sp.last, sp.email, sp.source
		create(t, s, u)
	}
	g := group(t, s, "everyone")
	must(t, s.SetUserGroups(ctx, get(t, s, "alice").ID, []int64{g.ID}), "SetUserGroups")
	must(t, s.SetUserGroups(ctx, get(t, s, "bob").ID, []int64{g.ID}), "SetUserGroups")
	cases := []struct {
		name string
		q    ldapbridge.UserQuery
		want []string
	}{
		{"all, byte order", ldapbridge.UserQuery{}, []string{"Zed", "admin", "alice", "bob", "carol", "percent", "under_score"}},
		{"username substring", ldapbridge.UserQuery{Search: "aro"}, []string{"carol"}},
		{"last name any case", ldapbridge.UserQuery{Search: "smith"}, []string{"alice", "bob"}},
		{"first name upper", ldapbridge.UserQuery{Search: "ROBERT"}, []string{"bob"}},
		{"email", ldapbridge.UserQuery{Search: "CORP.example"}, []string{"alice"}},
		{"underscore is literal", ldapbridge.UserQuery{Search: "_"}, []string{"under_score"}},
		{"percent is literal", ldapbridge.UserQuery{Search: "%"}, []string{"percent"}},
		{"no match", ldapbridge.UserQuery{Search: "nobody"}, nil},
		{"source local", ldapbridge.UserQuery{Source: ldapbridge.SourceLocal}, []string{"admin"}},
		{"source ldap with search", ldapbridge.UserQuery{Source: ldapbridge.SourceLDAP, Search: "smith"}, []string{"alice", "bob"}},
		{"source local with search", ldapbridge.UserQuery{Source: ldapbridge.SourceLocal, Search: "GLASS"}, []string{"admin"}},
		{"source local, no match", ldapbridge.UserQuery{Source: ldapbridge.SourceLocal, Search: "smith"}, nil},
		{"limit", ldapbridge.UserQuery{Limit: 2}, []string{"Zed", "admin"}},
		{"limit and offset", ldapbridge.UserQuery{Limit: 2, Offset: 2}, []string{"alice", "bob"}},
		{"offset only", ldapbridge.UserQuery{Offset: 5}, []string{"percent", "under_score"}},
		{"offset past end", ldapbridge.UserQuery{Offset: 50}, nil},
		{"direct members of a group", ldapbridge.UserQuery{Group: "everyone"}, []string{"alice", "bob"}},
		{"group with search", ldapbridge.UserQuery{Group: "everyone", Search: "robert"}, []string{"bob"}},
		{"unknown group", ldapbridge.UserQuery{Group: "nobody"}, nil},
	}
	for _, c := range cases {
		got, err := s.ListUsers(ctx, c.q)
		if err != nil {
			t.Errorf("ListUsers %s: %v", c.name, err)
			continue
		}
		wantNames(t, usernames(got), c.want, "ListUsers "+c.name)
		for _, u := range got {
			if len(u.Groups) > 0 || len(u.DirectGroups) > 0 {
				t.Errorf("ListUsers %s: %s carries group lists %q, want none", c.name, u.Username, u.Groups)
			}
		}
	}
	all, err := s.ListUsers(ctx, ldapbridge.UserQuery{Search: "alice"})
	must(t, err, "ListUsers alice")
	if len(all) == 1 {
		wantUser(t, get(t, s, "alice"), all[0], "ListUsers row")
	}
}

func testRecordLogin(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("lou"))
	if get(t, s, "lou").LastLoginAt != nil {
		t.Fatalf("a new user has LastLoginAt set")
	}
	at := time.Date(2025, 6, 30, 23, 59, 59, 999_999_999, time.FixedZone("EST", -5*3600))
	must(t, s.RecordLogin(ctx, u.ID, at), "RecordLogin")
	got := get(t, s, "lou")
	want := ms(at)
	if !sameTime(got.LastLoginAt, &want) {
		t.Errorf("LastLoginAt: got %v, want %v in UTC", got.LastLoginAt, want)
	}
	if !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("RecordLogin changed UpdatedAt from %v to %v", u.UpdatedAt, got.UpdatedAt)
	}
}

func testUnicodeUsername(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	nfc := "jos\u00e9.m\u00fcller" // é and ü precomposed (NFC)
	nfd := "jose\u0301.mu\u0308ller"
	u := newUser(nfc)
	u.StableID = "uuid-jose"
	create(t, s, u)
	got := get(t, s, nfc)
	if got.Username != nfc || !bytes.Equal([]byte(got.Username), []byte(nfc)) {
		t.Errorf("username: got %q (% x), want %q (% x)", got.Username, got.Username, nfc, nfc)
	}
	_, err := s.User(ctx, nfd)
	wantErr(t, err, ldapbridge.ErrNotFound, "User with the NFD spelling (the store compares bytes)")
	list, err := s.ListUsers(ctx, ldapbridge.UserQuery{Search: "m\u00fcl"})
	must(t, err, "ListUsers unicode search")
	wantNames(t, usernames(list), []string{nfc}, "ListUsers unicode search")
}
