package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/ldapdir"
)

// queryJSON is one LDAP search in `explain --json`.
type queryJSON struct {
	BaseDN  string `json:"base"`
	Scope   string `json:"scope"`
	Filter  string `json:"filter"`
	Entries int    `json:"entries"`
}

// explainJSON is the `explain --json` object (DESIGN.md).
type explainJSON struct {
	*auth.Explanation
	// Directory names the directory explained: --directory, else the
	// first, in login order, that holds the user ("" when none does).
	Directory string              `json:"directory"`
	User      *apijson.UserDetail `json:"user"`
	Queries   []queryJSON         `json:"queries"`
}

func newExplainCmd(g *globals) *cobra.Command {
	var directory string
	cmd := &cobra.Command{
		Use:   "explain USERNAME",
		Short: "Show why a user is or is not allowed in, without a password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			var ex *auth.Explanation
			name := ""
			for _, d := range dirs {
				e, err := d.auth.Explain(ctx, args[0])
				if err != nil {
					return failed(err)
				}
				if ex == nil || e.Found {
					ex = e
				}
				if e.Found {
					name = d.name()
					break
				}
			}
			out := explainJSON{Explanation: ex, Directory: name, Queries: []queryJSON{}}
			if ex.User != nil {
				u := apijson.NewUserDetail(ex.User)
				out.User = &u
			}
			for _, q := range ex.Queries {
				out.Queries = append(out.Queries, queryJSON(q))
			}
			if g.json {
				if err := printJSON(g.stdout, out); err != nil {
					return err
				}
			} else {
				printExplanation(g, out)
			}
			if !ex.Found {
				return failed(fmt.Errorf("%s: %s", args[0], ex.Reason))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&directory, "directory", "", "explain the user in this directory (a directories: name); default: the first, in login order, that holds the user")
	return cmd
}

func verdict(b bool) string {
	if b {
		return "matches"
	}
	return "does not match"
}

func printExplanation(g *globals, ex explainJSON) {
	w := g.stdout
	field(w, "found", yesNo(ex.Found))
	if ex.Found {
		field(w, "dn", ex.DN)
		field(w, "stable id", ex.StableID)
		for _, name := range sortedKeys(ex.Attributes) {
			field(w, name, strings.Join(ex.Attributes[name], " | "))
		}
		field(w, "groups", strings.Join(sorted(ex.GroupNames), ", "))
		for _, dn := range sorted(ex.GroupDNs) {
			fmt.Fprintf(w, "%-14s %s\n", "", dn)
		}
		if ex.Require != nil {
			field(w, "require", fmt.Sprintf("%s: %s", verdict(ex.Require.Verdict), ex.Require.Rule))
		}
		if ex.Deny != nil {
			field(w, "deny", fmt.Sprintf("%s: %s", verdict(ex.Deny.Verdict), ex.Deny.Rule))
		}
		for _, name := range sortedKeys(ex.Flags) {
			field(w, name, yesNo(ex.Flags[name]))
		}
	}
	if ad := ex.AD; ad != nil {
		field(w, "flavor", ex.Flavor)
		field(w, "domain", fmt.Sprintf("%s (NetBIOS %s), functional level %s", ad.Domain, ad.NetBIOSDomain, ldapdir.FunctionalLevel(ad.DomainFunctionality)))
		field(w, "disabled", fmt.Sprintf("%s (userAccountControl %s)", yesNo(ad.Disabled), ad.UserAccountControl))
		field(w, "primary group", fmt.Sprintf("%s (RID %s, %s)", ad.PrimaryGroup, ad.PrimaryGroupID, ad.PrimaryGroupSID))
		if ad.InChainQuery != "" {
			field(w, "in-chain", ad.InChainQuery)
		}
	}
	field(w, "outcome", ex.Outcome)
	if ex.Reason != "" {
		field(w, "reason", ex.Reason)
	}
	fmt.Fprintf(w, "LDAP searches (%d):\n", len(ex.Queries))
	for _, q := range ex.Queries {
		fmt.Fprintf(w, "  %d entries  base=%q scope=%s filter=%s\n", q.Entries, q.BaseDN, q.Scope, q.Filter)
	}
}
