package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/web"
)

// syncRunJSON is a run as sync history --json prints it.
type syncRunJSON struct {
	ID           int64            `json:"id"`
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   *time.Time       `json:"finished_at"`
	Mode         string           `json:"mode"`
	Server       string           `json:"server"`
	Outcome      string           `json:"outcome"`
	Error        string           `json:"error"`
	Counts       map[string]int64 `json:"counts"`
	LDAPSearches int64            `json:"ldap_searches"`
	Instance     string           `json:"instance"`
}

func runJSONOf(r *ldapbridge.SyncRun) syncRunJSON {
	return syncRunJSON{r.ID, r.StartedAt, r.FinishedAt, r.Mode, r.Server, r.Outcome, r.Error, r.Counts, r.LDAPSearches, r.Instance}
}

// changeJSON is one change as sync show --json prints it.
type changeJSON struct {
	Kind   string    `json:"kind"`
	Action string    `json:"action"`
	User   string    `json:"user"`
	Group  string    `json:"group"`
	DN     string    `json:"dn"`
	Fields []string  `json:"fields"`
	Reason string    `json:"reason"`
	Source string    `json:"source"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

func changesJSON(cs []*ldapbridge.Change) []changeJSON {
	out := make([]changeJSON, len(cs))
	for i, c := range cs {
		f := c.Fields
		if f == nil {
			f = []string{}
		}
		out[i] = changeJSON{c.Kind, c.Action, c.User, c.Group, c.DN, f, c.Reason, c.Source, c.Actor, c.At}
	}
	return out
}

var (
	changeKinds   = []string{ldapbridge.ChangeUser, ldapbridge.ChangeGroup, ldapbridge.ChangeMembership}
	changeActions = []string{ldapbridge.ActionCreated, ldapbridge.ActionUpdated, ldapbridge.ActionDeactivated, ldapbridge.ActionReactivated,
		ldapbridge.ActionDeleted, ldapbridge.ActionRefused, ldapbridge.ActionAdded, ldapbridge.ActionRemoved}
)

func parseRunID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, usage(fmt.Errorf("RUN_ID %q is not a run id — take one from ldapbridge sync history --json (the id field)", arg))
	}
	return id, nil
}

func changeLogOf(s ldapbridge.Store) (ldapbridge.ChangeLog, error) {
	cl, ok := s.(ldapbridge.ChangeLog)
	if !ok {
		return nil, failed(fmt.Errorf("the store %T keeps no change log", s))
	}
	return cl, nil
}

func newSyncShowCmd(g *globals) *cobra.Command {
	var kind, action string
	cmd := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one sync run and the changes it made",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			if kind != "" && !slices.Contains(changeKinds, kind) {
				return usage(fmt.Errorf("--kind %q: use one of %s", kind, strings.Join(changeKinds, ", ")))
			}
			if action != "" && !slices.Contains(changeActions, action) {
				return usage(fmt.Errorf("--action %q: use one of %s", action, strings.Join(changeActions, ", ")))
			}
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			cl, err := changeLogOf(a.store)
			if err != nil {
				return err
			}
			run, err := cl.SyncRun(ctx, id)
			if err != nil {
				return failed(err)
			}
			cs, err := cl.Changes(ctx, ldapbridge.ChangeQuery{RunID: id, Kind: kind, Action: action})
			if err != nil {
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, struct {
					Run     syncRunJSON  `json:"run"`
					Changes []changeJSON `json:"changes"`
				}{runJSONOf(run), changesJSON(cs)})
			}
			printRun(g.stdout, run)
			printChanges(g.stdout, cs)
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only changes of this kind: "+strings.Join(changeKinds, ", "))
	cmd.Flags().StringVar(&action, "action", "", "only changes with this action: "+strings.Join(changeActions, ", "))
	return cmd
}

func printRun(w io.Writer, r *ldapbridge.SyncRun) {
	dur := "running"
	if r.FinishedAt != nil {
		dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "run %d: %s sync of %s, started %s, %s, %s (instance %s)\n", r.ID, r.Mode, r.Server, r.StartedAt.Local().Format(timeLayout), dur, r.Outcome, r.Instance)
	if r.Error != "" {
		fmt.Fprintln(w, "error:", r.Error)
	}
}

func printChanges(w io.Writer, cs []*ldapbridge.Change) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tACTION\tUSER\tGROUP\tFIELDS\tREASON")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Kind, c.Action, c.User, c.Group, strings.Join(c.Fields, ","), c.Reason)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d changes\n", len(cs))
}

// operator names who runs an approval or rejection from the command line.
func operator() string {
	for _, k := range []string{"LDAPBRIDGE_OPERATOR", "SUDO_USER", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return "cli:" + v
		}
	}
	return "cli"
}

func newSyncPendingCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "List the runs whose removals wait for approval (sync.max_removals)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			ap, ok := a.store.(ldapbridge.Approvals)
			if !ok {
				return failed(fmt.Errorf("the store %T keeps no pending removals", a.store))
			}
			runs, err := ap.PendingRuns(ctx, time.Now(), all)
			if err != nil {
				return failed(err)
			}
			type removalJSON struct {
				User    string `json:"user"`
				DN      string `json:"dn"`
				Action  string `json:"action"`
				Verdict string `json:"verdict"`
				Reason  string `json:"reason"`
			}
			type pendingJSON struct {
				RunID     int64         `json:"run_id"`
				CreatedAt time.Time     `json:"created_at"`
				ExpiresAt time.Time     `json:"expires_at"`
				State     string        `json:"state"`
				Count     int           `json:"count"`
				DecidedBy string        `json:"decided_by"`
				DecidedAt *time.Time    `json:"decided_at"`
				Outcome   string        `json:"outcome"`
				Removals  []removalJSON `json:"removals"`
			}
			out := []pendingJSON{}
			for _, r := range runs {
				p := pendingJSON{r.RunID, r.CreatedAt, r.ExpiresAt, r.State, r.Count, r.DecidedBy, r.DecidedAt, r.Outcome, []removalJSON{}}
				if g.json {
					_, rs, err := ap.PendingRemovals(ctx, r.RunID, time.Now())
					if err != nil {
						return failed(err)
					}
					for _, x := range rs {
						p.Removals = append(p.Removals, removalJSON{x.User, x.DN, x.Action, x.Verdict, x.Reason})
					}
				}
				out = append(out, p)
			}
			if g.json {
				return printJSON(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "no removals wait for approval")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tHELD\tEXPIRES\tREMOVALS\tSTATE\tDECIDED BY\tOUTCOME")
			for _, p := range out {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", p.RunID, p.CreatedAt.Local().Format(timeLayout), p.ExpiresAt.Local().Format(timeLayout),
					p.Count, p.State, p.DecidedBy, p.Outcome)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "approve with: ldapbridge sync approve RUN (re-reads the directory first); drop with: ldapbridge sync reject RUN")
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list approved, rejected and expired runs")
	return cmd
}

func newSyncApproveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "approve RUN_ID",
		Short: "Apply the removals a run held: re-read the directory and remove only the users still missing or still not admitted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := g.openApp(ctx, withDetect)
			if err != nil {
				return err
			}
			defer a.Close()
			prog := newProgress(g.stderr, a.log.Info)
			// The run's own directory re-reads and removes.
			d, err := a.directory(runDirectory(ctx, a.store, id, a.dirs[0].name()))
			if err != nil {
				return failed(fmt.Errorf("run %d: %w", id, err))
			}
			s, err := newDirSyncer(a, d, prog.update)
			if err != nil {
				return usage(err)
			}
			unlock, err := lockSyncRun(ctx, a.store)
			if err != nil {
				return failed(err)
			}
			defer unlock()
			rep, err := s.Approve(ctx, id, operator())
			prog.done()
			if err != nil {
				if rep != nil && rep.Sync != nil && !g.json {
					printReport(g.stdout, rep.Sync)
				}
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, rep)
			}
			fmt.Fprintf(g.stdout, "run %d: %d pending removals; removed %d, skipped %d (back in the directory or admitted again); changes: ldapbridge sync show %d\n",
				id, rep.Pending, rep.Removed, rep.Skipped, rep.Sync.RunID)
			return nil
		},
	}
}

func newSyncRejectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reject RUN_ID",
		Short: "Drop the removals a run held; nobody is removed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			n, err := dirsync.Reject(ctx, a.store, id, operator(), time.Now())
			if err != nil {
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, map[string]any{"run_id": id, "rejected": n})
			}
			fmt.Fprintf(g.stdout, "run %d: %d pending removals rejected; nobody was removed\n", id, n)
			return nil
		},
	}
}

// auditDeps fills the admin pages' sync audit: the change log, pending
// removals with Approve and Reject (counted in the metrics, recorded with
// the admin's name), and Refresh from the directory.
func (j *syncJob) auditDeps(deps *web.Deps) {
	if au, ok := j.a.store.(web.Audit); ok {
		deps.Audit = au
	}
	deps.Refresher = j.a.auth
	pendingGauge := func(ctx context.Context) {
		if n, err := dirsync.PendingCount(ctx, j.a.store, time.Now()); err == nil {
			j.metrics.SetPendingRemovals(n)
		}
	}
	deps.Approvals.Approve = func(ctx context.Context, runID int64, by string) (int, int, error) {
		// The approval is a sync: it is not cut short by a closed tab.
		ctx = context.WithoutCancel(ctx)
		unlock, err := lockSyncRun(ctx, j.a.store)
		if err != nil {
			return 0, 0, err
		}
		defer unlock()
		s := j.syncer
		if name := runDirectory(ctx, j.a.store, runID, j.a.dirs[0].name()); name != j.a.dirs[0].name() {
			s = nil
			for i, d := range j.a.dirs[1:] {
				if d.name() == name {
					s = j.others[i]
				}
			}
			if s == nil {
				return 0, 0, fmt.Errorf("run %d read directory %s, which is no longer configured", runID, name)
			}
		}
		rep, err := s.Approve(ctx, runID, by)
		if err != nil {
			return 0, 0, err
		}
		j.metrics.ObserveDecision("approved")
		pendingGauge(ctx)
		return rep.Removed, rep.Skipped, nil
	}
	deps.Approvals.Reject = func(ctx context.Context, runID int64, by string) (int, error) {
		n, err := dirsync.Reject(ctx, j.a.store, runID, by, time.Now())
		if err == nil {
			j.metrics.ObserveDecision("rejected")
			pendingGauge(ctx)
		}
		return n, err
	}
}

// runDirectory is the directory the sync run id read (its history row), or
// def when the run is not found (Approve then says so).
func runDirectory(ctx context.Context, st ldapbridge.Store, id int64, def string) string {
	runs, err := st.SyncRuns(ctx, 0)
	if err != nil {
		return def
	}
	for _, r := range runs {
		if r.ID == id && r.Directory != "" {
			return r.Directory
		}
	}
	return def
}
