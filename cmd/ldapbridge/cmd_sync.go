package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/events"
)

func newSyncCmd(g *globals) *cobra.Command {
	var full, incremental, dryRun, force bool
	var directory string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Sync users, groups and memberships from the directory into the store",
		Long: "Runs one sync. Without --full or --incremental the mode is chosen: incremental when a usable\n" +
			"cursor exists and sync.full_every is not reached, else full. A run that would remove more users\n" +
			"than sync.max_removals stops without removing anyone unless --force is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if full && incremental {
				return usage(errors.New("--full and --incremental exclude each other"))
			}
			ro := dirsync.RunOptions{DryRun: dryRun, Force: force}
			if full {
				ro.Mode = dirsync.Full
			} else if incremental {
				ro.Mode = dirsync.Incremental
			}
			ctx := cmd.Context()
			a, err := g.openApp(ctx, withDetect)
			if err != nil {
				return err
			}
			defer a.Close()
			dirs := a.dirs
			if directory != "" {
				d, err := a.directory(directory)
				if err != nil {
					return err
				}
				dirs = []*dirApp{d}
			}
			if !ro.DryRun {
				unlock, err := lockSyncRun(ctx, a.store)
				if err != nil {
					return failed(err)
				}
				defer unlock()
			}
			ro.StartedBy = "cli"
			// Every directory in order, each its own run: one that fails
			// or aborts stops only its own part.
			var reps []*dirsync.Report
			var firstErr error
			for _, d := range dirs {
				prog := newProgress(g.stderr, a.log.Info)
				s, err := newDirSyncer(a, d, prog.update)
				if err != nil {
					return usage(err)
				}
				rep, err := s.Run(ctx, ro)
				prog.done()
				if rep != nil {
					reps = append(reps, rep)
					if !g.json {
						if len(a.dirs) > 1 {
							fmt.Fprintf(g.stdout, "directory %s:\n", d.name())
						}
						printReport(g.stdout, rep)
					}
				}
				if err != nil && len(a.dirs) > 1 {
					err = fmt.Errorf("directory %s: %w", d.name(), err)
					fmt.Fprintln(g.stderr, "error:", err)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}
			if g.json && len(reps) > 0 {
				// One directory: the report object; several: a list.
				var out any = reps[0]
				if len(a.dirs) > 1 {
					out = reps
				}
				if perr := printJSON(g.stdout, out); perr != nil {
					return perr
				}
			}
			if firstErr != nil {
				return failed(firstErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&full, "full", false, "read the whole directory")
	f.BoolVar(&incremental, "incremental", false, "read only what changed since the last run (falls back to full when it cannot)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and write nothing")
	f.BoolVar(&force, "force", false, "apply removals beyond sync.max_removals")
	f.StringVar(&directory, "directory", "", "sync only this directory (a directories: name); default: every directory, in order")
	cmd.AddCommand(newSyncHistoryCmd(g), newSyncShowCmd(g), newSyncPendingCmd(g), newSyncApproveCmd(g), newSyncRejectCmd(g))
	return cmd
}

func newSyncer(a *app, progress func(dirsync.Progress)) (*dirsync.Syncer, error) {
	return dirsync.New(dirsync.Options{Config: a.cfg, Dir: a.dir, Store: a.store, Mapper: a.auth.Mapper(), Logger: a.log, Progress: progress, Instance: a.instance,
		Events: events.Build(a.cfg.Events)})
}

// newDirSyncer is the syncer of one directory of a.
func newDirSyncer(a *app, d *dirApp, progress func(dirsync.Progress)) (*dirsync.Syncer, error) {
	log := a.log
	if len(a.dirs) > 1 {
		log = log.With("directory", d.name())
	}
	return dirsync.New(dirsync.Options{Config: d.cfg, Dir: d.dir, Store: a.store, Mapper: d.auth.Mapper(), Logger: log, Progress: progress, Instance: a.instance,
		Events: events.Build(d.cfg.Events)})
}

func printReport(w io.Writer, r *dirsync.Report) {
	if r.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was written. The plan:")
		for _, l := range []struct {
			what  string
			names []string
		}{
			{"create", r.Plan.Create}, {"update", r.Plan.Update}, {"deactivate", r.Plan.Deactivate}, {"delete", r.Plan.Delete},
			{"create group", r.Plan.GroupsCreate}, {"update group", r.Plan.GroupsUpdate}, {"delete group", r.Plan.GroupsDelete},
			{"add membership", r.Plan.MembershipsAdd}, {"remove membership", r.Plan.MembershipsRemove},
		} {
			for _, n := range l.names {
				fmt.Fprintf(w, "  %-17s %s\n", l.what, n)
			}
		}
		if r.Plan.Truncated() {
			fmt.Fprintln(w, "  (lists cut at 1000 names each)")
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	if r.FallbackReason != "" {
		fmt.Fprintln(w, "note: full run instead of incremental:", r.FallbackReason)
	}
	server := r.Server
	if server == "" {
		server = "no directory server (none answered)"
	}
	fmt.Fprintf(w, "%s sync of %s in %s, %d LDAP searches\n", r.Mode, server, time.Duration(r.DurationMS)*time.Millisecond, r.LDAPSearches)
	fmt.Fprintf(w, "users: %d created, %d updated, %d deactivated, %d deleted, %d refused, %d unchanged\n",
		r.UsersCreated, r.UsersUpdated, r.UsersDeactivated, r.UsersDeleted, r.UsersRefused, r.UsersUnchanged)
	fmt.Fprintf(w, "groups: %d created, %d updated, %d deleted; memberships: %d added, %d removed\n",
		r.GroupsCreated, r.GroupsUpdated, r.GroupsDeleted, r.MembershipsAdded, r.MembershipsRemoved)
	if r.Aborted {
		fmt.Fprintln(w, "ABORTED:", r.AbortReason)
	}
}

func newSyncHistoryCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show recent sync runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			runs, err := a.store.SyncRuns(ctx, limit)
			if err != nil {
				return failed(err)
			}
			if g.json {
				type runJSON struct {
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
					StartedBy    string           `json:"started_by"`
					Directory    string           `json:"directory"`
				}
				out := make([]runJSON, len(runs))
				for i, r := range runs {
					out[i] = runJSON{r.ID, r.StartedAt, r.FinishedAt, r.Mode, r.Server, r.Outcome, r.Error, r.Counts, r.LDAPSearches, r.Instance, r.StartedBy, r.Directory}
				}
				return printJSON(g.stdout, out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTARTED\tDURATION\tMODE\tOUTCOME\tCREATED\tUPDATED\tREMOVED\tSEARCHES\tSERVER\tINSTANCE\tSTARTED BY\tERROR")
			for _, r := range runs {
				dur := "running"
				if r.FinishedAt != nil {
					dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
				}
				c := r.Counts
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.Local().Format(timeLayout), dur, r.Mode, r.Outcome,
					c["users_created"], c["users_updated"], c["users_deactivated"]+c["users_deleted"], r.LDAPSearches, r.Server, r.Instance, orDash(r.StartedBy), r.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to show (0 = all)")
	return cmd
}

// progress shows a progress line on a terminal, and otherwise logs a
// line every few seconds.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	log   func(msg string, args ...any)
	last  time.Time
	p     dirsync.Progress
	shown bool
}

func newProgress(w io.Writer, log func(string, ...any)) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, log: log, last: time.Now()}
}

func (p *progress) update(pr dirsync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p = pr
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.tty {
		bar := strings.Repeat("#", min(30, pr.Applied*30/max(pr.Read, 1)))
		fmt.Fprintf(p.w, "\r%-11s read %8d  applied %8d [%-30s]", pr.Phase, pr.Read, pr.Applied, bar)
		p.shown = true
		return
	}
	p.log("sync progress", "phase", pr.Phase, "read", pr.Read, "applied", pr.Applied)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

// orDash is s, or "-" for an empty column.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
