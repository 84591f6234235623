// Package apijson holds the JSON views of users and groups that the web
// API (/api/...) and the command line (`users list --json`, `users show
// --json`, `groups list --json`, `explain --json`, `auth test --json`) print,
// so they
// stay one contract (DESIGN.md). It depends on the root package only: it
// must not import web, auth, ldapdir, dirsync or a store driver.
package apijson

import (
	"slices"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// User is a user as `users list --json` and /api/users render it.
type User struct {
	Username string `json:"username"`
	Source   string `json:"source"`
	// Directory names the account's directory (issue 14): a
	// directories: entry's name, or "default".
	Directory   string `json:"directory"`
	DN          string `json:"dn"`
	StableID    string `json:"stable_id"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	IsActive    bool   `json:"is_active"`
	IsStaff     bool   `json:"is_staff"`
	IsSuperuser bool   `json:"is_superuser"`
	// Allowed says the stored admission verdict admits the user.
	Allowed      bool              `json:"allowed"`
	Flags        map[string]bool   `json:"flags"`
	Profile      map[string]string `json:"profile"`
	HasPhoto     bool              `json:"has_photo"`
	LastLoginAt  *time.Time        `json:"last_login_at"`
	LastSyncedAt *time.Time        `json:"last_synced_at"`
}

// UserDetail is a user as `users show --json` and /api/users/{name}
// render it: User with the direct and effective group names.
type UserDetail struct {
	User
	// Verdict is ok, require_group, deny_group, inactive or removed, and
	// VerdictReason says why ("" for ok).
	Verdict       string   `json:"verdict"`
	VerdictReason string   `json:"verdict_reason"`
	DirectGroups  []string `json:"direct_groups"`
	Groups        []string `json:"groups"`
}

// NewUser renders u; maps are {} rather than null.
func NewUser(u *ldapbridge.User) User {
	return User{Username: u.Username, Source: u.Source, Directory: DirectoryOf(u), DN: u.DN, StableID: u.StableID,
		FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser, Allowed: u.Allowed(),
		Flags: nonNilMap(u.Flags), Profile: nonNilMap(u.Profile), HasPhoto: u.HasPhoto,
		LastLoginAt: u.LastLoginAt, LastSyncedAt: u.LastSyncedAt}
}

// DirectoryOf is the directory name of u: u.Directory, or "default" when
// it is "".
func DirectoryOf(u *ldapbridge.User) string {
	if u.Directory == "" {
		return ldapbridge.DefaultDirectory
	}
	return u.Directory
}

// LoginUser is the `user` object of `auth test --json`: the account as a
// login left it, with its groups in the store.
type LoginUser struct {
	Username    string            `json:"username"`
	FirstName   string            `json:"first_name"`
	LastName    string            `json:"last_name"`
	Email       string            `json:"email"`
	IsActive    bool              `json:"is_active"`
	IsStaff     bool              `json:"is_staff"`
	IsSuperuser bool              `json:"is_superuser"`
	Flags       map[string]bool   `json:"flags"`
	Groups      []string          `json:"groups"`
	Profile     map[string]string `json:"profile"`
}

// NewLoginUser renders u, or returns nil for no user; groups are sorted,
// and lists and maps are never null.
func NewLoginUser(u *ldapbridge.User) *LoginUser {
	if u == nil {
		return nil
	}
	groups := append([]string{}, u.Groups...)
	slices.Sort(groups)
	return &LoginUser{
		Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		Flags: nonNilMap(u.Flags), Groups: groups, Profile: nonNilMap(u.Profile),
	}
}

// NewUserDetail renders u with its groups; lists are [] rather than null.
func NewUserDetail(u *ldapbridge.User) UserDetail {
	v, reason := u.EffectiveVerdict(), u.VerdictReason
	if v == ldapbridge.VerdictInactive && reason == "" {
		reason = "the account is inactive"
	}
	if v == ldapbridge.VerdictOK {
		reason = ""
	}
	return UserDetail{User: NewUser(u), Verdict: v, VerdictReason: reason, DirectGroups: nonNil(u.DirectGroups), Groups: nonNil(u.Groups)}
}

// Group is a group as `groups list --json` and /api/groups render it.
type Group struct {
	Name string `json:"name"`
	// Source is "ldap" (mirrored from the directory) or "local" (made in
	// the application, with members set by hand).
	Source        string   `json:"source"`
	DN            string   `json:"dn"`
	DirectMembers int      `json:"direct_members"`
	MemberGroups  []string `json:"member_groups"`
}

// NewGroup renders g; MemberGroups is [] rather than null, and an empty
// Source is "ldap".
func NewGroup(g *ldapbridge.Group) Group {
	source := g.Source
	if source == "" {
		source = ldapbridge.SourceLDAP
	}
	return Group{Name: g.Name, Source: source, DN: g.DN, DirectMembers: g.DirectMembers, MemberGroups: nonNil(g.MemberGroups)}
}

// GroupDetail is one group as /api/groups/{name} renders it: Group with
// its direct member users' names.
type GroupDetail struct {
	Group
	Members []string `json:"members"`
}

// nonNil returns s, or an empty list when s is nil, so that JSON shows []
// and never null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nonNilMap returns m, or an empty map when m is nil, so that JSON shows {}
// and never null.
func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
