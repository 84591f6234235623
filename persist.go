package ldapbridge

import (
	"context"
	"time"
)

// PersistEvent is one message of an RFC 4533 refreshAndPersist stream.
type PersistEvent struct {
	// Server is the URL of the server the stream is connected to.
	Server string
	// Base is the search base of the stream the event came on.
	Base string
	// DN and UUID name an entry added, modified, renamed or deleted (State);
	// both are empty for a message that only carries a cookie or marks the
	// end of the refresh phase.
	DN, UUID string
	State    SyncState
	// RefreshDone marks the end of the refresh phase of every stream: the
	// events after it are live changes.
	RefreshDone bool
	// Cookie is the stream's newest cookie for Base, when the message
	// carried one.
	Cookie []byte
}

// Persister holds RFC 4533 refreshAndPersist searches open.
type Persister interface {
	// Persist opens a connection of its own to the first reachable server,
	// binds as the service account and runs one refreshAndPersist search
	// per request, each resuming from cookies[req.BaseDN] (nil: from the
	// whole content), calling fn for each message, one call at a time. It
	// returns when ctx ends (with ctx's error), when fn fails, or when the
	// connection breaks (an error wrapping ErrUnavailable; a cookie the
	// server will not resume from wraps ErrSyncRefreshRequired). While the
	// stream is idle, a root DSE read is sent on the same connection every
	// keepAlive (0: never), and a keep-alive left unanswered within the
	// request timeout closes the connection, so a connection that died
	// without a word is noticed.
	Persist(ctx context.Context, reqs []*SearchRequest, cookies map[string][]byte, keepAlive time.Duration, fn func(PersistEvent) error) error
}
