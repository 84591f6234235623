package ldapbridge

import (
	"context"
	"errors"
	"time"
)

// ErrGroupSource is wrapped, together with ErrConflict, by the error of an
// UpsertGroup whose match is a group of the other source: a directory
// group and a local group never share a name, so a login or a sync skips
// a directory group that a local group's name hides (with a warning)
// instead of merging the two.
var ErrGroupSource = errors.New("a group of the other source (directory or local) has this name")

// UserQuery selects users for Store.ListUsers.
type UserQuery struct {
	// Search matches username, names and email, case-insensitively, by substring.
	Search string
	// Source filters by SourceLDAP or SourceLocal; "" means both.
	Source string
	// Group keeps the direct members of the group with this name; "" means all.
	Group string
	// Directory keeps the accounts of the directory with this name; "" means all.
	Directory string
	// Limit and Offset page the result; Limit 0 means no limit.
	Limit  int
	Offset int
}

// Store keeps users, groups, memberships, profiles and photos. The sqlite
// and postgres packages implement it; storetest holds the suite both pass.
// Its consumers each take the small part they call (web.Store, auth.Store,
// dirsync.Store); Store is their union and must stay a superset of each.
//
// Reads return ErrNotFound when nothing matches. Users returned by User,
// UserByStableID, UserByField and UserByID carry DirectGroups and Groups
// (effective, nested included) and HasPhoto, but not Photo.
type Store interface {
	// Migrate applies the embedded migrations that have not run yet.
	Migrate(ctx context.Context) error
	// InTx runs fn with a Store whose calls share one transaction,
	// committed when fn returns nil and rolled back otherwise.
	InTx(ctx context.Context, fn func(tx Store) error) error
	Close() error

	User(ctx context.Context, username string) (*User, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	UserByStableID(ctx context.Context, stableID string) (*User, error)
	// UserByField matches one of the columns username, email, first_name,
	// last_name or dn, exactly (case-insensitively for email and dn).
	// ErrAmbiguous when more than one user matches.
	UserByField(ctx context.Context, field, value string) (*User, error)
	// ListUsers returns users sorted by username, without group lists.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// CreateUser inserts u (profile and photo included) and sets u.ID,
	// u.CreatedAt and u.UpdatedAt. ErrConflict when the username or stable
	// id is taken.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser writes every field of u, found by u.ID, including profile
	// and flags; the photo is written only when u.Photo is non-nil or
	// u.HasPhoto is false (which clears it).
	UpdateUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, id int64) error
	// Photo returns the user's photo bytes, or ErrNotFound.
	Photo(ctx context.Context, userID int64) ([]byte, error)
	// RecordLogin sets last_login_at.
	RecordLogin(ctx context.Context, userID int64, at time.Time) error

	Group(ctx context.Context, name string) (*Group, error)
	GroupByDN(ctx context.Context, dn string) (*Group, error)
	// ListGroups returns every group sorted by name, with DirectMembers and
	// MemberGroups filled.
	ListGroups(ctx context.Context) ([]*Group, error)
	// UpsertGroup creates or updates a group matched by StableID, else DN,
	// else Name, and sets g.ID (and g.Source, SourceLDAP when empty). A
	// group's source never changes: ErrConflict when the match has the
	// other source (a directory group named like a local one, or the
	// reverse), wrapping ErrGroupSource too.
	UpsertGroup(ctx context.Context, g *Group) error
	DeleteGroup(ctx context.Context, id int64) error

	// SetUserGroups makes groupIDs exactly the user's direct groups.
	SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error
	// SetUserGroupsWithin makes groupIDs exactly the user's direct groups
	// among the groups owned reports true for; the user's memberships in
	// every other group (local groups, directory groups groups.mirror
	// leaves out) stay as they are. owned is called with each group the
	// user is directly in now.
	SetUserGroupsWithin(ctx context.Context, userID int64, groupIDs []int64, owned func(*Group) bool) error
	// SetGroupParents makes parentIDs exactly the groups that group
	// groupID is directly a member of.
	SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error
	// Memberships returns every direct edge, for a sync to diff against.
	Memberships(ctx context.Context) ([]Membership, error)
	// AddMemberships and RemoveMemberships change direct edges in bulk;
	// adding an edge that exists or removing one that does not is no error.
	AddMemberships(ctx context.Context, ms []Membership) error
	RemoveMemberships(ctx context.Context, ms []Membership) error

	// SyncUserStates calls fn with the compact state of every user, local
	// ones included, in id order.
	SyncUserStates(ctx context.Context, fn func(SyncUserState) error) error
	// SetSyncHash records hash as the sync hash of the user's current row;
	// any later write to the row by other means invalidates it.
	SetSyncHash(ctx context.Context, userID int64, hash string) error
	// SetUserVerdict sets the user's admission verdict, its reason and the
	// sync hash together, and nothing else.
	SetUserVerdict(ctx context.Context, userID int64, verdict, reason, hash string) error
	// RecordSyncRun inserts run when run.ID is 0 (setting run.ID) and
	// otherwise updates that run.
	RecordSyncRun(ctx context.Context, run *SyncRun) error
	// SyncRuns returns the most recent runs first, at most limit (0 = all).
	SyncRuns(ctx context.Context, limit int) ([]*SyncRun, error)
	// SyncCursor returns the incremental-sync cursor stored for server, or
	// "" when there is none.
	SyncCursor(ctx context.Context, server string) (string, error)
	// SetSyncCursor stores cursor for server; "" removes it.
	SetSyncCursor(ctx context.Context, server, cursor string) error

	// SaveOfflineVerifier stores the user's offline verifier
	// (access.offline_login), replacing any earlier one and resetting its
	// failure count. UpdateUser drops it when written with a
	// User.PasswordChanged other than the verifier's, and any write that
	// leaves the user inactive or with a verdict other than ok drops it.
	SaveOfflineVerifier(ctx context.Context, v *OfflineVerifier) error
	// OfflineVerifier returns the user's offline verifier, or ErrNotFound.
	OfflineVerifier(ctx context.Context, userID int64) (*OfflineVerifier, error)
	// RecordOfflineFailure counts a wrong offline attempt and deletes the
	// verifier when max attempts have failed (max <= 0: never); it
	// returns the count, or ErrNotFound when there is no verifier.
	RecordOfflineFailure(ctx context.Context, userID int64, max int) (int, error)
	// DeleteOfflineVerifier removes the user's offline verifier;
	// ErrNotFound when there was none.
	DeleteOfflineVerifier(ctx context.Context, userID int64) error
}
