package storetest

import (
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var offlineTests = []test{
	{"OfflineVerifierRoundTrip", testOfflineRoundTrip},
	{"OfflineVerifierFailures", testOfflineFailures},
	{"OfflineVerifierDroppedWhenNotAdmitted", testOfflineDroppedWhenNotAdmitted},
	{"OfflineVerifierDroppedOnPasswordChange", testOfflineDroppedOnPasswordChange},
}

func saveVerifier(t *testing.T, s ldapbridge.Store, u *ldapbridge.User, stamp string) *ldapbridge.OfflineVerifier {
	t.Helper()
	v := &ldapbridge.OfflineVerifier{UserID: u.ID, Verifier: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$" + u.Username,
		PasswordChanged: stamp, LoginAt: time.Now().Add(-time.Hour)}
	must(t, s.SaveOfflineVerifier(t.Context(), v), "SaveOfflineVerifier "+u.Username)
	return v
}

func hasVerifier(t *testing.T, s ldapbridge.Store, u *ldapbridge.User) bool {
	t.Helper()
	_, err := s.OfflineVerifier(t.Context(), u.ID)
	if err != nil {
		wantErr(t, err, ldapbridge.ErrNotFound, "OfflineVerifier "+u.Username)
		return false
	}
	return true
}

func testOfflineRoundTrip(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("ann"))
	_, err := s.OfflineVerifier(ctx, u.ID)
	wantErr(t, err, ldapbridge.ErrNotFound, "OfflineVerifier before any save")
	v := saveVerifier(t, s, u, "20260101000000Z")
	got, err := s.OfflineVerifier(ctx, u.ID)
	must(t, err, "OfflineVerifier")
	if got.Verifier != v.Verifier || got.PasswordChanged != v.PasswordChanged || !got.LoginAt.Equal(ms(v.LoginAt)) || got.Failures != 0 || got.UserID != u.ID {
		t.Errorf("OfflineVerifier = %+v, want %+v at ms precision", got, v)
	}
	// A second save replaces the first and resets the failures.
	_, err = s.RecordOfflineFailure(ctx, u.ID, 5)
	must(t, err, "RecordOfflineFailure")
	v2 := &ldapbridge.OfflineVerifier{UserID: u.ID, Verifier: "other", PasswordChanged: "x", LoginAt: time.Now()}
	must(t, s.SaveOfflineVerifier(ctx, v2), "SaveOfflineVerifier again")
	got, err = s.OfflineVerifier(ctx, u.ID)
	must(t, err, "OfflineVerifier")
	if got.Verifier != "other" || got.PasswordChanged != "x" || got.Failures != 0 {
		t.Errorf("after a second save: %+v, want verifier other, stamp x, no failures", got)
	}
	must(t, s.DeleteOfflineVerifier(ctx, u.ID), "DeleteOfflineVerifier")
	wantErr(t, s.DeleteOfflineVerifier(ctx, u.ID), ldapbridge.ErrNotFound, "DeleteOfflineVerifier twice")
	if hasVerifier(t, s, u) {
		t.Error("the verifier survived DeleteOfflineVerifier")
	}
	// Deleting the user deletes the verifier with it.
	saveVerifier(t, s, u, "")
	must(t, s.DeleteUser(ctx, u.ID), "DeleteUser")
	if hasVerifier(t, s, u) {
		t.Error("the verifier survived DeleteUser")
	}
}

func testOfflineFailures(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	u := create(t, s, newUser("bob"))
	_, err := s.RecordOfflineFailure(ctx, u.ID, 3)
	wantErr(t, err, ldapbridge.ErrNotFound, "RecordOfflineFailure without a verifier")
	saveVerifier(t, s, u, "")
	for want := 1; want <= 2; want++ {
		n, err := s.RecordOfflineFailure(ctx, u.ID, 3)
		must(t, err, "RecordOfflineFailure")
		if n != want {
			t.Errorf("failure count = %d, want %d", n, want)
		}
		if !hasVerifier(t, s, u) {
			t.Fatalf("the verifier was deleted after %d of 3 failures", want)
		}
	}
	n, err := s.RecordOfflineFailure(ctx, u.ID, 3)
	must(t, err, "RecordOfflineFailure")
	if n != 3 || hasVerifier(t, s, u) {
		t.Errorf("after the third failure of 3: count %d, verifier kept %v; want 3 and deleted", n, hasVerifier(t, s, u))
	}
}

func testOfflineDroppedWhenNotAdmitted(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a := create(t, s, newUser("ann"))
	b := create(t, s, newUser("bob"))
	c := create(t, s, newUser("cid"))
	d := create(t, s, newUser("dan"))
	for _, u := range []*ldapbridge.User{a, b, c, d} {
		saveVerifier(t, s, u, "")
	}
	// An update that keeps the user admitted keeps the verifier.
	a.FirstName = "Renamed"
	must(t, s.UpdateUser(ctx, a), "UpdateUser admitted")
	// Inactive, a refusing verdict by UpdateUser, and by SetUserVerdict.
	b.IsActive, b.Verdict = false, ldapbridge.VerdictInactive
	must(t, s.UpdateUser(ctx, b), "UpdateUser inactive")
	c.Verdict, c.VerdictReason = ldapbridge.VerdictRequireGroup, "not in the group"
	must(t, s.UpdateUser(ctx, c), "UpdateUser require_group")
	must(t, s.SetUserVerdict(ctx, d.ID, ldapbridge.VerdictRemoved, "gone", ""), "SetUserVerdict removed")
	for _, tc := range []struct {
		u    *ldapbridge.User
		want bool
	}{{a, true}, {b, false}, {c, false}, {d, false}} {
		if got := hasVerifier(t, s, tc.u); got != tc.want {
			t.Errorf("%s: verifier kept = %v, want %v", tc.u.Username, got, tc.want)
		}
	}
}

func testOfflineDroppedOnPasswordChange(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	a := create(t, s, newUser("ann"))
	saveVerifier(t, s, a, "20260101000000Z")
	// No stamp known (the attribute was not read): kept.
	must(t, s.UpdateUser(ctx, a), "UpdateUser without a stamp")
	a.PasswordChanged = "20260101000000Z"
	must(t, s.UpdateUser(ctx, a), "UpdateUser with the same stamp")
	if !hasVerifier(t, s, a) {
		t.Fatal("the verifier was dropped by an update with the same password-change stamp")
	}
	a.PasswordChanged = "20260202000000Z"
	must(t, s.UpdateUser(ctx, a), "UpdateUser with a new stamp")
	if hasVerifier(t, s, a) {
		t.Error("the verifier survived a write with a new password-change stamp")
	}
}
