package ldapbridge

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Change kinds: what a Change is about.
const (
	ChangeUser       = "user"
	ChangeGroup      = "group"
	ChangeMembership = "membership"
)

// Change actions. Users are created, updated, deactivated, reactivated,
// deleted or refused (lost admission); groups created, updated or deleted;
// memberships added or removed.
const (
	ActionCreated     = "created"
	ActionUpdated     = "updated"
	ActionDeactivated = "deactivated"
	ActionReactivated = "reactivated"
	ActionDeleted     = "deleted"
	ActionRefused     = "refused"
	ActionAdded       = "added"
	ActionRemoved     = "removed"
)

// Change sources: what made a change.
const (
	ChangeBySync  = "sync"
	ChangeByLogin = "login"
	ChangeByAdmin = "admin"
)

// Change is one change a sync, a login or an admin made to the store: the
// unit of the change log, of hooks (OnChange) and of webhook events.
type Change struct {
	ID int64
	// RunID is the sync run that made the change, 0 for a login.
	RunID int64
	// Source is ChangeBySync, ChangeByLogin or ChangeByAdmin.
	Source string
	At     time.Time
	// Kind is ChangeUser, ChangeGroup or ChangeMembership; Action one of
	// the Action constants.
	Kind   string
	Action string
	// User and UserID name the user concerned ("" and 0 for a group, or a
	// membership of a group in a group).
	User   string
	UserID int64
	// Group names the group concerned (the parent for a membership).
	Group string
	// DN is the user's (or, for a group change or a group-in-group
	// membership, the group's) distinguished name.
	DN string
	// Fields names the fields an update changed (never password material
	// or photo bytes: a new photo is the field "photo").
	Fields []string
	// Reason says why: "not found by a complete read of the directory",
	// "disabled in the directory", "not in access.require", ...
	Reason string
	// Actor names who did an admin action ("" otherwise).
	Actor string
	// Record is the user as written, for hooks and webhook bodies; it is
	// not stored in the change log, and is nil where the writer has none.
	Record *User
}

// EventType is the change's webhook event type, such as user.deactivated
// or membership.added.
func (c *Change) EventType() string { return c.Kind + "." + c.Action }

// ChangeQuery selects changes for ChangeLog.Changes; zero fields match all.
type ChangeQuery struct {
	RunID  int64
	UserID int64
	Kind   string
	Action string
	// Limit caps the result (0 = no limit); changes come in id order.
	Limit int
}

// ChangeLog is the store's record of changes: the drivers implement it on
// the store and on a transaction, so a writer records its changes in the
// same transaction as the writes they describe.
type ChangeLog interface {
	// RecordChanges stores cs (setting each ID), in the caller's
	// transaction when called on one.
	RecordChanges(ctx context.Context, cs []*Change) error
	// Changes returns the changes q selects, oldest first; arrays are
	// never nil.
	Changes(ctx context.Context, q ChangeQuery) ([]*Change, error)
	// SyncRun returns one recorded run, or ErrNotFound.
	SyncRun(ctx context.Context, id int64) (*SyncRun, error)
	// PruneHistory deletes the runs (and their changes) that started
	// before olderThan (when not zero) or that are not among the keepRuns
	// most recent (when keepRuns > 0), and the login and admin changes
	// older than the oldest run kept. It returns how many runs it deleted.
	PruneHistory(ctx context.Context, olderThan time.Time, keepRuns int) (int64, error)
}

// Pending removal states.
const (
	PendingWaiting  = "pending"
	PendingApproved = "approved"
	PendingRejected = "rejected"
	PendingExpired  = "expired"
)

// PendingRemoval is one removal (or refusal) a run planned but did not
// make because it would have exceeded sync.max_removals.
type PendingRemoval struct {
	RunID  int64
	UserID int64
	User   string
	DN     string
	// Action is ActionDeactivated, ActionDeleted or ActionRefused.
	Action string
	// Verdict and Reason are what the run would have stored.
	Verdict string
	Reason  string
}

// PendingRun is a run whose removals wait for approval, and what became
// of them.
type PendingRun struct {
	RunID     int64
	CreatedAt time.Time
	ExpiresAt time.Time
	// State is PendingWaiting, PendingApproved, PendingRejected or
	// PendingExpired (a waiting run past ExpiresAt reads as expired).
	State     string
	Count     int
	DecidedBy string
	DecidedAt *time.Time
	// Outcome says what an approval did ("removed 3, skipped 2").
	Outcome string
}

// Approvals keeps the removals waiting for approval.
type Approvals interface {
	// RecordPending stores rs as the pending removals of run runID.
	RecordPending(ctx context.Context, runID int64, at, expires time.Time, rs []PendingRemoval) error
	// PendingRuns returns the runs with removals, the most recent first;
	// with all false only those still waiting at now.
	PendingRuns(ctx context.Context, now time.Time, all bool) ([]*PendingRun, error)
	// PendingRemovals returns one run's pending state and removals, or
	// ErrNotFound.
	PendingRemovals(ctx context.Context, runID int64, now time.Time) (*PendingRun, []PendingRemoval, error)
	// DecidePending moves a waiting run to state (PendingApproved or
	// PendingRejected); ErrConflict when it is no longer waiting.
	DecidePending(ctx context.Context, runID int64, state, by, outcome string, at time.Time) error
}

// Outbox event states.
const (
	EventPending   = "pending"
	EventDelivered = "delivered"
	EventFailed    = "failed"
)

// OutboxEvent is one webhook delivery waiting in (or done from) the
// store's outbox: one event for one webhook target.
type OutboxEvent struct {
	ID int64
	// DeliveryID is sent as Ldapbridge-Delivery, the same on every retry.
	DeliveryID string
	// Target is the webhook URL.
	Target string
	Type   string
	// Body is the exact JSON posted (and signed).
	Body        []byte
	Status      string
	Attempts    int
	NextAttempt time.Time
	LastError   string
	CreatedAt   time.Time
}

// DeliveryResult is what one delivery attempt did to an OutboxEvent.
type DeliveryResult struct {
	// Status is EventDelivered, EventFailed (no more attempts) or
	// EventPending (retry at Next).
	Status string
	Next   time.Time
	Error  string
}

// Outbox is the store's durable webhook outbox.
type Outbox interface {
	// EnqueueEvents stores es as pending, in the caller's transaction when
	// called on one.
	EnqueueEvents(ctx context.Context, es []*OutboxEvent) error
	// DeliverDue calls deliver for at most limit pending events due at
	// now and stores each result (Attempts counts up by one). With several
	// instances on one database each event is handed to one of them.
	DeliverDue(ctx context.Context, now time.Time, limit int, deliver func(*OutboxEvent) DeliveryResult) (int, error)
	// RetryFailedEvents makes failed events pending again with no
	// attempts made, due at now, and returns how many.
	RetryFailedEvents(ctx context.Context, now time.Time) (int64, error)
	// OutboxCounts returns the number of events per status.
	OutboxCounts(ctx context.Context) (map[string]int64, error)
	// OutboxEvents returns the events with status (all when ""), the
	// most recent first, at most limit (0 = all).
	OutboxEvents(ctx context.Context, status string, limit int) ([]*OutboxEvent, error)
}

// UserChange describes writing u over old (nil for a create): created,
// deactivated, reactivated, refused (lost admission) or updated with the
// names of the fields that changed; nil when nothing a reader would see
// changed.
func UserChange(old, u *User) *Change {
	c := &Change{Kind: ChangeUser, User: u.Username, UserID: u.ID, DN: u.DN, Record: u}
	if old == nil {
		c.Action, c.Fields, c.Reason = ActionCreated, []string{}, "new in the directory"
		return c
	}
	c.Fields = ChangedFields(old, u)
	switch {
	case old.IsActive && !u.IsActive:
		c.Action, c.Reason = ActionDeactivated, reasonOr(u.VerdictReason, "disabled in the directory")
	case !old.IsActive && u.IsActive:
		c.Action, c.Reason = ActionReactivated, "active in the directory again"
	case old.Allowed() && !u.Allowed():
		c.Action, c.Reason = ActionRefused, u.VerdictReason
	case len(c.Fields) == 0:
		return nil
	default:
		c.Action = ActionUpdated
		if !old.Allowed() && u.Allowed() {
			c.Reason = "admitted again"
		}
	}
	return c
}

func reasonOr(reason, fallback string) string {
	if reason != "" {
		return reason
	}
	return fallback
}

// ChangedFields names the fields that differ between two records of one
// user: never password material, and a photo only as "photo".
func ChangedFields(old, u *User) []string {
	out := []string{}
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("username", old.Username != u.Username)
	add("dn", old.DN != u.DN)
	add("stable_id", old.StableID != u.StableID)
	add("first_name", old.FirstName != u.FirstName)
	add("last_name", old.LastName != u.LastName)
	add("email", old.Email != u.Email)
	add("is_active", old.IsActive != u.IsActive)
	add("is_staff", old.IsStaff != u.IsStaff)
	add("is_superuser", old.IsSuperuser != u.IsSuperuser)
	add("verdict", old.EffectiveVerdict() != u.EffectiveVerdict() || old.VerdictReason != u.VerdictReason)
	for _, k := range unionKeys(old.Flags, u.Flags) {
		add("flags."+k, old.Flags[k] != u.Flags[k])
	}
	for _, k := range unionKeys(old.Profile, u.Profile) {
		add("profile."+k, old.Profile[k] != u.Profile[k])
	}
	// The stores read HasPhoto without the bytes, so a photo counts as
	// changed when one appears, goes, or both bytes are at hand and differ.
	add("photo", old.HasPhoto != u.HasPhoto || (u.Photo != nil && old.Photo != nil && !slices.Equal(old.Photo, u.Photo)))
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
