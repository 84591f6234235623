package storetest

import (
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var syncTests = []test{
	{"SyncUserStatesListEveryUserCompactInIDOrder", testSyncUserStates},
	{"SyncHashSurvivesOnlyUntilAnotherWrite", testSyncHashInvalidation},
	{"SyncHashSurvivesRecordLoginAndInTx", testSyncHashKept},
	{"SyncRunsRecordUpdateAndListNewestFirst", testSyncRuns},
	{"SyncCursorPerServerSetReplaceClear", testSyncCursor},
	{"VerdictRoundTripsAndSetUserVerdictTouchesNothingElse", testVerdict},
}

func testVerdict(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := newUser("alice")
	u.Verdict, u.VerdictReason = ldapbridge.VerdictDenyGroup, "in a denied group: cn=x"
	create(t, s, u)
	got, err := s.UserByID(ctx, u.ID)
	must(t, err, "UserByID")
	if got.Verdict != ldapbridge.VerdictDenyGroup || got.VerdictReason != "in a denied group: cn=x" || got.Allowed() {
		t.Errorf("created: verdict %q reason %q allowed %v; want deny_group, its reason, not allowed", got.Verdict, got.VerdictReason, got.Allowed())
	}
	plain := create(t, s, newUser("bob")) // no verdict given: stored as ok
	if got, _ := s.UserByID(ctx, plain.ID); got.Verdict != ldapbridge.VerdictOK || !got.Allowed() {
		t.Errorf("user created without a verdict: %q, allowed %v; want ok, allowed", got.Verdict, got.Allowed())
	}
	if st := states(t, s)["alice"]; st.Verdict != ldapbridge.VerdictDenyGroup {
		t.Errorf("SyncUserStates verdict %q, want deny_group", st.Verdict)
	}
	must(t, s.SetUserVerdict(ctx, u.ID, ldapbridge.VerdictOK, "", "h1:f1"), "SetUserVerdict")
	after, err := s.UserByID(ctx, u.ID)
	must(t, err, "UserByID")
	if after.Verdict != ldapbridge.VerdictOK || after.VerdictReason != "" || !after.Allowed() {
		t.Errorf("after SetUserVerdict: %q %q; want ok", after.Verdict, after.VerdictReason)
	}
	if after.Email != got.Email || after.IsActive != got.IsActive || !after.UpdatedAt.Equal(got.UpdatedAt) {
		t.Errorf("SetUserVerdict changed other columns: %+v -> %+v", got, after)
	}
	if st := states(t, s)["alice"]; st.Hash != "h1:f1" {
		t.Errorf("SetUserVerdict hash %q, want h1:f1", st.Hash)
	}
	bad := newUser("carol")
	bad.Verdict = "maybe"
	if err := s.CreateUser(ctx, bad); err == nil {
		t.Error("CreateUser accepted verdict \"maybe\"")
	}
	if err := s.SetUserVerdict(ctx, 1<<40, ldapbridge.VerdictOK, "", ""); err == nil {
		t.Error("SetUserVerdict of a missing user: no error")
	}
}

func states(t *testing.T, s ldapbridge.Store) map[string]ldapbridge.SyncUserState {
	t.Helper()
	out := map[string]ldapbridge.SyncUserState{}
	var last int64
	must(t, s.SyncUserStates(t.Context(), func(st ldapbridge.SyncUserState) error {
		if st.ID <= last {
			t.Errorf("SyncUserStates: id %d after %d, want increasing ids", st.ID, last)
		}
		last = st.ID
		out[st.Username] = st
		return nil
	}), "SyncUserStates")
	return out
}

func testSyncUserStates(t *testing.T, s ldapbridge.Store) {
	a := create(t, s, newUser("alice"))
	b := newUser("bob")
	b.IsActive = false
	create(t, s, b)
	l := newUser("root")
	l.Source, l.DN, l.StableID, l.PasswordHash = ldapbridge.SourceLocal, "", "", "$argon2id$x"
	create(t, s, l)
	got := states(t, s)
	if len(got) != 3 {
		t.Fatalf("SyncUserStates returned %d users, want 3", len(got))
	}
	want := ldapbridge.SyncUserState{ID: a.ID, Username: "alice", Source: ldapbridge.SourceLDAP, DN: a.DN, StableID: a.StableID, IsActive: true, Verdict: ldapbridge.VerdictOK}
	if got["alice"] != want {
		t.Errorf("alice: got %+v, want %+v", got["alice"], want)
	}
	if got["bob"].IsActive || got["root"].Source != ldapbridge.SourceLocal {
		t.Errorf("bob active=%v (want false), root source=%q (want local)", got["bob"].IsActive, got["root"].Source)
	}
}

func testSyncHashInvalidation(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	cases := []struct {
		name  string
		write func(u *ldapbridge.User) error
	}{
		{"UpdateUser", func(u *ldapbridge.User) error { u.Email = "new@example.com"; return s.UpdateUser(ctx, u) }},
		{"UpdateUserSameValues", func(u *ldapbridge.User) error { return s.UpdateUser(ctx, u) }},
		{"PhotoSet", func(u *ldapbridge.User) error { u.Photo = []byte{1, 2, 3}; return s.UpdateUser(ctx, u) }},
	}
	for _, tc := range cases {
		u := create(t, s, newUser("h-"+tc.name))
		must(t, s.SetSyncHash(ctx, u.ID, "h1"), "SetSyncHash")
		if got := states(t, s)[u.Username].Hash; got != "h1" {
			t.Fatalf("%s: hash after SetSyncHash = %q, want h1", tc.name, got)
		}
		must(t, tc.write(u), tc.name)
		if got := states(t, s)[u.Username].Hash; got != "" {
			t.Errorf("%s: hash after another write = %q, want \"\"", tc.name, got)
		}
	}
	// Clearing a photo invalidates too.
	u := newUser("h-photo-clear")
	u.Photo = []byte{9}
	create(t, s, u)
	must(t, s.SetSyncHash(ctx, u.ID, "h2"), "SetSyncHash")
	u.Photo, u.HasPhoto = nil, false
	must(t, s.UpdateUser(ctx, u), "UpdateUser clearing photo")
	if got := states(t, s)[u.Username].Hash; got != "" {
		t.Errorf("photo cleared: hash = %q, want \"\"", got)
	}
	wantErr(t, s.SetSyncHash(ctx, 999999, "x"), ldapbridge.ErrNotFound, "SetSyncHash of a missing user")
}

func testSyncHashKept(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("kept"))
	must(t, s.InTx(ctx, func(tx ldapbridge.Store) error {
		u.FirstName = "Changed"
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return tx.SetSyncHash(ctx, u.ID, "h3")
	}), "update then SetSyncHash in one transaction")
	must(t, s.RecordLogin(ctx, u.ID, time.Now()), "RecordLogin")
	if got := states(t, s)["kept"].Hash; got != "h3" {
		t.Errorf("hash after RecordLogin = %q, want h3 (a login time is not a mapped field)", got)
	}
}

func testSyncRuns(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	if runs, err := s.SyncRuns(ctx, 0); err != nil || len(runs) != 0 {
		t.Fatalf("SyncRuns on an empty store = %v, %v; want none", runs, err)
	}
	t0 := ms(time.Now().Add(-time.Hour))
	first := &ldapbridge.SyncRun{StartedAt: t0, Mode: "full", Server: "ldap://a", Outcome: "ok", Instance: "host-a:41",
		Counts: map[string]int64{"users_created": 3}, LDAPSearches: 2}
	must(t, s.RecordSyncRun(ctx, first), "RecordSyncRun first")
	if first.ID == 0 {
		t.Fatal("RecordSyncRun did not set the ID")
	}
	second := &ldapbridge.SyncRun{StartedAt: t0.Add(time.Minute), Mode: "incremental", Server: "ldap://a", Instance: "host-b:7", StartedBy: "admin (alice)"}
	must(t, s.RecordSyncRun(ctx, second), "RecordSyncRun second")
	end := t0.Add(2 * time.Minute)
	second.FinishedAt, second.Outcome, second.Error = &end, "aborted", "read failed"
	second.Counts, second.Instance = map[string]int64{"users_updated": 1}, "host-b:8"
	must(t, s.RecordSyncRun(ctx, second), "RecordSyncRun update")
	runs, err := s.SyncRuns(ctx, 0)
	must(t, err, "SyncRuns")
	if len(runs) != 2 || runs[0].ID != second.ID || runs[1].ID != first.ID {
		t.Fatalf("SyncRuns = %d runs, want second then first", len(runs))
	}
	r := runs[0]
	if r.Outcome != "aborted" || r.Error != "read failed" || r.Mode != "incremental" || r.Counts["users_updated"] != 1 || r.Instance != "host-b:8" || r.StartedBy != "admin (alice)" ||
		!sameTime(r.FinishedAt, &end) || !r.StartedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("updated run read back as %+v", r)
	}
	if runs[1].FinishedAt != nil || runs[1].Counts["users_created"] != 3 || runs[1].LDAPSearches != 2 || runs[1].Instance != "host-a:41" || runs[1].StartedBy != "" {
		t.Errorf("first run read back as %+v", runs[1])
	}
	if one, _ := s.SyncRuns(ctx, 1); len(one) != 1 {
		t.Errorf("SyncRuns(limit 1) returned %d runs", len(one))
	}
}

func testSyncCursor(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	read := func(server string) string {
		c, err := s.SyncCursor(ctx, server)
		must(t, err, "SyncCursor "+server)
		return c
	}
	if c := read("ldap://a"); c != "" {
		t.Fatalf("cursor of a new store = %q, want \"\"", c)
	}
	must(t, s.SetSyncCursor(ctx, "ldap://a", "c1"), "SetSyncCursor")
	must(t, s.SetSyncCursor(ctx, "ldap://b", "b1"), "SetSyncCursor")
	must(t, s.SetSyncCursor(ctx, "ldap://a", "c2"), "SetSyncCursor replace")
	if a, b := read("ldap://a"), read("ldap://b"); a != "c2" || b != "b1" {
		t.Errorf("cursors = %q, %q; want c2, b1", a, b)
	}
	must(t, s.SetSyncCursor(ctx, "ldap://a", ""), "SetSyncCursor clear")
	if c := read("ldap://a"); c != "" {
		t.Errorf("cleared cursor = %q", c)
	}
}
