package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// TakenError is FindAccount's error for a directory user whose account
// (matched by stable id, users.query_field or username) belongs to another
// directory: an account never moves between directories, so a login or a
// sync from this one is refused. It wraps ldapbridge.ErrConflict.
type TakenError struct {
	// Username is the stored account's name; Directory the directory it
	// belongs to.
	Username, Directory string
}

func (e *TakenError) Error() string { return "username taken by directory " + e.Directory }

// Unwrap makes a TakenError an ldapbridge.ErrConflict.
func (e *TakenError) Unwrap() error { return ldapbridge.ErrConflict }

// directoryOf is u's directory name, "" read as the default directory.
func directoryOf(u *ldapbridge.User) string {
	if u.Directory == "" {
		return ldapbridge.DefaultDirectory
	}
	return u.Directory
}

// Name is the name of the directory this Authenticator logs users in to
// (config.Config.Name: "default" for the single form).
func (a *Authenticator) Name() string { return a.cfg.Name() }

// SkipUnreachable is access.skip_unreachable of this directory.
func (a *Authenticator) SkipUnreachable() bool { return a.cfg.Access.SkipUnreachable }

// takenBy refuses a login found in this directory whose username's account
// belongs to another directory: user_not_found, with the reason
// "username taken by directory NAME", before the password is checked.
//
// With one directory it reads nothing (every directory account is this
// directory's; FindAccount still refuses another's when the account is
// written).
func (a *Authenticator) takenBy(ctx context.Context, e *ldapbridge.Entry) (*Result, error) {
	if len(a.cfg.Directories()) <= 1 {
		return nil, nil
	}
	name, err := a.mapper.Username(e)
	if err != nil {
		return nil, nil // admit reports it
	}
	u, err := a.store.User(ctx, name)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapStore(err, "find user "+name)
	}
	if u.Source != ldapbridge.SourceLDAP || directoryOf(u) == a.Name() {
		return nil, nil
	}
	return a.takenResult(e.DN, &TakenError{Username: u.Username, Directory: directoryOf(u)}), nil
}

func (a *Authenticator) takenResult(dn string, te *TakenError) *Result {
	res := newResult(UserNotFound, te.Error())
	res.DN, res.TakenBy, res.answered = dn, te.Directory, true
	return res
}

// Directories logs users in to several directories (config directories:),
// tried in order: the first directory in which the username exists
// decides — a wrong password there is bad_credentials and the next ones
// are not asked; a name found in none is user_not_found. A directory that
// cannot be reached fails the login with ldap_error, unless it has
// access.skip_unreachable. With one directory it is that directory's
// Authenticator. Safe for concurrent use.
type Directories struct {
	list []*Authenticator
	obs  Observer
	now  func() time.Time
}

// NewDirectories returns the login over list, in login order; obs (may
// be nil) observes each whole login (each Authenticator observes its own
// part).
func NewDirectories(list []*Authenticator, obs Observer) (*Directories, error) {
	if len(list) == 0 {
		return nil, errors.New("auth.NewDirectories: no directory")
	}
	return &Directories{list: list, obs: obs, now: time.Now}, nil
}

// List returns the Authenticators, in login order.
func (d *Directories) List() []*Authenticator { return d.list }

// Named returns the Authenticator of the directory called name, or nil.
func (d *Directories) Named(name string) *Authenticator {
	for _, a := range d.list {
		if a.Name() == name {
			return a
		}
	}
	return nil
}

// Authenticate runs one login across the directories.
func (d *Directories) Authenticate(ctx context.Context, username, password string) (*Result, error) {
	start := d.now()
	res, err := d.authenticate(ctx, username, password)
	if d.obs != nil {
		outcome := "error"
		if res != nil && err == nil {
			outcome = res.OutcomeLabel()
		}
		d.obs.ObserveLogin(outcome, d.now().Sub(start))
	}
	return res, err
}

func (d *Directories) authenticate(ctx context.Context, username, password string) (*Result, error) {
	if len(d.list) == 1 {
		return d.list[0].Authenticate(ctx, username, password)
	}
	var skipped []string
	var notFound *Result
	for _, a := range d.list {
		res, err := a.Authenticate(ctx, username, password)
		if err != nil || res == nil {
			return res, err
		}
		switch {
		case res.Outcome == UserNotFound && res.TakenBy == "":
			if notFound == nil {
				notFound = res
			}
			continue
		case res.Outcome == LDAPError && !res.answered && a.SkipUnreachable():
			skipped = append(skipped, a.Name())
			a.log.Warn("login: directory unreachable, skipped (access.skip_unreachable)", "directory", a.Name(), "username", LogName(username))
			continue
		}
		if res.User != nil && res.User.Source == ldapbridge.SourceLocal {
			res.Directory = ""
		}
		return res, nil
	}
	res := notFound
	if res == nil {
		res = newResult(UserNotFound, "")
	}
	names := make([]string, len(d.list))
	for i, a := range d.list {
		names[i] = a.Name()
	}
	res.Directory = ""
	res.Reason = fmt.Sprintf("%s is in none of the directories %s", quote(NormalizeUsername(username)), strings.Join(names, ", "))
	if len(skipped) > 0 {
		res.Reason += " (unreachable and skipped: " + strings.Join(skipped, ", ") + ")"
	}
	return res, nil
}

// forAccount is the Authenticator of the directory username belongs to:
// its stored account's directory, else the first directory, in login
// order, that finds the name, else the first.
func (d *Directories) forAccount(ctx context.Context, username string) *Authenticator {
	if len(d.list) == 1 {
		return d.list[0]
	}
	if u, err := d.list[0].store.User(ctx, NormalizeUsername(username)); err == nil && u.Source == ldapbridge.SourceLDAP {
		if a := d.Named(directoryOf(u)); a != nil {
			return a
		}
	}
	for _, a := range d.list {
		if _, err := a.userDN(ctx, username); err == nil {
			return a
		}
	}
	return d.list[0]
}

// ChangePassword changes the password in the user's own directory (see
// Authenticator.ChangePassword).
func (d *Directories) ChangePassword(ctx context.Context, username, oldPassword, newPassword string) (*Result, error) {
	return d.forAccount(ctx, username).ChangePassword(ctx, username, oldPassword, newPassword)
}

// SetPassword resets the password in the user's own directory (see
// Authenticator.SetPassword).
func (d *Directories) SetPassword(ctx context.Context, username, newPassword string) error {
	return d.forAccount(ctx, username).SetPassword(ctx, username, newPassword)
}
