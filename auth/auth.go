// Package auth is the login policy: it finds a user in the directory,
// checks the password, resolves groups, applies access.require, access.deny
// and access.flags, and creates or refreshes the local account — what
// django-auth-ldap does, in Go. Local break-glass accounts are checked
// first and never touch the directory.
//
// A username that matches several directory entries (across the union of
// users.search) is refused with outcome user_not_found, a reason saying
// "matches N entries", and an error-level log line.
//
// Cost of one login with a service account: one search per users.search
// entry (or one base read with users.dn_template), one bind to check the
// password, and the group queries (one, plus one per nesting level with
// groups.nested). With access.cache_ttl > 0 the user entry (by directory
// username) and the groups (by DN) are cached, so a warm login is the bind
// alone; the password is never cached. With directory.bind_as_user the
// bind opens the session, and a warm login is again that bind alone.
//
// auth must not import ldapdir, a store driver or web: it sees the
// directory and the store only through the root package's interfaces.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

// Outcome is the result of a login attempt, as printed by `auth test`.
type Outcome string

// The outcomes. Only OK lets the user in.
const (
	OK             Outcome = "ok"
	Inactive       Outcome = "inactive"
	BadCredentials Outcome = "bad_credentials"
	UserNotFound   Outcome = "user_not_found"
	EmptyPassword  Outcome = "empty_password"
	RequireGroup   Outcome = "require_group"
	DenyGroup      Outcome = "deny_group"
	NoNewUsers     Outcome = "no_new_users"
	LDAPError      Outcome = "ldap_error"
	// The directory's password states (AD bind sub-codes, the ppolicy
	// response control): the account cannot sign in until the state is
	// cured. Only AccountLocked can come with a wrong password.
	PasswordExpired    Outcome = "password_expired"
	MustChangePassword Outcome = "must_change_password"
	AccountLocked      Outcome = "account_locked"
	AccountExpired     Outcome = "account_expired"
)

// GroupResolver finds a user's groups; *membership.Resolver implements it.
type GroupResolver interface {
	// UserAttributes lists the user attributes the resolver reads.
	UserAttributes() []string
	UserGroups(ctx context.Context, s ldapbridge.Searcher, user *ldapbridge.Entry) (*membership.Result, error)
	// Contains returns the membership predicate for GroupQuery.Eval.
	Contains(groups []membership.Group) func(dn string) bool
}

// Hooks customise a login. Every hook is optional.
type Hooks struct {
	// ToDirectory maps the typed (NFC) username to the one searched for.
	ToDirectory func(local string) string
	// ToLocal maps the directory's username (after users.username_case)
	// to the stored one.
	ToLocal func(directory string) string
	// OnPopulate runs last when a user is created or refreshed, inside the
	// store transaction; an error aborts the login's write. A sync built
	// on this Authenticator's Mapper (dirsync.Options.Mapper) runs it too,
	// for every user it creates or updates.
	OnPopulate func(ctx context.Context, u *ldapbridge.User, e *ldapbridge.Entry) error
	// OnChange is called once per change a login or Populate made to the
	// store (the change log's data), after the transaction committed; an
	// error is logged and counted (HookErrors), never returned. A sync
	// takes its own (dirsync.Hooks.OnChange).
	OnChange func(ctx context.Context, c ldapbridge.Change) error
}

// Observer receives one call per Authenticate, e.g. for metrics; the
// outcome is "error" when Authenticate returns an error.
type Observer interface {
	ObserveLogin(outcome string, d time.Duration)
}

// Options are the optional collaborators of an Authenticator.
type Options struct {
	// Logger receives every refusal and failure; default discards.
	Logger *slog.Logger
	// Groups resolves groups; default membership.New from the config.
	Groups GroupResolver
	Hooks  Hooks
	// Now is the clock; default time.Now.
	Now      func() time.Time
	Observer Observer
	// HashParams are the argon2id costs of local-account passwords and of
	// the equal-time work done for other names; default DefaultHashParams.
	// Tests scale them down.
	HashParams HashParams
	// Events, when set, turns the changes of a login into webhook events,
	// written to the store's outbox in the login's transaction
	// (events.Build).
	Events func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent
}

// Result is the outcome of one login (or Populate).
type Result struct {
	Outcome Outcome
	// Reason is a human-readable detail of the outcome.
	Reason string
	// Authenticated: the directory accepted the credentials and policy let
	// the user in. Allowed: authenticated and active.
	Authenticated bool
	Allowed       bool
	// Created is true when this call created the local account.
	Created bool
	// Directory names the directory that decided the login (a
	// directories: name, "default" for the single form); "" for a local
	// account and for a name no directory holds.
	Directory string
	// TakenBy is set when this directory holds the username but its
	// account belongs to the directory TakenBy (outcome user_not_found,
	// reason "username taken by directory NAME").
	TakenBy string
	DN      string
	// Entry holds every attribute fetched for the user, binary intact.
	Entry *ldapbridge.Entry
	// GroupDNs and GroupNames are the user's effective directory groups,
	// sorted; never nil.
	GroupDNs   []string
	GroupNames []string
	// User is the account as stored after this call, groups included.
	User *ldapbridge.User
	// Err is the underlying error of an ldap_error outcome.
	Err error
	// PasswordExpiresIn (when HasExpiryWarning) is the directory's warning
	// that the password expires soon; GraceLogins (when HasGraceLogins)
	// the binds left with an expired password. Both only on ok.
	PasswordExpiresIn time.Duration
	HasExpiryWarning  bool
	GraceLogins       int
	HasGraceLogins    bool
	// Offline is true when no directory server answered and the offline
	// verifier decided (access.offline_login): admitted, or a wrong password.
	Offline bool
	// FromMirror marks a login served from the live mirror
	// (access.login_source: mirror): one bind, the rest from the store.
	FromMirror bool
	// PasswordChangeable is set on a must_change_password or
	// password_expired refusal when the directory still lets the user
	// change the password (ChangePassword): after a reset, and after
	// expiry on Active Directory.
	PasswordChangeable bool
	// answered: a directory server answered during this login (so offline
	// sign-in is out of the question whatever failed afterwards).
	answered bool
}

// setPolicy copies a password policy's warnings into res.
func (res *Result) setPolicy(p ldapbridge.PasswordPolicy) {
	res.PasswordExpiresIn, res.HasExpiryWarning = p.ExpiresIn, p.HasExpiry
	res.GraceLogins, res.HasGraceLogins = p.GraceLogins, p.HasGrace
}

// Authenticator applies the login policy of one configuration. It is safe
// for concurrent use.
type Authenticator struct {
	cfg    *config.Config
	dir    ldapbridge.Directory
	store  Store
	log    *slog.Logger
	groups GroupResolver
	hooks  Hooks
	now    func() time.Time

	// events and hookErrors serve the change log (changes.go).
	events     func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent
	hookErrors atomic.Int64

	obs    Observer
	mapper *Mapper
	cache  *cache
	hash   HashParams
	// dummyHash is a hash of a random password with the costs in hash,
	// verified when a failed login did no password-hash work (see
	// equalTime); made once, on first need.
	dummyOnce sync.Once
	// locals is the set of local-account names (lookAhead).
	locals    localNames
	dummyHash string

	// liveMirror is the live mirror's clock (SetMirror), for
	// access.login_source: mirror.
	liveMirror atomic.Pointer[mirrorRef]
}

// New builds an Authenticator for cfg over dir and store.
func New(cfg *config.Config, dir ldapbridge.Directory, store Store, opts Options) (*Authenticator, error) {
	if cfg == nil || dir == nil || store == nil {
		return nil, errors.New("auth.New: config, directory and store are all required")
	}
	if !cfg.Directory.BindAsUser && cfg.Users.DNTemplate == "" && len(cfg.Users.Search) == 0 {
		return nil, errors.New("auth: neither users.dn_template nor users.search is set; set one so logins can find users")
	}
	a := &Authenticator{cfg: cfg, dir: dir, store: store, log: opts.Logger, groups: opts.Groups,
		hooks: opts.Hooks, now: opts.Now, events: opts.Events, obs: opts.Observer, hash: opts.HashParams}
	if a.hash == (HashParams{}) {
		a.hash = DefaultHashParams
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.groups == nil && len(cfg.Groups.Search) == 0 && cfg.Groups.Type != membership.TypeMemberOf {
		// No groups configured (and none needed, or config validation
		// would have refused the file): every user is in no group.
		a.groups = noGroups{}
	}
	if a.groups == nil {
		r, err := membership.New(cfg.Groups, membership.Options{
			Flavor:            cfg.Directory.Flavor,
			UsernameAttribute: cfg.Users.UsernameAttribute,
		})
		if err != nil {
			return nil, fmt.Errorf("auth: groups: %w", err)
		}
		a.groups = r
	}
	if _, ok := store.(OfflineStore); cfg.Access.OfflineLogin.Enabled && !ok {
		return nil, errors.New("auth: access.offline_login is enabled but the store cannot keep offline verifiers; use the sqlite or postgres store, or disable access.offline_login")
	}
	a.mapper = NewMapper(cfg, a.groups, opts.Hooks.ToLocal)
	a.mapper.onPopulate = opts.Hooks.OnPopulate
	if ttl := cfg.Access.CacheTTL.D(); ttl > 0 {
		a.cache = newCache(ttl, a.now)
	}
	return a, nil
}

// Mapper returns the entry→user mapping that logins use, for the sync
// engine to share.
func (a *Authenticator) Mapper() *Mapper { return a.mapper }

// newResult returns a Result with empty, non-nil group lists.
func newResult(o Outcome, reason string) *Result {
	return &Result{Outcome: o, Reason: reason, GroupDNs: []string{}, GroupNames: []string{}}
}

// Authenticate runs one login. Policy refusals are outcomes in the Result;
// the error is only for store failures and configuration mistakes.
func (a *Authenticator) Authenticate(ctx context.Context, username, password string) (*Result, error) {
	start := a.now()
	res, err := a.authenticate(ctx, username, password)
	if res != nil && (res.User == nil || res.User.Source != ldapbridge.SourceLocal) {
		res.Directory = a.Name()
	}
	if a.obs != nil {
		outcome := "error"
		if res != nil && err == nil {
			outcome = res.OutcomeLabel()
		}
		a.obs.ObserveLogin(outcome, a.now().Sub(start))
	}
	a.logResult("login", username, res, err)
	return res, err
}

func (a *Authenticator) authenticate(ctx context.Context, username, password string) (*Result, error) {
	if password == "" {
		return newResult(EmptyPassword, "empty password refused before any directory call (an empty password is an unauthenticated bind)"), nil
	}
	name := NormalizeUsername(username)
	if name == "" {
		return newResult(UserNotFound, "empty username"), nil
	}
	if !a.cfg.Access.LocalAccounts {
		return a.directoryLogin(ctx, name, password, nil, nil)
	}
	var pre *pendingLookup
	if a.lookAhead(ctx, name) {
		pre = a.startLookup(ctx, name)
	}
	res, handled, stored, err := a.localLogin(ctx, name, password)
	if handled || err != nil {
		pre.abandon()
		return res, err
	}
	res, err = a.directoryLogin(ctx, name, password, stored, pre)
	if res != nil && !res.Authenticated {
		a.equalTime(password)
	}
	return res, err
}

// directoryLogin signs name in through the directory; pre, when not nil,
// is the user search already started.
func (a *Authenticator) directoryLogin(ctx context.Context, name, password string, stored *ldapbridge.User, pre *pendingLookup) (*Result, error) {
	if res, ok, err := a.mirrorLogin(ctx, name, password, stored); ok || err != nil {
		pre.abandon()
		return res, err
	}
	var res *Result
	var err error
	if a.cfg.Directory.BindAsUser {
		pre.abandon()
		res, err = a.loginAsUser(ctx, name, password, stored)
	} else {
		res, err = a.loginWithService(ctx, name, password, stored, pre)
	}
	if err != nil || res == nil {
		return res, err
	}
	return a.afterDirectoryLogin(ctx, name, password, res, res.answered)
}

// equalTime does the password-hash work of a local account's failed login
// for a name that is not a local account, so a wrong password for a local
// account, a directory user and an unknown name take the same time and
// local accounts cannot be found by timing. Only failed logins pay it: a
// successful one tells its caller nothing it did not know.
func (a *Authenticator) equalTime(password string) {
	a.dummyOnce.Do(func() {
		pw := make([]byte, 24)
		_, _ = rand.Read(pw)
		// An error leaves dummyHash empty; VerifyPassword then returns
		// at once, which is no worse than before.
		a.dummyHash, _ = a.hash.Hash(base64.RawStdEncoding.EncodeToString(pw))
	})
	VerifyPassword(a.dummyHash, password)
}

// directoryName is the name searched for in the directory: the ToDirectory
// hook's answer, else the typed name, with an Active Directory down-level
// DOMAIN\ prefix removed.
func (a *Authenticator) directoryName(name string) string {
	if sfx := a.cfg.Users.UsernameSuffix; sfx != "" && len(name) > len(sfx) && strings.EqualFold(name[len(name)-len(sfx):], sfx) {
		name = name[:len(name)-len(sfx)] // users.username_suffix: signing in with it
	}
	if a.hooks.ToDirectory != nil {
		return a.hooks.ToDirectory(name)
	}
	if a.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory {
		if i := strings.LastIndexByte(name, '\\'); i >= 0 {
			return name[i+1:]
		}
	}
	return name
}

// loginWithService finds the user as the service account (or takes pre's
// search), then checks the password with a separate bind while it reads
// the groups as the service account.
func (a *Authenticator) loginWithService(ctx context.Context, name, password string, stored *ldapbridge.User, pre *pendingLookup) (*Result, error) {
	var found *foundUser
	var res *Result
	var err error
	if pre != nil {
		found, res, err = pre.wait()
	} else {
		found, res, err = a.lookup(ctx, a.dir, a.directoryName(name), nil)
	}
	if res != nil || err != nil {
		return res, err
	}
	if res, err := a.takenBy(ctx, found.Entry); res != nil || err != nil {
		return res, err
	}
	found.Stored = stored
	found.groups = a.startGroups(ctx, a.dir, found.Entry)
	// Collected on every path: the goroutine is this login's.
	defer func() { _, _ = found.groups.wait() }()
	var policy ldapbridge.PasswordPolicy
	if pc, ok := a.dir.(ldapbridge.PolicyChecker); ok {
		policy, err = pc.CheckPasswordPolicy(ctx, found.Entry.DN, password)
	} else {
		err = a.dir.CheckPassword(ctx, found.Entry.DN, password)
	}
	if err != nil {
		res := bindRefusal(err)
		// The user search answered, so this is no outage to sign in
		// through offline.
		res.DN, res.answered = found.Entry.DN, true
		res.PasswordChangeable = a.changeable(res.Outcome)
		return res, nil
	}
	// The groups may still be on their way: look the account up meanwhile.
	if found.account, err = a.lookupAccount(ctx, found.Entry, stored); err != nil {
		return nil, err
	}
	res, err = a.admit(ctx, a.dir, found, true)
	if res != nil && res.Outcome == OK {
		res.setPolicy(policy)
	}
	return res, err
}

// loginAsUser binds as the user (directory.bind_as_user) and reads the
// user's entry and groups on that session.
func (a *Authenticator) loginAsUser(ctx context.Context, name, password string, stored *ldapbridge.User) (*Result, error) {
	dirName := a.directoryName(name)
	bindName, err := a.userBindName(dirName)
	if err != nil {
		return nil, err
	}
	sess, err := a.dir.BindAs(ctx, bindName, password)
	if err != nil {
		res := bindRefusal(err)
		res.PasswordChangeable = a.changeable(res.Outcome)
		return res, nil
	}
	defer sess.Close()
	found, res, err := a.lookup(ctx, sess, dirName, nil)
	if res != nil {
		res.answered = true // the bind answered
	}
	if res != nil || err != nil {
		if res != nil && res.Outcome == UserNotFound {
			res.Reason += " (the bind as " + bindName + " succeeded, so the user search or its access rights are wrong)"
		}
		return res, err
	}
	if res, err := a.takenBy(ctx, found.Entry); res != nil || err != nil {
		return res, err
	}
	found.Stored = stored
	res, err = a.admit(ctx, sess, found, true)
	if ps, ok := sess.(ldapbridge.PolicySession); ok && res != nil && res.Outcome == OK {
		res.setPolicy(ps.PasswordPolicy())
	}
	return res, err
}

// adSubCode is the Active Directory bind sub-code ("52e", "533", ...)
// that the directory put in err as a *ldapbridge.BindError, worded for a
// reason so that `auth test` and the logs name it; "" when there is none.
func adSubCode(err error) string {
	var be *ldapbridge.BindError
	if !errors.As(err, &be) || be.SubCode == "" {
		return ""
	}
	return " (Active Directory bind error data " + be.SubCode + ")"
}

// passwordStates are the directory's password and account states that
// have an outcome of their own, checked in this order (a locked account
// whose password also expired is reported locked).
var passwordStates = []struct {
	kind    error
	outcome Outcome
	reason  string
}{
	{ldapbridge.ErrAccountLocked, AccountLocked, "the account is locked out"},
	{ldapbridge.ErrAccountExpired, AccountExpired, "the account has expired"},
	{ldapbridge.ErrMustChangePassword, MustChangePassword, "the password was reset and must be changed before signing in"},
	{ldapbridge.ErrPasswordExpired, PasswordExpired, "the password has expired and must be changed"},
}

// bindRefusal maps a CheckPassword or BindAs error to an outcome; on
// Active Directory the reason carries the bind sub-code. The password and
// account states (locked, expired, must change) have outcomes of their
// own; other refusals of a right password are inactive.
func bindRefusal(err error) *Result {
	for _, st := range passwordStates {
		if errors.Is(err, st.kind) {
			return newResult(st.outcome, "the directory refused the bind: "+st.reason+adSubCode(err))
		}
	}
	kinds := []error{ldapbridge.ErrAccountDisabled, ldapbridge.ErrNotPermitted}
	switch {
	case errors.Is(err, ldapbridge.ErrInvalidCredentials):
		return newResult(BadCredentials, "the directory rejected the password"+adSubCode(err))
	case errors.Is(err, ldapbridge.ErrEmptyPassword):
		return newResult(EmptyPassword, "empty password refused")
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return newResult(Inactive, "the directory refused the bind: "+k.Error()+adSubCode(err))
		}
	}
	res := newResult(LDAPError, "directory error while checking the password: "+err.Error())
	res.Err = err
	return res
}

// admit resolves groups, applies require/deny and flags, writes the account
// and sets the final outcome. login records last_login on success; without
// it (Populate) the group cache is bypassed.
func (a *Authenticator) admit(ctx context.Context, s ldapbridge.Searcher, found *foundUser, login bool) (*Result, error) {
	res := newResult(OK, "")
	res.DN, res.Entry, res.answered = found.Entry.DN, found.Entry, true
	var groups []membership.Group
	var err error
	if found.groups != nil {
		groups, err = found.groups.wait()
	} else {
		groups, err = a.userGroups(ctx, s, found.Entry, !login)
	}
	if err != nil {
		res.Outcome, res.Err = LDAPError, err
		res.Reason = "reading the user's groups failed: " + err.Error()
		return res, nil
	}
	res.GroupDNs, res.GroupNames = groupLists(groups)
	mapped, err := a.mapper.MapUser(found.Entry, groups)
	if err != nil {
		res.Outcome, res.Err, res.Reason = LDAPError, err, err.Error()
		return res, nil
	}
	// A user the policy refuses is not created, but an existing account
	// stores the refusal, so its sessions end on their next request.
	refused := verdictOutcome(mapped.Verdict)
	if refused == RequireGroup || refused == DenyGroup {
		res.Outcome, res.Reason = refused, mapped.VerdictReason
	}
	var loginAt *time.Time
	if login {
		at := a.now()
		loginAt = &at
	}
	saved, created, err := a.save(ctx, mapped, found.Entry, groups, found.Stored, found.account, res.Outcome != OK, loginAt)
	if errors.Is(err, ldapbridge.ErrConflict) {
		// A concurrent first login may have created the account: look again.
		saved, created, err = a.save(ctx, mapped, found.Entry, groups, nil, nil, res.Outcome != OK, loginAt)
	}
	var taken *TakenError
	if errors.As(err, &taken) {
		a.log.Warn("directory user refused: the username's account belongs to another directory",
			"directory", a.Name(), "dn", found.Entry.DN, "username", taken.Username, "taken_by", taken.Directory)
		return a.takenResult(found.Entry.DN, taken), nil
	}
	if errors.Is(err, errNoNewUsers) {
		res.Outcome, res.Reason = NoNewUsers, "no local account for "+mapped.Username+" and access.no_new_users is set"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if res.Outcome != OK {
		return res, nil
	}
	res.Created, res.User = created, saved
	if v := saved.EffectiveVerdict(); v != ldapbridge.VerdictOK {
		res.Outcome, res.Authenticated = verdictOutcome(v), true
		res.Reason = saved.VerdictReason
		if res.Reason == "" {
			res.Reason = "the account is " + v
		}
		return res, nil
	}
	// save recorded the login time (login) in its transaction.
	res.Authenticated, res.Allowed = true, true
	return res, nil
}

// verdictOutcome is the login outcome of a stored verdict.
func verdictOutcome(verdict string) Outcome {
	switch verdict {
	case ldapbridge.VerdictRequireGroup:
		return RequireGroup
	case ldapbridge.VerdictDenyGroup:
		return DenyGroup
	case ldapbridge.VerdictInactive, ldapbridge.VerdictRemoved:
		return Inactive
	}
	return OK
}

// groupLists returns sorted, non-nil DN and name lists.
func groupLists(groups []membership.Group) (dns, names []string) {
	dns, names = make([]string, 0, len(groups)), make([]string, 0, len(groups))
	for _, g := range groups {
		dns = append(dns, g.DN)
		names = append(names, g.Name)
	}
	sort.Strings(dns)
	sort.Strings(names)
	return dns, names
}

// logResult logs every refusal and failure; never the password.
func (a *Authenticator) logResult(op, username string, res *Result, err error) {
	if err != nil {
		a.log.ErrorContext(context.Background(), op+" failed", "username", LogName(username), "error", err.Error())
		return
	}
	if res == nil || res.Outcome == OK {
		return
	}
	attrs := []any{"username", LogName(username), "outcome", string(res.Outcome), "reason", res.Reason}
	if res.DN != "" {
		attrs = append(attrs, "dn", res.DN)
	}
	if res.Err != nil {
		attrs = append(attrs, "error", res.Err.Error())
		a.log.Error(op+" failed: directory error", attrs...)
		return
	}
	a.log.Warn(op+" refused", attrs...)
}

// noGroups is the GroupResolver of a configuration without groups.search.
type noGroups struct{}

func (noGroups) UserAttributes() []string { return nil }

func (noGroups) UserGroups(context.Context, ldapbridge.Searcher, *ldapbridge.Entry) (*membership.Result, error) {
	return &membership.Result{}, nil
}

func (noGroups) Contains([]membership.Group) func(string) bool {
	return func(string) bool { return false }
}
