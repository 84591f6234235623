package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// MirrorClock says how far the store is behind the directory, and whether
// anything vouches for it at all; the live mirror (dirsync.Live) is one.
type MirrorClock interface {
	Lag() (lag time.Duration, current bool)
}

// mirrorRef holds a MirrorClock for an atomic pointer.
type mirrorRef struct{ MirrorClock }

// SetMirror gives logins the live mirror's clock: with
// access.login_source: mirror, while m says the store is current within
// access.mirror_max_lag, a stored directory user's login takes the DN,
// flags and groups from the store and asks the directory for one operation,
// the bind. nil takes the clock away (every login asks the directory).
func (a *Authenticator) SetMirror(m MirrorClock) {
	if m == nil {
		a.liveMirror.Store(nil)
		return
	}
	a.liveMirror.Store(&mirrorRef{m})
}

// mirrorLogin signs name in from the store when the live mirror is current
// and the store holds name as an admitted directory user with a DN: the
// directory only checks the password with a bind to that DN. It reports
// false (the caller takes the directory path, which gives the same result
// as if the mirror were not there) when the mirror is off, lags or is not
// running, when the user is not stored, not a directory user or not
// admitted by the stored verdict, and when the directory refuses the bind
// (a stale DN, a wrong password, a locked account: the directory path
// words it).
func (a *Authenticator) mirrorLogin(ctx context.Context, name, password string, stored *ldapbridge.User) (*Result, bool, error) {
	ref := a.liveMirror.Load()
	if a.cfg.Access.LoginSource != "mirror" || ref == nil || a.cfg.Directory.BindAsUser {
		return nil, false, nil
	}
	lag, current := ref.Lag()
	if !current || lag > a.cfg.Access.MirrorMaxLag.D() {
		return nil, false, nil
	}
	u := stored
	if u == nil {
		uname := foldUsername(a.directoryName(name), a.cfg.Users.UsernameCase)
		if a.hooks.ToLocal != nil {
			uname = a.hooks.ToLocal(a.directoryName(name))
		}
		var err error
		u, err = a.store.User(ctx, uname)
		if errors.Is(err, ldapbridge.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("auth: look up %q in the live mirror: %w", uname, err)
		}
	}
	if u.Source != ldapbridge.SourceLDAP || u.DN == "" || !u.Allowed() {
		return nil, false, nil
	}
	var policy ldapbridge.PasswordPolicy
	var err error
	if pc, ok := a.dir.(ldapbridge.PolicyChecker); ok {
		policy, err = pc.CheckPasswordPolicy(ctx, u.DN, password)
	} else {
		err = a.dir.CheckPassword(ctx, u.DN, password)
	}
	if err != nil {
		return nil, false, nil
	}
	at := a.now()
	if err := a.store.RecordLogin(ctx, u.ID, at); err != nil {
		return nil, true, fmt.Errorf("auth: record login of %q: %w", u.Username, err)
	}
	u.LastLoginAt = &at
	res := newResult(OK, fmt.Sprintf("signed in from the live mirror: the directory checked the password with one bind; DN, flags and groups are the store's, at most %s behind the directory", lag.Round(time.Millisecond)))
	res.Authenticated, res.Allowed, res.answered = true, true, true
	res.DN, res.User = u.DN, u
	res.GroupNames = append(res.GroupNames, u.Groups...)
	res.FromMirror = true
	res.setPolicy(policy)
	return res, true, nil
}
