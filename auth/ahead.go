package auth

import (
	"context"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/membership"
)

// A login waits on three round trips to the directory (find the user,
// bind, read the groups) and on the store. Two pairs of them do not depend
// on each other and run side by side: the local-account read with the
// user search (the search carries no password), and the bind with the
// group search (both need only the entry found). A wrong password still
// reads the groups, which are thrown away.

// pendingLookup is a user search started before the local-account read
// finished.
type pendingLookup struct {
	cancel context.CancelFunc
	done   chan struct{}
	found  *foundUser
	res    *Result
	err    error
}

// lookAhead reports whether a login may search for the user while the
// store is read: only on the service-account path, not for a local
// account's name, and not when the live mirror may sign the user in with
// the bind alone (a search would be an LDAP operation it does not need).
func (a *Authenticator) lookAhead(ctx context.Context, name string) bool {
	if a.cfg.Directory.BindAsUser || a.cfg.Users.DNTemplate != "" {
		return false
	}
	if a.cfg.Access.LoginSource == "mirror" && a.liveMirror.Load() != nil {
		return false
	}
	return !a.maybeLocal(ctx, foldUsername(name, a.cfg.Users.UsernameCase))
}

// startLookup searches for name in its own goroutine; wait or abandon
// collects it.
func (a *Authenticator) startLookup(ctx context.Context, name string) *pendingLookup {
	ctx, cancel := context.WithCancel(ctx)
	p := &pendingLookup{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.found, p.res, p.err = a.lookup(ctx, a.dir, a.directoryName(name), nil)
	}()
	return p
}

// wait returns the search's result.
func (p *pendingLookup) wait() (*foundUser, *Result, error) {
	<-p.done
	p.cancel()
	return p.found, p.res, p.err
}

// abandon stops the search (a local account signs in without the
// directory, which may be down) and waits for its goroutine.
func (p *pendingLookup) abandon() {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
}

// pendingGroups is a group read started before the bind.
type pendingGroups struct {
	done   chan struct{}
	groups []membership.Group
	err    error
}

// startGroups reads the groups of e in its own goroutine; wait collects
// them.
func (a *Authenticator) startGroups(ctx context.Context, s ldapbridge.Searcher, e *ldapbridge.Entry) *pendingGroups {
	p := &pendingGroups{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.groups, p.err = a.userGroups(ctx, s, e, false)
	}()
	return p
}

func (p *pendingGroups) wait() ([]membership.Group, error) {
	<-p.done
	return p.groups, p.err
}

// localNamesTTL is how long the set of local-account names is trusted
// before it is read again. A local account created by another instance
// within it has its name searched in the directory once, alongside the
// store read that then finds it local; the login is the same.
const localNamesTTL = 30 * time.Second

// userLister is the store method the local-names set is read with.
type userLister interface {
	ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error)
}

// localNames is the set of local-account usernames, so that a local
// account's login never reaches the directory, not even the user search
// that runs beside the store read.
type localNames struct {
	mu     sync.Mutex
	names  map[string]bool
	loaded time.Time
}

// maybeLocal reports whether uname may be a local account. It reports
// true (no look-ahead) when the set cannot be read.
func (a *Authenticator) maybeLocal(ctx context.Context, uname string) bool {
	ul, ok := a.store.(userLister)
	if !ok {
		return true
	}
	l := &a.locals
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil || a.now().Sub(l.loaded) > localNamesTTL {
		us, err := ul.ListUsers(ctx, ldapbridge.UserQuery{Source: ldapbridge.SourceLocal})
		if err != nil {
			l.names = nil
			return true
		}
		l.names = make(map[string]bool, len(us))
		for _, u := range us {
			l.names[u.Username] = true
		}
		l.loaded = a.now()
	}
	return l.names[uname]
}

// addLocalName puts uname in the set at once (AddLocal on this instance).
func (a *Authenticator) addLocalName(uname string) {
	a.locals.mu.Lock()
	defer a.locals.mu.Unlock()
	if a.locals.names != nil {
		a.locals.names[uname] = true
	}
}
