package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
)

// localGroupCmds are the groups subcommands that manage local groups:
// groups of the application's own, which no directory knows. A login or a
// sync never changes their members; a directory group's members come from
// the directory only.
func localGroupCmds(g *globals) []*cobra.Command {
	addLocal := &cobra.Command{
		Use:   "add-local NAME",
		Short: "Create a local group (members are added with groups add-member; logins and syncs leave them alone)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.TrimSpace(name) != name || name == "" {
				return usage(fmt.Errorf("group name %q is empty or has leading or trailing spaces — write the name without them", name))
			}
			return withStore(cmd.Context(), g, func(ctx context.Context, st ldapbridge.Store) error {
				if old, err := st.Group(ctx, name); err == nil {
					if old.Source == ldapbridge.SourceLocal {
						return failed(fmt.Errorf("a local group named %q exists already", name))
					}
					return failed(fmt.Errorf("a directory group named %q exists (%s): a local group may not share its name — choose another name", name, old.DN))
				} else if !errors.Is(err, ldapbridge.ErrNotFound) {
					return failed(err)
				}
				gr := &ldapbridge.Group{Name: name, Source: ldapbridge.SourceLocal}
				if err := st.UpsertGroup(ctx, gr); err != nil {
					return failed(err)
				}
				if g.json {
					return printJSON(g.stdout, apijson.NewGroup(gr))
				}
				fmt.Fprintf(g.stdout, "created local group %s\n", name)
				return nil
			})
		},
	}
	deleteLocal := &cobra.Command{
		Use:   "delete-local NAME",
		Short: "Delete a local group and its memberships",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), g, func(ctx context.Context, st ldapbridge.Store) error {
				gr, err := localGroup(ctx, st, args[0], "delete it", "leave it out with groups.mirror, or remove it in the directory (with sync.removed_groups: delete the next full sync deletes it)")
				if err != nil {
					return err
				}
				if err := st.DeleteGroup(ctx, gr.ID); err != nil {
					return failed(err)
				}
				if g.json {
					return printJSON(g.stdout, apijson.NewGroup(gr))
				}
				fmt.Fprintf(g.stdout, "deleted local group %s (%d members)\n", gr.Name, gr.DirectMembers)
				return nil
			})
		},
	}
	member := func(use, short string, add bool) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withStore(cmd.Context(), g, func(ctx context.Context, st ldapbridge.Store) error {
					how := "add the user to it in the directory, then sign in or sync"
					if !add {
						how = "remove the user from it in the directory, then sign in or sync"
					}
					gr, err := localGroup(ctx, st, args[0], "change its members here", how)
					if err != nil {
						return err
					}
					u, err := st.User(ctx, args[1])
					if errors.Is(err, ldapbridge.ErrNotFound) {
						return failed(fmt.Errorf("no account named %q in the store — run `ldapbridge users populate %s` or a sync first", args[1], args[1]))
					} else if err != nil {
						return failed(err)
					}
					was := containsString(u.DirectGroups, gr.Name)
					edge := []ldapbridge.Membership{{GroupID: gr.ID, UserID: u.ID}}
					if add {
						err = st.AddMemberships(ctx, edge)
					} else {
						err = st.RemoveMemberships(ctx, edge)
					}
					if err != nil {
						return failed(err)
					}
					if g.json {
						return printGroupDetail(ctx, g, st, gr.Name)
					}
					switch {
					case add && was:
						fmt.Fprintf(g.stdout, "%s is already a member of %s\n", u.Username, gr.Name)
					case add:
						fmt.Fprintf(g.stdout, "added %s to %s\n", u.Username, gr.Name)
					case was:
						fmt.Fprintf(g.stdout, "removed %s from %s\n", u.Username, gr.Name)
					default:
						fmt.Fprintf(g.stdout, "%s was not a member of %s\n", u.Username, gr.Name)
					}
					return nil
				})
			},
		}
	}
	return []*cobra.Command{addLocal, deleteLocal,
		member("add-member GROUP USER", "Add an account to a local group (directory groups' members come from the directory)", true),
		member("remove-member GROUP USER", "Remove an account from a local group", false)}
}

// withStore opens the store only and runs fn on it.
func withStore(ctx context.Context, g *globals, fn func(context.Context, ldapbridge.Store) error) error {
	a, err := g.openApp(ctx, storeOnly)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(ctx, a.store)
}

// localGroup returns the local group name, or an error that says why not:
// missing, or a directory group (whose members come from the directory:
// how says what to do instead of what).
func localGroup(ctx context.Context, st ldapbridge.Store, name, what, how string) (*ldapbridge.Group, error) {
	gr, err := st.Group(ctx, name)
	switch {
	case errors.Is(err, ldapbridge.ErrNotFound):
		return nil, failed(fmt.Errorf("no group named %q in the store — create a local group with `ldapbridge groups add-local %s`", name, name))
	case err != nil:
		return nil, failed(err)
	case gr.Source != ldapbridge.SourceLocal:
		return nil, failed(fmt.Errorf("%q is a directory group (%s): its members come from the directory, so you cannot %s — %s; only local groups (groups add-local) are managed here", name, gr.DN, what, how))
	}
	return gr, nil
}

// printGroupDetail prints the group with its direct member users as JSON.
func printGroupDetail(ctx context.Context, g *globals, st ldapbridge.Store, name string) error {
	gr, err := st.Group(ctx, name)
	if err != nil {
		return failed(err)
	}
	us, err := st.ListUsers(ctx, ldapbridge.UserQuery{Group: name})
	if err != nil {
		return failed(err)
	}
	d := apijson.GroupDetail{Group: apijson.NewGroup(gr), Members: []string{}}
	for _, u := range us {
		d.Members = append(d.Members, u.Username)
	}
	return printJSON(g.stdout, d)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
