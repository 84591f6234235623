package ldapbridge

import (
	"context"
	"errors"
	"fmt"
)

// The capabilities below are what a directory sync may use beyond
// Directory: RFC 4533 content sync, reading deleted entries (Active
// Directory tombstones), and holding one server for a whole run. ldapdir
// implements them; a sync finds them by type assertion.

// ContentSyncOID is the RFC 4533 sync request control. A root DSE that
// lists it in supportedControl offers content synchronisation (OpenLDAP's
// syncprov overlay).
const ContentSyncOID = "1.3.6.1.4.1.4203.1.9.1.1"

// ShowDeletedOID is LDAP_SERVER_SHOW_DELETED_OID: with it, Active
// Directory returns tombstones (isDeleted=TRUE) as well as live entries.
const ShowDeletedOID = "1.2.840.113556.1.4.417"

// ErrSyncRefreshRequired means the server would not resume from the cookie
// sent (RFC 4533 e-syncRefreshRequired, or a cookie it rejects as
// malformed): the caller needs a full read.
var ErrSyncRefreshRequired = errors.New("content-sync cookie refused: a full refresh is required")

// ErrSyncSizeLimit means the server's size limit cut a content-sync
// refresh short (it is one unpaged search); a paged full read still works.
var ErrSyncSizeLimit = errors.New("content-sync refresh exceeded the size limit")

// SyncState is the RFC 4533 state of an entry in a content-sync refresh.
type SyncState int

// The sync states of RFC 4533 section 2.3.
const (
	SyncPresent SyncState = iota
	SyncAdd
	SyncModify
	SyncDelete
)

func (s SyncState) String() string {
	switch s {
	case SyncPresent:
		return "present"
	case SyncAdd:
		return "add"
	case SyncModify:
		return "modify"
	case SyncDelete:
		return "delete"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// SyncEntry is an added or modified entry of a content-sync refresh, with
// the entryUUID the server reported for it.
type SyncEntry struct {
	Entry *Entry
	UUID  string // lowercase 8-4-4-4-12
	State SyncState
}

// SyncBatch is a slice of a content-sync refresh: at most
// directory.page_size entries, plus the entryUUIDs reported deleted or
// present (unchanged) since the cookie.
type SyncBatch struct {
	Entries []SyncEntry
	Deleted []string
	Present []string
}

// SyncResult is the end of a content-sync refresh.
type SyncResult struct {
	// Cookie is the state to send next time; empty when the server sent none.
	Cookie []byte
	// RefreshDeletes is true when deletions were listed explicitly. When
	// false the refresh used the present phase: every entry in scope the
	// server did not report (as present, added or modified) is gone.
	RefreshDeletes bool
}

// ContentSyncer runs RFC 4533 refreshOnly searches.
type ContentSyncer interface {
	// ContentSync runs req as a refreshOnly search resuming from cookie
	// (nil for the whole content) and calls fn with batches while the
	// server streams them. A cookie the server will not resume from yields
	// an error wrapping ErrSyncRefreshRequired; a refresh cut by the size
	// limit one wrapping ErrSyncSizeLimit.
	ContentSync(ctx context.Context, req *SearchRequest, cookie []byte, fn func(SyncBatch) error) (*SyncResult, error)
}

// DeletedSearcher reads deleted entries as well as live ones (Active
// Directory's show-deleted control).
type DeletedSearcher interface {
	SearchDeleted(ctx context.Context, req *SearchRequest, fn func(page []*Entry) error) error
}

// PinnedServer is one connection to one directory server, held for a
// whole run and never failed over, so that a change counter read first
// (Active Directory's highestCommittedUSN) and every read after it come
// from the same server.
type PinnedServer interface {
	Searcher
	DeletedSearcher
	// Info reads the pinned server's root DSE.
	Info(ctx context.Context) (*ServerInfo, error)
	// InvocationID returns the server's database GUID (Active Directory's
	// invocationId), or "" when the bind account may not read it.
	InvocationID(ctx context.Context) (string, error)
	// URL is the pinned server's directory.urls entry.
	URL() string
	Close() error
}

// Pinner holds one server for a run.
type Pinner interface {
	Pin(ctx context.Context) (PinnedServer, error)
}
