package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/auth"
)

// Audit is what the admin pages read of the sync audit: the change log,
// the removals waiting for approval and the webhook outbox. The SQL
// stores implement it.
type Audit interface {
	SyncRun(ctx context.Context, id int64) (*ldapbridge.SyncRun, error)
	Changes(ctx context.Context, q ldapbridge.ChangeQuery) ([]*ldapbridge.Change, error)
	PendingRuns(ctx context.Context, now time.Time, all bool) ([]*ldapbridge.PendingRun, error)
	PendingRemovals(ctx context.Context, runID int64, now time.Time) (*ldapbridge.PendingRun, []ldapbridge.PendingRemoval, error)
	OutboxCounts(ctx context.Context) (map[string]int64, error)
	OutboxEvents(ctx context.Context, status string, limit int) ([]*ldapbridge.OutboxEvent, error)
}

// Refresher refreshes one account from the directory as `users populate`
// does; *auth.Authenticator implements it.
type Refresher interface {
	Populate(ctx context.Context, username string) (*auth.Result, error)
}

// Approvals decide a run's pending removals for the admin pages: Approve
// re-reads the directory and removes only the users still missing or
// still not admitted (dirsync.Syncer.Approve); Reject drops them.
type Approvals struct {
	Approve func(ctx context.Context, runID int64, by string) (removed, skipped int, err error)
	Reject  func(ctx context.Context, runID int64, by string) (int, error)
}

// maxShownChanges caps the changes one page lists.
const maxShownChanges = 2000

var (
	changeKindsUI   = []string{"user", "group", "membership"}
	changeActionsUI = []string{"created", "updated", "deactivated", "reactivated", "deleted", "refused", "added", "removed"}
)

// runPage is the admin view of one sync run and its changes.
type runPage struct {
	Run     *ldapbridge.SyncRun
	Changes []*ldapbridge.Change
	// Total is the number of changes the filter selects; Changes holds
	// at most maxShownChanges of them.
	Total        int
	Kind, Action string
	Kinds        []string
	Actions      []string
	// Pending is the run's held removals, nil when it held none.
	Pending   *ldapbridge.PendingRun
	Removals  []ldapbridge.PendingRemoval
	CanDecide bool
}

func (s *Server) auditOr404(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.Audit == nil {
		s.fail(w, r, http.StatusNotFound, "This server keeps no sync change log.")
		return false
	}
	return true
}

func runIDOf(w http.ResponseWriter, r *http.Request, s *Server) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, http.StatusNotFound, "There is no sync run "+strconv.Quote(r.PathValue("id"))+"; pick one from the sync history.")
		return 0, false
	}
	return id, true
}

// adminSyncRun shows one run with its changes, filtered by ?kind and
// ?action, and its pending removals with Approve and Reject.
func (s *Server) adminSyncRun(w http.ResponseWriter, r *http.Request) {
	if !s.auditOr404(w, r) {
		return
	}
	id, ok := runIDOf(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	run, err := s.deps.Audit.SyncRun(ctx, id)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no sync run %d (it may have been pruned by sync.keep_history).", id))
		return
	}
	if err != nil {
		s.internalError(w, r, "load sync run", err)
		return
	}
	q := r.URL.Query()
	p := runPage{Run: run, Kind: q.Get("kind"), Action: q.Get("action"), Kinds: changeKindsUI, Actions: changeActionsUI}
	if !slices.Contains(changeKindsUI, p.Kind) {
		p.Kind = ""
	}
	if !slices.Contains(changeActionsUI, p.Action) {
		p.Action = ""
	}
	cs, err := s.deps.Audit.Changes(ctx, ldapbridge.ChangeQuery{RunID: id, Kind: p.Kind, Action: p.Action})
	if err != nil {
		s.internalError(w, r, "load the changes of a sync run", err)
		return
	}
	p.Total, p.Changes = len(cs), cs[:min(len(cs), maxShownChanges)]
	pr, rs, err := s.deps.Audit.PendingRemovals(ctx, id, time.Now())
	switch {
	case err == nil:
		p.Pending, p.Removals = pr, rs[:min(len(rs), maxShownChanges)]
		u, _ := UserFrom(ctx)
		p.CanDecide = pr.State == ldapbridge.PendingWaiting && u != nil && u.IsSuperuser && s.deps.Approvals.Approve != nil
	case !errors.Is(err, ldapbridge.ErrNotFound):
		s.internalError(w, r, "load the pending removals of a sync run", err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_syncrun", view{Title: fmt.Sprintf("Sync run %d", id), Data: p, Notice: decisionNotice(r)})
}

func decisionNotice(r *http.Request) string {
	q := r.URL.Query()
	switch q.Get("done") {
	case "approved":
		return "Approved: " + q.Get("removed") + " removed; " + q.Get("skipped") + " skipped (back in the directory, or admitted again). The approval's run lists what it did."
	case "rejected":
		return "Rejected: " + q.Get("n") + " pending removals dropped; nobody was removed."
	}
	return ""
}

// adminDecide approves or rejects a run's pending removals (superusers;
// the POST is cross-origin protected like every other).
func (s *Server) adminDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		what := "reject pending removals"
		if approve {
			what = "approve pending removals"
		}
		by, ok := s.superuser(w, r, what)
		if !ok {
			return
		}
		id, ok := runIDOf(w, r, s)
		if !ok {
			return
		}
		a := s.deps.Approvals
		if a.Approve == nil || a.Reject == nil {
			s.fail(w, r, http.StatusNotFound, "Pending removals cannot be decided on this server.")
			return
		}
		back := fmt.Sprintf("/admin/sync/runs/%d", id)
		if approve {
			removed, skipped, err := a.Approve(r.Context(), id, by.Username)
			if err != nil {
				s.fail(w, r, http.StatusConflict, "The removals were not approved: "+err.Error())
				return
			}
			s.log.InfoContext(r.Context(), "pending removals approved on the admin page", "run", id, "by", logName(by.Username), "removed", removed, "skipped", skipped)
			http.Redirect(w, r, back+fmt.Sprintf("?done=approved&removed=%d&skipped=%d", removed, skipped), http.StatusSeeOther)
			return
		}
		n, err := a.Reject(r.Context(), id, by.Username)
		if err != nil {
			s.fail(w, r, http.StatusConflict, "The removals were not rejected: "+err.Error())
			return
		}
		s.log.InfoContext(r.Context(), "pending removals rejected on the admin page", "run", id, "by", logName(by.Username), "n", n)
		http.Redirect(w, r, back+fmt.Sprintf("?done=rejected&n=%d", n), http.StatusSeeOther)
	}
}

// pendingPage lists the runs with held removals and the webhook outbox.
type pendingPage struct {
	Runs   []*ldapbridge.PendingRun
	Outbox map[string]int64
	Failed []*ldapbridge.OutboxEvent
}

// adminPending shows the removals waiting for approval and the state of
// the webhook outbox (failed events: ldapbridge events retry).
func (s *Server) adminPending(w http.ResponseWriter, r *http.Request) {
	if !s.auditOr404(w, r) {
		return
	}
	ctx := r.Context()
	runs, err := s.deps.Audit.PendingRuns(ctx, time.Now(), true)
	if err != nil {
		s.internalError(w, r, "list pending removals", err)
		return
	}
	counts, err := s.deps.Audit.OutboxCounts(ctx)
	if err != nil {
		s.internalError(w, r, "count webhook events", err)
		return
	}
	failed, err := s.deps.Audit.OutboxEvents(ctx, ldapbridge.EventFailed, 100)
	if err != nil {
		s.internalError(w, r, "list failed webhook events", err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_pending", view{Title: "Pending removals and webhooks", Data: pendingPage{Runs: runs, Outbox: counts, Failed: failed}})
}

// userChangesPage lists the changes that touched one user.
type userChangesPage struct {
	Subject    *ldapbridge.User
	Changes    []*ldapbridge.Change
	CanRefresh bool
}

// adminUserChanges lists every recorded change of one user, newest last,
// with the Refresh from the directory button for superusers.
func (s *Server) adminUserChanges(w http.ResponseWriter, r *http.Request) {
	if !s.auditOr404(w, r) {
		return
	}
	subject, ok := s.userByName(w, r)
	if !ok {
		return
	}
	cs, err := s.deps.Audit.Changes(r.Context(), ldapbridge.ChangeQuery{UserID: subject.ID})
	if err != nil {
		s.internalError(w, r, "load the changes of a user", err)
		return
	}
	u, _ := UserFrom(r.Context())
	p := userChangesPage{Subject: subject, Changes: cs[max(0, len(cs)-maxShownChanges):],
		CanRefresh: u != nil && u.IsSuperuser && s.deps.Refresher != nil && subject.Source == ldapbridge.SourceLDAP}
	notice := ""
	if q := r.URL.Query(); q.Get("done") == "refreshed" {
		notice = "Refreshed from the directory: " + q.Get("what") + "."
	}
	s.render(w, r, http.StatusOK, "admin_userchanges", view{Title: "Changes of " + subject.Username, Data: p, Notice: notice})
}

// RefreshResult is what POST /api/users/{name}/refresh answers: the
// account after the refresh and what changed.
type RefreshResult struct {
	Outcome       string              `json:"outcome"`
	Reason        string              `json:"reason"`
	Created       bool                `json:"created"`
	Changed       []string            `json:"changed"`
	GroupsAdded   []string            `json:"groups_added"`
	GroupsRemoved []string            `json:"groups_removed"`
	User          *apijson.UserDetail `json:"user"`
}

// refresh runs Populate for the user named in the path and says what
// changed; the status is the HTTP status to answer with.
func (s *Server) refresh(r *http.Request) (RefreshResult, int, error) {
	out := RefreshResult{Changed: []string{}, GroupsAdded: []string{}, GroupsRemoved: []string{}}
	if s.deps.Refresher == nil {
		return out, http.StatusNotFound, errors.New("accounts cannot be refreshed from the directory on this server")
	}
	name := r.PathValue("name")
	ctx := r.Context()
	before, err := s.deps.Store.User(ctx, name)
	if err != nil && !errors.Is(err, ldapbridge.ErrNotFound) {
		return out, http.StatusInternalServerError, err
	}
	if before != nil && before.Source == ldapbridge.SourceLocal {
		return out, http.StatusConflict, fmt.Errorf("%q is a local account: it has no directory entry to refresh from", name)
	}
	res, err := s.deps.Refresher.Populate(ctx, name)
	if err != nil {
		return out, http.StatusInternalServerError, err
	}
	out.Outcome, out.Reason, out.Created = string(res.Outcome), res.Reason, res.Created
	switch res.Outcome {
	case auth.UserNotFound:
		return out, http.StatusNotFound, fmt.Errorf("the directory has no user %q (users.search); nothing was changed", name)
	case auth.LDAPError:
		return out, http.StatusBadGateway, fmt.Errorf("the directory could not be read: %s", res.Reason)
	}
	if res.User != nil {
		d := apijson.NewUserDetail(res.User)
		out.User = &d
		if before != nil {
			out.Changed = ldapbridge.ChangedFields(before, res.User)
			for _, g := range res.User.DirectGroups {
				if !slices.Contains(before.DirectGroups, g) {
					out.GroupsAdded = append(out.GroupsAdded, g)
				}
			}
			for _, g := range before.DirectGroups {
				if !slices.Contains(res.User.DirectGroups, g) {
					out.GroupsRemoved = append(out.GroupsRemoved, g)
				}
			}
		}
	}
	return out, http.StatusOK, nil
}

// apiRefresh is POST /api/users/{name}/refresh (superusers).
func (s *Server) apiRefresh(w http.ResponseWriter, r *http.Request) {
	by, ok := s.superuser(w, r, "refresh accounts from the directory")
	if !ok {
		return
	}
	out, status, err := s.refresh(r)
	if err != nil {
		if status == http.StatusInternalServerError {
			s.internalError(w, r, "refresh a user from the directory", err)
			return
		}
		writeJSON(w, status, apiError{Error: err.Error()})
		return
	}
	s.log.InfoContext(r.Context(), "account refreshed from the directory", "user", logName(r.PathValue("name")), "by", logName(by.Username), "changed", out.Changed)
	writeJSON(w, status, out)
}

// adminRefresh is the Refresh button of a user's page (superusers).
func (s *Server) adminRefresh(w http.ResponseWriter, r *http.Request) {
	by, ok := s.superuser(w, r, "refresh accounts from the directory")
	if !ok {
		return
	}
	out, status, err := s.refresh(r)
	if err != nil {
		if status == http.StatusInternalServerError {
			s.internalError(w, r, "refresh a user from the directory", err)
			return
		}
		s.fail(w, r, status, err.Error())
		return
	}
	s.log.InfoContext(r.Context(), "account refreshed from the directory", "user", logName(r.PathValue("name")), "by", logName(by.Username), "changed", out.Changed)
	what := "nothing changed"
	var parts []string
	if out.Created {
		parts = append(parts, "created")
	}
	if len(out.Changed) > 0 {
		parts = append(parts, "changed "+strings.Join(out.Changed, ", "))
	}
	if len(out.GroupsAdded) > 0 {
		parts = append(parts, "added to "+strings.Join(out.GroupsAdded, ", "))
	}
	if len(out.GroupsRemoved) > 0 {
		parts = append(parts, "removed from "+strings.Join(out.GroupsRemoved, ", "))
	}
	if len(parts) > 0 {
		what = strings.Join(parts, "; ")
	}
	if out.Outcome != string(auth.OK) {
		what += " (the access rules say " + out.Outcome + ": " + out.Reason + ")"
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(r.PathValue("name"))+"/changes?done=refreshed&what="+url.QueryEscape(what), http.StatusSeeOther)
}
