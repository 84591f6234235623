package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/auth"
)

func newUsersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Read and manage the accounts in the store"}
	var search, source, directory, populateDir string
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			users, err := a.store.ListUsers(ctx, ldapbridge.UserQuery{Search: search, Source: source, Directory: directory})
			if err != nil {
				return failed(err)
			}
			if g.json {
				out := make([]apijson.User, len(users))
				for i, u := range users {
					out[i] = apijson.NewUser(u)
				}
				return printJSON(g.stdout, out)
			}
			// With several directories a DIRECTORY column follows SOURCE.
			several := len(a.cfg.Directories()) > 1
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			if several {
				fmt.Fprintln(tw, "USERNAME\tSOURCE\tDIRECTORY\tNAME\tEMAIL\tACTIVE\tSTAFF\tSUPERUSER")
			} else {
				fmt.Fprintln(tw, "USERNAME\tSOURCE\tNAME\tEMAIL\tACTIVE\tSTAFF\tSUPERUSER")
			}
			for _, u := range users {
				source := u.Source
				if several {
					dir := u.Directory
					if u.Source == ldapbridge.SourceLocal {
						dir = "-"
					} else if dir == "" {
						dir = ldapbridge.DefaultDirectory
					}
					source += "\t" + dir
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, source,
					strings.TrimSpace(u.FirstName+" "+u.LastName), u.Email,
					yesNo(u.IsActive), yesNo(u.IsStaff), yesNo(u.IsSuperuser))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&search, "search", "", "only accounts whose username, name or email contains this")
	list.Flags().StringVar(&source, "source", "", "only accounts from this source: ldap or local")
	list.Flags().StringVar(&directory, "directory", "", "only accounts of this directory (a directories: name; default for the single form)")

	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one account with its groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			u, err := a.store.User(ctx, args[0])
			if errors.Is(err, ldapbridge.ErrNotFound) {
				return failed(fmt.Errorf("no account named %q in the store — run `ldapbridge users populate %s` or a sync first", args[0], args[0]))
			}
			if err != nil {
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, apijson.NewUserDetail(u))
			}
			printUser(g, u)
			return nil
		},
	}

	populate := &cobra.Command{
		Use:   "populate NAME",
		Short: "Create or refresh one account from the directory, as a login would, without a password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, withDetect)
			if err != nil {
				return err
			}
			defer a.Close()
			dirs := a.dirs
			if populateDir != "" {
				d, err := a.directory(populateDir)
				if err != nil {
					return err
				}
				dirs = []*dirApp{d}
			}
			var res *auth.Result
			for _, d := range dirs {
				// The first directory, in login order, that holds the name.
				r, err := d.auth.Populate(ctx, args[0])
				if err != nil {
					return failed(err)
				}
				if res == nil || r.Outcome != auth.UserNotFound || r.TakenBy != "" {
					res = r
				}
				if r.Outcome != auth.UserNotFound || r.TakenBy != "" {
					break
				}
			}
			if g.json {
				if err := printJSON(g.stdout, newAuthTestJSON(res)); err != nil {
					return err
				}
			} else {
				printAuthResult(g, res)
			}
			if res.User == nil {
				return failed(fmt.Errorf("%s was not populated: %s", args[0], res.Outcome))
			}
			return nil
		},
	}

	populate.Flags().StringVar(&populateDir, "directory", "", "populate from this directory (a directories: name); default: the first, in login order, that holds the name")

	var staff, superuser bool
	addLocal := &cobra.Command{
		Use:   "add-local NAME",
		Short: "Create a local break-glass account; the password is prompted for twice without echo, or read from the first line of standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			password, err := g.readNewPassword(args[0])
			if err != nil {
				return err
			}
			a, err := g.openApp(ctx, withAuth)
			if err != nil {
				return err
			}
			defer a.Close()
			if !a.cfg.Access.LocalAccounts {
				return usage(errors.New("access.local_accounts is false, so local accounts cannot sign in — set it to true first"))
			}
			u, err := a.auth.AddLocal(ctx, args[0], password, staff || superuser, superuser)
			if err != nil {
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, apijson.NewUserDetail(u))
			}
			fmt.Fprintf(g.stdout, "created local account %s (staff: %s, superuser: %s)\n", u.Username, yesNo(u.IsStaff), yesNo(u.IsSuperuser))
			return nil
		},
	}
	addLocal.Flags().BoolVar(&staff, "staff", false, "give the account staff rights")
	addLocal.Flags().BoolVar(&superuser, "superuser", false, "give the account superuser rights (implies --staff)")

	cmd.AddCommand(list, show, populate, addLocal, forgetOfflineCmd(g), setPasswordCmd(g))
	return cmd
}

func printUser(g *globals, u *ldapbridge.User) {
	w := g.stdout
	field(w, "username", u.Username)
	field(w, "source", u.Source)
	if d := apijson.DirectoryOf(u); d != ldapbridge.DefaultDirectory {
		field(w, "directory", d)
	}
	if u.DN != "" {
		field(w, "dn", u.DN)
	}
	if u.StableID != "" {
		field(w, "stable id", u.StableID)
	}
	field(w, "name", strings.TrimSpace(u.FirstName+" "+u.LastName))
	field(w, "email", u.Email)
	field(w, "active", yesNo(u.IsActive))
	if v := u.EffectiveVerdict(); v == ldapbridge.VerdictOK {
		field(w, "allowed", "yes")
	} else {
		field(w, "allowed", "no: "+v+verdictReason(u.VerdictReason))
	}
	field(w, "staff", yesNo(u.IsStaff))
	field(w, "superuser", yesNo(u.IsSuperuser))
	for _, name := range sortedKeys(u.Flags) {
		field(w, name, yesNo(u.Flags[name]))
	}
	for _, name := range sortedKeys(u.Profile) {
		field(w, name, u.Profile[name])
	}
	field(w, "photo", yesNo(u.HasPhoto))
	field(w, "direct groups", strings.Join(sorted(u.DirectGroups), ", "))
	field(w, "groups", strings.Join(sorted(u.Groups), ", "))
	field(w, "last login", fmtTime(u.LastLoginAt))
	field(w, "last synced", fmtTime(u.LastSyncedAt))
}

func verdictReason(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

func newGroupsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Short: "Read the groups in the store and manage local groups"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List groups with their member counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			groups, err := a.store.ListGroups(ctx)
			if err != nil {
				return failed(err)
			}
			if g.json {
				out := make([]apijson.Group, len(groups))
				for i, gr := range groups {
					out[i] = apijson.NewGroup(gr)
				}
				return printJSON(g.stdout, out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE\tMEMBERS\tMEMBER GROUPS\tDN")
			for _, gr := range groups {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", gr.Name, apijson.NewGroup(gr).Source, gr.DirectMembers, strings.Join(sorted(gr.MemberGroups), ", "), gr.DN)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(localGroupCmds(g)...)
	return cmd
}

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.openApp(cmd.Context(), storeOnly) // opening migrates
			if err != nil {
				return err
			}
			a.Close()
			fmt.Fprintf(g.stdout, "store (%s) is up to date\n", a.cfg.Store.Driver)
			return nil
		},
	}
}
