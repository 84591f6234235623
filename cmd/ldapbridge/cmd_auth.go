package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/auth"
)

// authTestJSON is the `auth test --json` object (DESIGN.md).
type authTestJSON struct {
	Authenticated bool   `json:"authenticated"`
	Allowed       bool   `json:"allowed"`
	Outcome       string `json:"outcome"`
	Reason        string `json:"reason"`
	Created       bool   `json:"created"`
	// Directory names the directory that decided the login; "" for a
	// local account and for a name no directory holds.
	Directory  string             `json:"directory"`
	DN         string             `json:"dn"`
	GroupDNs   []string           `json:"group_dns"`
	GroupNames []string           `json:"group_names"`
	User       *apijson.LoginUser `json:"user"`
	// Offline is present (true) only on a login admitted by the offline
	// verifier; PasswordExpiresInS and GraceLogins only when the
	// directory's password policy warned.
	Offline            bool   `json:"offline,omitempty"`
	PasswordExpiresInS *int64 `json:"password_expires_in_s,omitempty"`
	GraceLogins        *int   `json:"grace_logins,omitempty"`
}

func newAuthCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Test logins"}
	cmd.AddCommand(&cobra.Command{
		Use:   "test USERNAME",
		Short: "Run a real login; the password is prompted for without echo, or read from the first line of standard input",
		Long: "Runs a real login for USERNAME exactly as the web app would, with the password\n" +
			"read from the first line of standard input (only the line ending is removed;\n" +
			"on a terminal it is prompted for without echo),\n" +
			"and prints the outcome. Exit 0 when the user is allowed in, 1 otherwise.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			password, err := readSecret(g.stdin, g.stderr, "Password for "+args[0], false)
			if err != nil {
				return failed(fmt.Errorf("read password from standard input: %w", err))
			}
			if f := cmd.Flag("log-level"); f != nil && !f.Changed {
				// The result printed below is the report, and the exit
				// status says refused: the login's own log records would
				// only repeat it. --log-level brings them back.
				g.logLevel = "ERROR+4"
			}
			a, err := g.openApp(ctx, withDetect)
			if err != nil {
				return err
			}
			defer a.Close()
			res, err := a.login.Authenticate(ctx, args[0], password)
			if err != nil {
				return failed(err)
			}
			if g.json {
				if err := printJSON(g.stdout, newAuthTestJSON(res)); err != nil {
					return err
				}
			} else {
				printAuthResult(g, res)
			}
			if !res.Allowed {
				return &exitError{code: exitFailed, err: errors.New("login refused: " + string(res.Outcome))}
			}
			return nil
		},
	})
	return cmd
}

func newAuthTestJSON(res *auth.Result) authTestJSON {
	j := authTestJSON{
		Authenticated: res.Authenticated, Allowed: res.Allowed,
		Outcome: string(res.Outcome), Reason: res.Reason, Created: res.Created, Directory: res.Directory,
		DN: res.DN, GroupDNs: sorted(res.GroupDNs), GroupNames: sorted(res.GroupNames),
		User: apijson.NewLoginUser(res.User), Offline: res.Offline,
	}
	if res.HasExpiryWarning {
		s := int64(res.PasswordExpiresIn.Seconds())
		j.PasswordExpiresInS = &s
	}
	if res.HasGraceLogins {
		n := res.GraceLogins
		j.GraceLogins = &n
	}
	return j
}

func printAuthResult(g *globals, res *auth.Result) {
	w := g.stdout
	field(w, "outcome", res.Outcome)
	if res.Reason != "" {
		field(w, "reason", res.Reason)
	}
	if res.Directory != "" && res.Directory != ldapbridge.DefaultDirectory {
		field(w, "directory", res.Directory)
	}
	field(w, "authenticated", yesNo(res.Authenticated))
	field(w, "allowed", yesNo(res.Allowed))
	if res.Offline {
		field(w, "offline", "yes (no directory server answered; admitted by the stored verifier)")
	}
	if res.HasExpiryWarning {
		field(w, "password expires in", res.PasswordExpiresIn.String())
	}
	if res.HasGraceLogins {
		field(w, "grace logins left", fmt.Sprint(res.GraceLogins))
	}
	if res.DN != "" {
		field(w, "dn", res.DN)
	}
	if len(res.GroupNames) > 0 {
		field(w, "groups", strings.Join(sorted(res.GroupNames), ", "))
	}
	if u := res.User; u != nil {
		created := ""
		if res.Created {
			created = " (created)"
		}
		field(w, "user", u.Username+created)
		field(w, "name", strings.TrimSpace(u.FirstName+" "+u.LastName))
		field(w, "email", u.Email)
		field(w, "active", yesNo(u.IsActive))
		field(w, "staff", yesNo(u.IsStaff))
		field(w, "superuser", yesNo(u.IsSuperuser))
		for _, name := range sortedKeys(u.Flags) {
			field(w, name, yesNo(u.Flags[name]))
		}
		if len(u.Groups) > 0 {
			field(w, "local groups", strings.Join(sorted(u.Groups), ", "))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return sorted(keys)
}
