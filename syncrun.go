package ldapbridge

import "time"

// SyncUserState is the compact view of a stored user that a directory sync
// diffs against, so a run over many users never loads full rows.
type SyncUserState struct {
	ID       int64
	Username string
	Source   string
	DN       string
	StableID string
	// Directory is the account's directory (User.Directory), "" for
	// DefaultDirectory.
	Directory string
	IsActive  bool
	// Verdict is the stored admission verdict (User.EffectiveVerdict).
	Verdict string
	// Hash is the sync hash recorded with SetSyncHash, or "" when the row
	// has been written by anything else since (a login, an admin).
	Hash string
}

// SyncRun is one recorded directory sync run.
type SyncRun struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt *time.Time
	// Mode is full or incremental.
	Mode string
	// Server is the directory URL the run read from.
	Server string
	// Directory names the directory the run read (DefaultDirectory for
	// the single form); "" is recorded as DefaultDirectory.
	Directory string
	// Instance names the ldapbridge process that ran it (hostname:pid or
	// the --instance flag), so history shows which of several instances ran.
	Instance string
	// StartedBy says who or what started the run: "schedule", "cli",
	// "live", "admin (NAME)", "approve (NAME)"; "" when not recorded.
	StartedBy string
	// Outcome is ok, aborted, cancelled, failed or dry_run.
	Outcome string
	Error   string
	// Counts holds the run's counters (users_created, memberships_added, …).
	Counts       map[string]int64
	LDAPSearches int64
}
