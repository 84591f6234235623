package ldapbridge

import "time"

// DefaultDirectory is the directory name of the single-directory
// configuration, and of every account stored before there were several.
const DefaultDirectory = "default"

// Source says where an account comes from.
const (
	SourceLDAP  = "ldap"  // mirrored from the directory
	SourceLocal = "local" // a local break-glass account with its own password
)

// User is an account in the store, mirrored from the directory or local.
type User struct {
	ID       int64
	Username string
	Source   string // SourceLDAP or SourceLocal
	// Directory names the directory the account belongs to (a
	// directories: entry's name; DefaultDirectory for the single form and
	// for local accounts). An account never moves between directories: its
	// identity is (Directory, StableID). "" is written as DefaultDirectory.
	Directory string
	DN        string
	// StableID is the directory's immutable identity (entryUUID, objectGUID
	// as its canonical string, nsUniqueId), or "" when the server has none.
	StableID  string
	FirstName string
	LastName  string
	Email     string

	IsActive    bool
	IsStaff     bool
	IsSuperuser bool
	// Verdict is the stored admission verdict (VerdictOK, VerdictRequireGroup,
	// ...) and VerdictReason says why; "" reads as VerdictOK for an active
	// user and VerdictInactive for an inactive one. Only auth's admission
	// function and a sync's removals set them.
	Verdict       string
	VerdictReason string
	// Flags holds the custom flags from access.flags; the three standard
	// flags live in the fields above.
	Flags map[string]bool
	// Profile holds users.profile fields, multi-valued ones joined with
	// users.multi_value_separator.
	Profile map[string]string

	// Photo is the raw photo bytes; HasPhoto is set by the store even when
	// Photo was not loaded.
	Photo    []byte
	HasPhoto bool

	// PasswordHash is a PHC-format argon2id or bcrypt hash for local
	// accounts; always "" for directory users.
	PasswordHash string

	// PasswordChanged is the directory's password-change stamp
	// (pwdChangedTime, or pwdLastSet on Active Directory) as read by the
	// login or sync that mapped the user, when access.offline_login asks
	// for it; not stored in the user's row. A store that writes the user
	// with a stamp other than the offline verifier's drops the verifier.
	PasswordChanged string

	// DirectGroups and Groups are group names: the user's direct
	// memberships, and the effective ones (nested included). Filled by
	// the store on reads; sorted.
	DirectGroups []string
	Groups       []string
	// LocalGroups are the names among Groups that are local groups
	// (Group.Source SourceLocal), which no login or sync changes. Sorted.
	LocalGroups []string

	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
	LastSyncedAt *time.Time
}

// Admission verdicts: why a user is or is not admitted. A login, a sync and
// the session check all read the one stored verdict.
const (
	VerdictOK           = "ok"            // admitted
	VerdictRequireGroup = "require_group" // not in access.require
	VerdictDenyGroup    = "deny_group"    // in access.deny
	VerdictInactive     = "inactive"      // is_active is false (a flag, a disabled account, an admin)
	VerdictRemoved      = "removed"       // gone from the directory; deactivated by a sync
)

// EffectiveVerdict returns the user's verdict with "" resolved: VerdictOK
// for an active user, VerdictInactive for an inactive one; an inactive user
// is never VerdictOK.
func (u *User) EffectiveVerdict() string {
	switch {
	case u.Verdict != "" && u.Verdict != VerdictOK:
		return u.Verdict
	case !u.IsActive:
		return VerdictInactive
	}
	return VerdictOK
}

// Allowed reports whether the stored verdict admits the user: active, and
// not refused by access.require or access.deny.
func (u *User) Allowed() bool { return u.EffectiveVerdict() == VerdictOK }

// Group is a group in the store: mirrored from the directory (Source
// SourceLDAP) or local to the application (SourceLocal). A local group has
// no DN or stable id; its members are set only by hand (the CLI, the admin
// pages, AddMemberships), never by a login or a sync. A directory group and
// a local group never share a name.
type Group struct {
	ID     int64
	Name   string
	Source string // SourceLDAP or SourceLocal; "" in UpsertGroup means SourceLDAP
	// Directory names the directory a directory group belongs to (""
	// is written as DefaultDirectory); its identity is (Directory,
	// StableID). Local groups are shared: their Directory means nothing.
	Directory string
	DN        string
	StableID  string
	// DirectMembers is the number of users directly in the group, and
	// MemberGroups the names of the groups directly in it; filled by
	// Store.ListGroups.
	DirectMembers int
	MemberGroups  []string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Membership is one direct edge: a user (UserID) or a group (ChildGroupID)
// is a member of GroupID. Exactly one of UserID and ChildGroupID is set.
type Membership struct {
	GroupID      int64
	UserID       int64
	ChildGroupID int64
}
