package dirsync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// ChangeSource is one way of reading a run's users: one change-tracking
// mechanism, with its cursor fields, its server pinning, its filter and the
// way it finds deletions. A Syncer makes one per run (Options.NewSource, or
// the built-in choice: Active Directory's uSNChanged, RFC 4533 content sync,
// or modifyTimestamp). Its methods are called one at a time: Read on the
// run's reader goroutine, the others on the goroutine that called Run.
type ChangeSource interface {
	// Kind names the cursor kind this source writes and resumes from.
	Kind() string
	// Open starts the run: it may pin one server, and reads the root DSE of
	// the server the run reads. Every other search of the run (groups,
	// ranged members) goes to the Directory it returns. Its error aborts
	// the run.
	Open(ctx context.Context) (Directory, *ldapbridge.ServerInfo, error)
	// Incremental returns nil when this server allows incremental reads,
	// else why not (the run is then full and the error is its reason).
	Incremental() error
	// Resume checks a stored cursor of this Kind; an error makes the run
	// full and says why.
	Resume(since *Cursor) error
	// Read reads the users under each users.search base and hands them to
	// out: every one of them when since is nil (a full read, after which
	// the stored directory users it did not hand over are removed), else
	// those changed since the cursor, and the deletions it can see. An
	// incremental read that fails with ldapbridge.ErrSyncRefreshRequired or
	// ldapbridge.ErrSyncSizeLimit makes the run read everything instead;
	// any other error aborts it.
	Read(ctx context.Context, since *Cursor, out UserSink) error
	// Checkpoint writes into next where the next run resumes, after a
	// complete run.
	Checkpoint(next *Cursor)
	// Searches is the number of LDAP searches the source has made.
	Searches() int
	// Close releases what Open took; it is called even when Open failed.
	Close() error
}

// UserSink takes what a ChangeSource reads. Its methods are called from
// the goroutine that runs ChangeSource.Read.
type UserSink interface {
	// Entries plans a page of user entries; it returns ctx's error once the
	// run is cancelled, which should end the read.
	Entries(ctx context.Context, page []*ldapbridge.Entry) error
	// Deleted reports users deleted in the directory, by stable id as the
	// mapping computes it (entryUUID, objectGUID…).
	Deleted(stableIDs ...string)
	// Present reports, by lowercase stable id, every user still under base
	// in scope (a content-sync present phase): the stored directory users
	// there that it does not list are gone.
	Present(base string, scope ldapbridge.Scope, stableIDs []string)
	// Warn adds a warning to the run's report.
	Warn(msg string)
}

// newSource returns the change source of one run: Options.NewSource's, or
// the built-in one for the server. Only the built-in choice on a directory
// other than Active Directory reads the root DSE first (counted in
// searches); every other source reads it in Open.
func (s *Syncer) newSource(ctx context.Context, ro RunOptions, start time.Time, searches *int) (ChangeSource, error) {
	if s.options.NewSource != nil {
		return s.options.NewSource(s.options.Dir), nil
	}
	read := pagedRead{dir: s.options.Dir, search: s.cfg.Users.Search, attrs: s.options.Mapper.Attributes()}
	if s.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory {
		return &usnSource{pagedRead: read, base: s.options.Dir, syncFilter: s.cfg.Users.SyncFilter, mapper: s.options.Mapper}, nil
	}
	info, err := s.options.Dir.Info(ctx)
	*searches++
	if err != nil {
		return nil, fmt.Errorf("reading the server's root DSE: %w", err)
	}
	if cs, ok := s.options.Dir.(ldapbridge.ContentSyncer); ok && s.contentSyncUsable(info) {
		return &contentSyncSource{pagedRead: read, syncer: cs, info: info, syncFilter: s.cfg.Users.SyncFilter,
			dryRun: ro.DryRun, start: start, cookies: map[string]string{}}, nil
	}
	return &modTimeSource{pagedRead: read, info: info, syncFilter: s.cfg.Users.SyncFilter, skew: s.options.SkewMargin, start: start}, nil
}

// contentSyncUsable reports whether the server info describes offers RFC
// 4533 content sync that this configuration can use: an OpenLDAP or
// JumpCloud server listing the sync request control, with entryUUID as the
// stable id (deletions arrive as entryUUIDs).
func (s *Syncer) contentSyncUsable(info *ldapbridge.ServerInfo) bool {
	if info == nil || (info.Flavor != ldapbridge.FlavorOpenLDAP && info.Flavor != ldapbridge.FlavorJumpCloud) ||
		!slices.Contains(info.SupportedControl, ldapbridge.ContentSyncOID) {
		return false
	}
	a := s.cfg.Users.StableIDAttribute
	return a == "" || strings.EqualFold(a, "entryUUID")
}
