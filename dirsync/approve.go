package dirsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// ApproveReport says what approving a run's pending removals did.
type ApproveReport struct {
	RunID int64 `json:"run_id"`
	// Pending is how many removals and refusals waited; Removed how many
	// the approval made (users still missing from a complete read, or
	// still not admitted); Skipped the rest (back in the directory, or
	// admitted again).
	Pending int `json:"pending"`
	Removed int `json:"removed"`
	Skipped int `json:"skipped"`
	// Sync is the report of the full run that re-read the directory and
	// made the approved removals.
	Sync *Report `json:"sync"`
}

// ErrNotPending is returned for a run whose removals are not waiting for
// approval: never held, already approved or rejected, or expired.
var ErrNotPending = errors.New("no removals wait for approval on this run")

func approvals(s Store) (ldapbridge.Approvals, error) {
	ap, ok := s.(ldapbridge.Approvals)
	if !ok {
		return nil, fmt.Errorf("dirsync: the store %T keeps no pending removals (ldapbridge.Approvals)", s)
	}
	return ap, nil
}

// waiting returns the pending removals of runID, or an error wrapping
// ErrNotPending that says what became of them.
func waiting(ctx context.Context, ap ldapbridge.Approvals, runID int64, now time.Time) ([]ldapbridge.PendingRemoval, error) {
	p, rs, err := ap.PendingRemovals(ctx, runID, now)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return nil, fmt.Errorf("run %d held no removals for approval — ldapbridge sync pending lists those that wait: %w", runID, ErrNotPending)
	}
	if err != nil {
		return nil, err
	}
	switch p.State {
	case ldapbridge.PendingWaiting:
		return rs, nil
	case ldapbridge.PendingExpired:
		return nil, fmt.Errorf("the removals of run %d expired at %s (sync.pending_ttl) — run a sync again; if it is held again, approve that run: %w",
			runID, p.ExpiresAt.Format(time.RFC3339), ErrNotPending)
	}
	when := ""
	if p.DecidedAt != nil {
		when = " at " + p.DecidedAt.Format(time.RFC3339)
	}
	return nil, fmt.Errorf("the removals of run %d were already %s by %s%s: %w", runID, p.State, p.DecidedBy, when, ErrNotPending)
}

// Approve applies the removals a run's guard held (see sync.max_removals),
// as who (recorded with the decision and on each change). It runs a full
// sync that reads the whole directory again and removes or refuses only
// the held users that are still missing from the complete read or still
// not admitted; the others are skipped. The guard does not apply to the
// approved users, and removes nobody else.
func (s *Syncer) Approve(ctx context.Context, runID int64, who string) (*ApproveReport, error) {
	ap, err := approvals(s.options.Store)
	if err != nil {
		return nil, err
	}
	rs, err := waiting(ctx, ap, runID, s.options.Now())
	if err != nil {
		return nil, err
	}
	set := make(map[int64]bool, len(rs))
	for _, r := range rs {
		set[r.UserID] = true
	}
	rep, err := s.Run(ctx, RunOptions{Mode: Full, approve: set, approvedBy: who, StartedBy: "approve (" + who + ")"})
	out := &ApproveReport{RunID: runID, Pending: len(rs), Sync: rep}
	if err != nil {
		return out, fmt.Errorf("dirsync: approve the removals of run %d: the re-reading run failed, nothing was decided: %w", runID, err)
	}
	out.Removed = rep.approved
	out.Skipped = len(rs) - rep.approved
	outcome := fmt.Sprintf("removed %d, skipped %d (run %d)", out.Removed, out.Skipped, rep.RunID)
	if err := ap.DecidePending(ctx, runID, ldapbridge.PendingApproved, who, outcome, s.options.Now().UTC()); err != nil {
		return out, fmt.Errorf("dirsync: record the approval of run %d: %w", runID, err)
	}
	return out, nil
}

// Reject drops the removals a run's guard held, as who; nothing is
// removed.
func Reject(ctx context.Context, store Store, runID int64, who string, now time.Time) (int, error) {
	ap, err := approvals(store)
	if err != nil {
		return 0, err
	}
	rs, err := waiting(ctx, ap, runID, now)
	if err != nil {
		return 0, err
	}
	return len(rs), ap.DecidePending(ctx, runID, ldapbridge.PendingRejected, who, fmt.Sprintf("rejected %d", len(rs)), now.UTC())
}

// PendingCount returns how many removals wait for approval at now.
func PendingCount(ctx context.Context, store Store, now time.Time) (int, error) {
	ap, err := approvals(store)
	if err != nil {
		return 0, err
	}
	runs, err := ap.PendingRuns(ctx, now, false)
	n := 0
	for _, r := range runs {
		n += r.Count
	}
	return n, err
}
