// Package apijson holds the JSON views of users and groups that the web
// API (/api/...) and the command line (`users list --json`, `users show
// --json`, `groups list --json`, `explain --json`) both print, so the two
// stay one contract (DESIGN.md). It depends on the root package only: it
// must not import web, auth, ldapdir, dirsync or a store driver.
package apijson

import (
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// User is a user as `users list --json` and /api/users render it.
type User struct {
	Username     string            `json:"username"`
	Source       string            `json:"source"`
	DN           string            `json:"dn"`
	StableID     string            `json:"stable_id"`
	FirstName    string            `json:"first_name"`
	LastName     string            `json:"last_name"`
	Email        string            `json:"email"`
	IsActive     bool              `json:"is_active"`
	IsStaff      bool              `json:"is_staff"`
	IsSuperuser  bool              `json:"is_superuser"`
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
	DirectGroups []string `json:"direct_groups"`
	Groups       []string `json:"groups"`
}

// NewUser renders u; maps are {} rather than null.
func NewUser(u *ldapbridge.User) User {
	j := User{Username: u.Username, Source: u.Source, DN: u.DN, StableID: u.StableID,
		FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		Flags: u.Flags, Profile: u.Profile, HasPhoto: u.HasPhoto,
		LastLoginAt: u.LastLoginAt, LastSyncedAt: u.LastSyncedAt}
	if j.Flags == nil {
		j.Flags = map[string]bool{}
	}
	if j.Profile == nil {
		j.Profile = map[string]string{}
	}
	return j
}

// NewUserDetail renders u with its groups; lists are [] rather than null.
func NewUserDetail(u *ldapbridge.User) UserDetail {
	return UserDetail{User: NewUser(u), DirectGroups: nonNil(u.DirectGroups), Groups: nonNil(u.Groups)}
}

// Group is a group as `groups list --json` and /api/groups render it.
type Group struct {
	Name          string   `json:"name"`
	DN            string   `json:"dn"`
	DirectMembers int      `json:"direct_members"`
	MemberGroups  []string `json:"member_groups"`
}

// NewGroup renders g; MemberGroups is [] rather than null.
func NewGroup(g *ldapbridge.Group) Group {
	return Group{Name: g.Name, DN: g.DN, DirectMembers: g.DirectMembers, MemberGroups: nonNil(g.MemberGroups)}
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
