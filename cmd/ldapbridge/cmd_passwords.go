package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// forgetOfflineCmd is `users forget-offline NAME`: delete the account's
// offline sign-in verifier.
func forgetOfflineCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "forget-offline NAME",
		Short: "Delete the account's offline sign-in verifier (access.offline_login), so it cannot sign in while the directory is down",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			err = auth.ForgetOffline(ctx, a.store, args[0])
			if errors.Is(err, ldapbridge.ErrNotFound) {
				return failed(fmt.Errorf("%w — nothing to forget (the account does not exist, or has no offline verifier)", err))
			}
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(g.stdout, "deleted the offline sign-in verifier of %s\n", args[0])
			return nil
		},
	}
}

// setPasswordCmd is `users set-password NAME`: reset a directory user's
// password through the service account.
func setPasswordCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set-password NAME",
		Short: "Reset a directory user's password through the service account (where its rights allow); the password is prompted for twice without echo, or read from the first line of standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			password, err := g.readNewPassword(args[0])
			if err != nil {
				return err
			}
			a, err := g.openApp(ctx, withDetect)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.login.SetPassword(ctx, args[0], password); err != nil {
				if errors.Is(err, ldapbridge.ErrPasswordChangeRefused) {
					return failed(fmt.Errorf("%w (the service account directory.bind_dn needs the right to reset passwords)", err))
				}
				return failed(err)
			}
			fmt.Fprintf(g.stdout, "set the directory password of %s\n", args[0])
			return nil
		},
	}
}
