// Package storetest is the contract suite that every ldapbridge.Store
// implementation must pass. A driver's test calls Run with a function that
// opens a fresh, empty store.
//
// Beyond the Store doc comments, the suite pins down: times round-trip in
// UTC at millisecond precision; usernames compare byte-exactly (callers
// normalise to NFC); email and DN compare case-insensitively at least for
// ASCII; ListUsers and group lists sort in byte order; reads return
// non-nil Flags and Profile maps.
//
// storetest must not import a store driver (the drivers' tests call it) nor
// web, auth or dirsync.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// Run runs the suite. open must return a new empty store for each call,
// closed by a t.Cleanup it registers; Run migrates it.
func Run(t *testing.T, open func(t *testing.T) ldapbridge.Store) {
	suites := [][]test{userTests, groupTests, txTests, syncTests, offlineTests, auditTests, directoryTests, bulkTests}
	for _, suite := range suites {
		for _, tc := range suite {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				if err := s.Migrate(t.Context()); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
				tc.fn(t, s)
			})
		}
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s ldapbridge.Store)
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: got error %v, want %v", what, err, kind)
	}
}

// newUser returns a valid directory user that has not been stored.
func newUser(name string) *ldapbridge.User {
	return &ldapbridge.User{
		Username:  name,
		Source:    ldapbridge.SourceLDAP,
		DN:        "uid=" + name + ",ou=Users,o=acme,dc=jumpcloud,dc=com",
		StableID:  "uuid-" + name,
		FirstName: "First " + name,
		LastName:  "Last " + name,
		Email:     name + "@example.com",
		IsActive:  true,
		Flags:     map[string]bool{"beta": true},
		Profile:   map[string]string{"title": "Engineer"},
	}
}

func create(t *testing.T, s ldapbridge.Store, u *ldapbridge.User) *ldapbridge.User {
	t.Helper()
	must(t, s.CreateUser(t.Context(), u), "CreateUser "+u.Username)
	return u
}

func group(t *testing.T, s ldapbridge.Store, name string) *ldapbridge.Group {
	t.Helper()
	g := &ldapbridge.Group{Name: name, DN: "cn=" + name + ",ou=Users,o=acme,dc=jumpcloud,dc=com", StableID: "g-" + name}
	must(t, s.UpsertGroup(t.Context(), g), "UpsertGroup "+name)
	return g
}

func get(t *testing.T, s ldapbridge.Store, username string) *ldapbridge.User {
	t.Helper()
	u, err := s.User(t.Context(), username)
	must(t, err, "User "+username)
	return u
}

// ms is t as the store keeps it: UTC, millisecond precision.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b) && a.Location() == time.UTC && b.Location() == time.UTC
}

// diffUser lists the stored fields where got differs from want.
func diffUser(want, got *ldapbridge.User) []string {
	var d []string
	check := func(field string, ok bool, w, g any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %#v, want %#v", field, g, w))
		}
	}
	check("ID", want.ID == got.ID, want.ID, got.ID)
	check("Username", want.Username == got.Username, want.Username, got.Username)
	check("Source", want.Source == got.Source, want.Source, got.Source)
	check("DN", want.DN == got.DN, want.DN, got.DN)
	check("StableID", want.StableID == got.StableID, want.StableID, got.StableID)
	check("FirstName", want.FirstName == got.FirstName, want.FirstName, got.FirstName)
	check("LastName", want.LastName == got.LastName, want.LastName, got.LastName)
	check("Email", want.Email == got.Email, want.Email, got.Email)
	check("IsActive", want.IsActive == got.IsActive, want.IsActive, got.IsActive)
	check("IsStaff", want.IsStaff == got.IsStaff, want.IsStaff, got.IsStaff)
	check("IsSuperuser", want.IsSuperuser == got.IsSuperuser, want.IsSuperuser, got.IsSuperuser)
	check("Flags", sameMap(want.Flags, got.Flags) && got.Flags != nil, want.Flags, got.Flags)
	check("Profile", sameMap(want.Profile, got.Profile) && got.Profile != nil, want.Profile, got.Profile)
	check("HasPhoto", want.HasPhoto == got.HasPhoto, want.HasPhoto, got.HasPhoto)
	check("Photo (reads must not load it)", got.Photo == nil, nil, got.Photo)
	check("PasswordHash", want.PasswordHash == got.PasswordHash, want.PasswordHash, got.PasswordHash)
	check("CreatedAt", sameTime(&want.CreatedAt, &got.CreatedAt), want.CreatedAt, got.CreatedAt)
	check("UpdatedAt", sameTime(&want.UpdatedAt, &got.UpdatedAt), want.UpdatedAt, got.UpdatedAt)
	check("LastLoginAt", sameTime(want.LastLoginAt, got.LastLoginAt), want.LastLoginAt, got.LastLoginAt)
	check("LastSyncedAt", sameTime(want.LastSyncedAt, got.LastSyncedAt), want.LastSyncedAt, got.LastSyncedAt)
	return d
}

func sameMap[V comparable](a, b map[string]V) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func wantUser(t *testing.T, want, got *ldapbridge.User, what string) {
	t.Helper()
	for _, d := range diffUser(want, got) {
		t.Errorf("%s: %s", what, d)
	}
}

func wantNames(t *testing.T, got, want []string, what string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// usernames lists the users' names in order.
func usernames(us []*ldapbridge.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

// withTimeout fails the test when fn does not return in d: a hang (a
// recursive query that loops, a deadlock) becomes a failure.
func withTimeout(t *testing.T, d time.Duration, what string, fn func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	select {
	case <-done:
	case <-time.After(d + 5*time.Second):
		t.Fatalf("%s: did not finish within %v", what, d)
	}
}
