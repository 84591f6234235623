package dirsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

// Mode is how much of the directory a run reads.
type Mode string

const (
	// Auto picks incremental when a usable cursor exists and
	// sync.full_every is not reached, else full.
	Auto        Mode = ""
	Full        Mode = "full"
	Incremental Mode = "incremental"
)

// Directory is what the sync reads: paged searches and the root DSE.
// *ldapdir.Dir implements it, and the root package's capabilities with it:
// an ldapbridge.Pinner is pinned for Active Directory runs, and an
// ldapbridge.ContentSyncer gets content-sync runs where the server offers
// them.
type Directory interface {
	ldapbridge.Searcher
	Info(ctx context.Context) (*ldapbridge.ServerInfo, error)
}

// Options are the collaborators of a Syncer.
type Options struct {
	Config *config.Config
	Dir    Directory
	Store  Store
	// Mapper is the login's mapping (auth.Authenticator.Mapper); required.
	// It carries the login's auth.Hooks: ToLocal names the users, and
	// OnPopulate (Mapper.OnPopulate) runs for every user the sync creates
	// or updates, last, inside the write transaction, as at login; a hook
	// error fails that user's write like any write error (the user is not
	// written, a warning names it, the run ends aborted and its cursor is
	// not advanced). Users a run leaves unchanged are not rewritten and the
	// hook does not run for them: with a hook the sync hash covers every
	// attribute the entry is read with, so any change the hook could see
	// rewrites the user.
	Mapper *auth.Mapper
	// Groups reads group entries; default membership.New from the config.
	Groups *membership.Resolver
	// Logger receives warnings and periodic progress; default discards.
	Logger *slog.Logger
	// Progress, when set, is called as entries are read and applied, always
	// from the goroutine that called Run.
	Progress func(Progress)
	// BatchSize is the number of users written per transaction (default 1000).
	BatchSize int
	// SkewMargin is subtracted from a modifyTimestamp cursor (default 5m).
	SkewMargin time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Instance is recorded on each run's history (SyncRun.Instance).
	Instance string
	// Hooks are called as the run changes the store (after each commit).
	Hooks Hooks
	// Events, when set, turns each transaction's changes into webhook
	// events stored in the outbox in that same transaction.
	Events EventsFunc
	// NewSource, when set, makes the change source of each run from Dir
	// instead of the built-in choice (uSNChanged on Active Directory, else
	// content sync where the server offers it, else modifyTimestamp).
	NewSource func(dir Directory) ChangeSource
}

// Progress is a snapshot of a running sync.
type Progress struct {
	Phase   string // groups, users, memberships, removals, done
	Read    int    // entries read so far
	Applied int    // users and groups written so far
}

// RunOptions choose what one run does.
type RunOptions struct {
	Mode Mode
	// DryRun plans and reports without writing anything.
	DryRun bool
	// Force lets a run exceed sync.max_removals.
	Force bool
	// StartedBy is recorded on the run's history (SyncRun.StartedBy):
	// who or what started it.
	StartedBy string

	// approve and approvedBy make the run an approval (Syncer.Approve).
	approve    map[int64]bool
	approvedBy string
	// live makes the run a live mirror's: it applies the batch's changed
	// entries only (live_apply.go).
	live *liveBatch
}

// Report is the outcome of a run; its JSON is what `sync --json` prints.
type Report struct {
	// Directory names the directory the run read, with several
	// directories (config directories:); "" for the single form.
	Directory        string `json:"directory,omitempty"`
	UsersCreated     int    `json:"users_created"`
	UsersUpdated     int    `json:"users_updated"`
	UsersDeactivated int    `json:"users_deactivated"`
	UsersDeleted     int    `json:"users_deleted"`
	// UsersRefused counts the users who lost admission in this run (now
	// outside access.require or inside access.deny); the sync.max_removals
	// guard counts them with the removed users.
	UsersRefused   int `json:"users_refused"`
	UsersUnchanged int `json:"users_unchanged"`
	// HookErrors counts the Hooks.OnChange calls that returned an error.
	HookErrors int `json:"hook_errors"`
	// RunID is the run's id in the sync history (sync show RUN_ID); 0 for
	// a dry run.
	RunID int64 `json:"run_id"`
	// PendingRemovals counts the removals and refusals the guard held for
	// approval (sync approve RUN_ID).
	PendingRemovals int `json:"pending_removals"`
	// approved is how many removals and refusals the run made (for
	// Syncer.Approve).
	approved           int
	GroupsCreated      int    `json:"groups_created"`
	GroupsUpdated      int    `json:"groups_updated"`
	GroupsDeleted      int    `json:"groups_deleted"`
	MembershipsAdded   int    `json:"memberships_added"`
	MembershipsRemoved int    `json:"memberships_removed"`
	Mode               Mode   `json:"mode"`
	LDAPSearches       int    `json:"ldap_searches"`
	DurationMS         int64  `json:"duration_ms"`
	Aborted            bool   `json:"aborted"`
	AbortReason        string `json:"abort_reason"`
	DryRun             bool   `json:"dry_run"`
	// Server is the directory URL read; FallbackReason says why an
	// incremental run became full.
	Server         string   `json:"server"`
	FallbackReason string   `json:"fallback_reason,omitempty"`
	Warnings       []string `json:"warnings"`
	// Plan lists what a dry run would change (also filled on real runs).
	Plan Plan `json:"plan"`
}

// Plan names the changes of a run.
type Plan struct {
	Create     []string `json:"create"`
	Update     []string `json:"update"`
	Deactivate []string `json:"deactivate"`
	Delete     []string `json:"delete"`
	// Refuse names the users who lose admission.
	Refuse []string `json:"refuse"`
	// Groups are group names; memberships are "group <- member".
	GroupsCreate      []string `json:"groups_create"`
	GroupsUpdate      []string `json:"groups_update"`
	GroupsDelete      []string `json:"groups_delete"`
	MembershipsAdd    []string `json:"memberships_add"`
	MembershipsRemove []string `json:"memberships_remove"`
	truncated         bool
}

// maxPlanNames caps each Plan list so a huge first run stays printable.
const maxPlanNames = 1000

func (p *Plan) add(list *[]string, name string) {
	if len(*list) < maxPlanNames {
		*list = append(*list, name)
	} else {
		p.truncated = true
	}
}

// Truncated reports whether some Plan list was cut at 1000 names.
func (p *Plan) Truncated() bool { return p.truncated }

// ErrAborted marks a run that stopped before removals; the Report says why.
var ErrAborted = errors.New("sync aborted")

// OutcomeCancelled is the SyncRun.Outcome of a run stopped by ErrCancelled
// (next to "ok" and "aborted").
const OutcomeCancelled = "cancelled"

// ErrGuard marks a run stopped by sync.max_removals.
var ErrGuard = errors.New("sync.max_removals exceeded")

// ErrBusy is Reserve's refusal: another run holds the syncer.
var ErrBusy = errors.New("dirsync: a sync is already running")

// Syncer runs syncs for one configuration. Runs are serialised by one
// guard: Run waits for it, Reserve refuses at once with ErrBusy.
type Syncer struct {
	options Options
	cfg     *config.Config
	groups  *membership.Resolver
	log     *slog.Logger
	running chan struct{} // holds one token while a run is running
}

// New checks opts and builds a Syncer.
func New(opts Options) (*Syncer, error) {
	if opts.Config == nil || opts.Dir == nil || opts.Store == nil || opts.Mapper == nil {
		return nil, errors.New("dirsync: Config, Dir, Store and Mapper are required")
	}
	cfg := opts.Config
	if len(cfg.Users.Search) == 0 {
		return nil, errors.New("users.search: sync reads each users.search base with users.sync_filter, so users.search is required for sync even when logins use users.dn_template")
	}
	if opts.Groups == nil && (len(cfg.Groups.Search) > 0 || cfg.Groups.Type == membership.TypeMemberOf) {
		r, err := membership.New(cfg.Groups, membership.Options{Flavor: cfg.Directory.Flavor, UsernameAttribute: cfg.Users.UsernameAttribute})
		if err != nil {
			return nil, fmt.Errorf("dirsync: groups: %w", err)
		}
		opts.Groups = r
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.SkewMargin <= 0 {
		opts.SkewMargin = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Syncer{options: opts, cfg: cfg, groups: opts.Groups, log: opts.Logger, running: make(chan struct{}, 1)}, nil
}

// Run runs one sync and records it in the store's history (not for a dry
// run). An aborted run returns its Report with an error wrapping ErrAborted
// (and ErrGuard when the removal guard tripped). When ctx ends the run stops
// at the next batch boundary and returns an error wrapping ErrAborted and
// ErrCancelled; the history records it as OutcomeCancelled.
//
// Run waits for a run already running (or a Reservation) to end, or for ctx
// to end (returning ctx.Err()); use Reserve to be refused at once instead.
func (s *Syncer) Run(ctx context.Context, ro RunOptions) (*Report, error) {
	select {
	case s.running <- struct{}{}:
		defer func() { <-s.running }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.runHeld(ctx, ro)
}

// Reservation is the syncer's guard, taken by Reserve: while it is held
// no other run starts. Run it once, or Release it unused.
type Reservation struct {
	s    *Syncer
	used atomic.Bool
}

// Reserve takes the syncer's guard without waiting, or returns ErrBusy at
// once while a run or another Reservation holds it. It is for callers that
// must answer "a sync is running" right away and start the sync later or
// elsewhere (another goroutine, after taking a store-level lock); the
// caller must call the Reservation's Run or Release.
func (s *Syncer) Reserve() (*Reservation, error) {
	select {
	case s.running <- struct{}{}:
		return &Reservation{s: s}, nil
	default:
		return nil, ErrBusy
	}
}

// Run runs one sync as Syncer.Run does, under the reservation, which it
// releases when the run ends. A Reservation runs once: a second Run, or a
// Run after Release, returns an error and runs nothing.
func (r *Reservation) Run(ctx context.Context, ro RunOptions) (*Report, error) {
	if !r.used.CompareAndSwap(false, true) {
		return nil, errors.New("dirsync: Reservation.Run after Run or Release: reserve again")
	}
	defer func() { <-r.s.running }()
	return r.s.runHeld(ctx, ro)
}

// Release gives the guard back without running; after Run (or a first
// Release) it does nothing, so it can be deferred.
func (r *Reservation) Release() {
	if r.used.CompareAndSwap(false, true) {
		<-r.s.running
	}
}

// runHeld is Run once the caller holds the guard.
func (s *Syncer) runHeld(ctx context.Context, ro RunOptions) (*Report, error) {
	start := s.options.Now()
	a := &applier{store: s.options.Store, directory: s.cfg.Name(), now: s.options.Now, populate: s.options.Mapper.OnPopulate(), batchSize: s.options.BatchSize, dryRun: ro.DryRun,
		warnLog: func(msg string) { s.log.Warn(msg) }, onProgress: s.options.Progress, report: newReport(ro)}
	hist := &ldapbridge.SyncRun{StartedAt: start, Mode: string(ro.Mode), Instance: s.options.Instance, StartedBy: ro.StartedBy, Directory: s.cfg.Name()}
	if len(s.cfg.Directories()) > 1 {
		a.report.Directory = s.cfg.Name()
	}
	if !ro.DryRun {
		if err := s.options.Store.RecordSyncRun(ctx, hist); err != nil {
			return nil, fmt.Errorf("dirsync: record run start: %w", err)
		}
	}
	a.runID, a.source, a.onChange, a.events = hist.ID, ldapbridge.ChangeBySync, s.options.Hooks.OnChange, s.options.Events
	a.report.RunID = hist.ID
	if ro.approve != nil {
		a.source, a.actor, a.approve = ldapbridge.ChangeByAdmin, ro.approvedBy, ro.approve
	}
	run := s.run
	if ro.live != nil {
		run = s.runLive
	}
	err := run(ctx, ro, a)
	rep := a.report
	rep.LDAPSearches = a.searches
	rep.DurationMS = s.options.Now().Sub(start).Milliseconds()
	cancelled := err != nil && (ctx.Err() != nil || errors.Is(err, ErrCancelled))
	if cancelled {
		rep.Aborted = true
		rep.AbortReason = fmt.Sprintf("cancelled (%v): the run stopped between batches; what it wrote stays, nothing was removed after the stop and the cursor was not advanced", context.Cause(ctx))
		if !errors.Is(err, ErrCancelled) {
			err = fmt.Errorf("%w (%w)", err, ErrCancelled)
		}
	}
	if err != nil && !rep.Aborted {
		rep.Aborted, rep.AbortReason = true, err.Error()
	}
	if err != nil && !errors.Is(err, ErrAborted) {
		err = fmt.Errorf("%w: %w", ErrAborted, err)
	}
	a.progress("done")
	if !ro.DryRun {
		end := s.options.Now()
		hist.FinishedAt, hist.Mode, hist.Server = &end, string(rep.Mode), rep.Server
		hist.Outcome, hist.Counts, hist.LDAPSearches = "ok", rep.counts(), int64(rep.LDAPSearches)
		switch {
		case cancelled:
			hist.Outcome, hist.Error = OutcomeCancelled, rep.AbortReason
		case err != nil:
			hist.Outcome, hist.Error = "aborted", rep.AbortReason
		}
		// Recorded even when ctx was cancelled, so history shows the stop.
		if rerr := s.options.Store.RecordSyncRun(context.WithoutCancel(ctx), hist); rerr != nil && err == nil {
			err = fmt.Errorf("dirsync: record run: %w", rerr)
		}
		if aerr := s.afterRun(context.WithoutCancel(ctx), a, err != nil); aerr != nil && err == nil {
			err = aerr
		}
	}
	return rep, err
}

// hookAttrs returns the lowercased attributes a user entry is read with
// when the mapper carries an OnPopulate hook (they go into the sync hash,
// see hookedHash), else nil.
func (s *Syncer) hookAttrs() map[string]bool {
	if s.options.Mapper.OnPopulate() == nil {
		return nil
	}
	attrs := map[string]bool{}
	for _, a := range s.options.Mapper.Attributes() {
		attrs[strings.ToLower(a)] = true
	}
	return attrs
}

// newReport returns the report of a run that has not started: the mode is
// the one asked for (full until an automatic choice is made, as the mode
// chooser starts from full), and every list is empty, never nil, so a run
// that aborts early still prints a well-formed report.
func newReport(ro RunOptions) *Report {
	mode := ro.Mode
	if mode == Auto {
		mode = Full
	}
	return &Report{Mode: mode, DryRun: ro.DryRun, Warnings: []string{}, Plan: Plan{
		Create: []string{}, Update: []string{}, Deactivate: []string{}, Delete: []string{}, Refuse: []string{},
		GroupsCreate: []string{}, GroupsUpdate: []string{}, GroupsDelete: []string{},
		MembershipsAdd: []string{}, MembershipsRemove: []string{},
	}}
}

func (rep *Report) counts() map[string]int64 {
	return map[string]int64{
		"users_created": int64(rep.UsersCreated), "users_updated": int64(rep.UsersUpdated),
		"users_deactivated": int64(rep.UsersDeactivated), "users_deleted": int64(rep.UsersDeleted),
		"users_refused":   int64(rep.UsersRefused),
		"users_unchanged": int64(rep.UsersUnchanged), "groups_created": int64(rep.GroupsCreated),
		"groups_updated": int64(rep.GroupsUpdated), "groups_deleted": int64(rep.GroupsDeleted),
		"memberships_added": int64(rep.MembershipsAdded), "memberships_removed": int64(rep.MembershipsRemoved),
	}
}
