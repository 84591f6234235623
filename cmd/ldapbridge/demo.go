package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/dirsync"
)

func newDemoCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start an embedded demo directory, a temporary store and the web app",
		Long: "Starts an embedded LDAP directory holding a JumpCloud-shaped demo organisation,\n" +
			"a temporary SQLite store and the web app, and prints the URL and the demo logins.\n" +
			"Nothing needs to be installed; Ctrl-C stops it and removes the temporary store.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("log-level") {
				// Populating the demo refuses two demo people by design; keep
				// the first screen to the URL and the logins.
				g.logLevel = "error"
			}
			dd, err := demodir.Start(ctx, "127.0.0.1:0")
			if err != nil {
				return failed(fmt.Errorf("start the demo directory: %w", err))
			}
			defer dd.Close()
			tmp, err := os.MkdirTemp("", "ldapbridge-demo-")
			if err != nil {
				return failed(err)
			}
			defer os.RemoveAll(tmp)
			cfg, err := config.Parse(demodir.ConfigYAML(dd.URL(), filepath.Join(tmp, "demo.db")), config.ParseOptions{})
			if err != nil {
				return failed(fmt.Errorf("demo configuration: %w", err))
			}
			cfg.Web.Listen = listen
			reg, metrics, err := newMetrics()
			if err != nil {
				return err
			}
			a, err := g.openAppWith(ctx, cfg, withAuth, metrics)
			if err != nil {
				return err
			}
			defer a.Close()
			job, err := newSyncJob(ctx, a, metrics)
			if err != nil {
				return err
			}
			// Before the store closes: cancels and waits for any sync.
			defer job.Close()
			rep, err := job.run(ctx, dirsync.RunOptions{Mode: dirsync.Full}, "demo start")
			if err != nil {
				return failed(fmt.Errorf("first sync of the demo directory: %w", err))
			}
			if err := job.schedule(); err != nil {
				return err
			}
			return runWeb(ctx, a, reg, metrics, job, func(url string) {
				w := g.stdout
				fmt.Fprintf(w, "ldapbridge demo is running at %s\n", url)
				fmt.Fprintf(w, "embedded directory: %s (service account %s)\n", dd.URL(), demodir.ServiceDN)
				fmt.Fprintf(w, "store: %s (synced %d users, %d groups; again every %s)\n", filepath.Join(tmp, "demo.db"),
					rep.UsersCreated+rep.UsersUpdated+rep.UsersUnchanged, rep.GroupsCreated+rep.GroupsUpdated, cfg.Sync.Schedule)
				for _, l := range demodir.Logins() {
					fmt.Fprintf(w, "demo login: %s / %s (%s)\n", l.Username, l.Password, l.Roles)
				}
				fmt.Fprintln(w, "Press Ctrl-C to stop.")
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address for the web app")
	return cmd
}
