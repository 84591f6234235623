package web

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
)

// Messages shown on refusal. The first is the same for a wrong password, an
// unknown user and an empty password, so the form does not reveal who
// exists; the others are only reachable after the directory accepted the
// password, so they reveal nothing to someone who does not know it.
const (
	msgInvalid     = "Invalid username or password."
	msgInactive    = "Your account is inactive. Contact your administrator if you think this is a mistake."
	msgNotAllowed  = "Your account is not allowed to sign in to this application. Contact your administrator if you need access."
	msgUnavailable = "Sign-in is unavailable right now because the directory could not be reached. Try again in a minute."
	msgRateLimited = "Too many sign-in attempts. Try again in %d seconds."
	// The directory's password and account states: the password was right
	// (or, for a lock, the account is locked whatever was typed).
	msgPasswordExpired = "Your password has expired."
	msgMustChange      = "Your password was reset by an administrator and must be changed before you can sign in."
	msgLocked          = "Your account is locked, after too many failed sign-ins or by an administrator. Try again later, or contact your administrator."
	msgAccountExpired  = "Your account has expired. Contact your administrator if you still need access."
	msgChangeOrAsk     = " Contact your administrator to set a new one."
)

// loginAttempt is the result of one sign-in, for the page and the API.
type loginAttempt struct {
	status     int // 200, 401, 429, 503 or 500
	msg        string
	retryAfter time.Duration
	res        *auth.Result
	// outcome names the result in the audit log when res does not:
	// rate_limited, limiter_error, too_long, error or session_error.
	outcome string
	// changePassword: the password must change first and /password can
	// do it, so the sign-in page leads there.
	changePassword bool
}

// attemptLogin applies the rate limits, runs the authenticator and, when the
// user is allowed in, starts a new session.
//
// The per-user limit is keyed on the canonical form of the name (see
// canonicalUsername), so every spelling the directory matches as one name
// shares one count, and on the account the sign-in reached (its DN, or a
// local account's name), so a spelling that folds differently but reaches
// the same account shares it too. The account's count is checked before
// the directory is asked whenever this name reached an account before, and
// counted after it answered otherwise: over the limit the attempt is
// refused with 429 even when the password was right.
func (s *Server) attemptLogin(ctx context.Context, r *http.Request, username, password string) loginAttempt {
	a := s.tryLogin(ctx, r, username, password)
	s.auditLogin(ctx, r, username, a)
	return a
}

// auditLogin writes the one info line every sign-in attempt leaves: the
// username as typed (shortened), the outcome, the HTTP status and the
// client address. It never logs the password.
func (s *Server) auditLogin(ctx context.Context, r *http.Request, username string, a loginAttempt) {
	outcome, attrs := a.outcome, []any{}
	if a.res != nil {
		if outcome == "" {
			outcome = string(a.res.Outcome)
		}
		if a.res.Reason != "" {
			attrs = append(attrs, "reason", a.res.Reason)
		}
		if a.res.User != nil && a.status == http.StatusOK {
			attrs = append(attrs, "user_id", a.res.User.ID)
		}
	}
	if outcome == "" {
		outcome = "error"
	}
	if a.retryAfter > 0 {
		attrs = append(attrs, "retry_after_s", int(a.retryAfter.Seconds()))
	}
	s.log.InfoContext(ctx, "sign-in", append([]any{"user", logName(username), "outcome", outcome,
		"status", a.status, "client", s.clientIP(r)}, attrs...)...)
}

// tryLogin is attemptLogin without the audit line.
func (s *Server) tryLogin(ctx context.Context, r *http.Request, username, password string) loginAttempt {
	limits := s.cfg.LoginRateLimit
	if a, limited := s.limit(ctx, "ip", "login-ip:"+s.clientIP(r), limits.PerIP, username); limited {
		return a
	}
	if usernameTooLong(username) {
		s.metrics.ObserveLogin(s.loginDirectory(nil), string(auth.UserNotFound), 0)
		s.log.WarnContext(ctx, "sign-in refused: the username is too long to be a directory name",
			"username", logName(username), "max_characters", MaxUsernameLength)
		return loginAttempt{status: http.StatusUnauthorized, msg: msgInvalid, outcome: "too_long"}
	}
	userKey := userLimitKey(username)
	if a, limited := s.limit(ctx, "user", userKey, limits.PerUser, username); limited {
		return a
	}
	known := s.accounts.get(userKey)
	if known != "" {
		if a, limited := s.limit(ctx, "user", known, limits.PerUser, username); limited {
			return a
		}
	}

	start := time.Now()
	res, err := s.deps.Auth.Authenticate(ctx, username, password)
	if err != nil {
		s.metrics.ObserveLogin(s.loginDirectory(nil), "error", time.Since(start))
		s.log.ErrorContext(ctx, "sign-in failed", "username", logName(username), "error", err.Error())
		return loginAttempt{status: http.StatusInternalServerError, msg: "Sign-in failed because of a server error. The details are in the server log.", outcome: "error"}
	}
	s.metrics.ObserveLogin(s.loginDirectory(res), res.OutcomeLabel(), time.Since(start))
	accountKey := accountLimitKey(res)
	if accountKey != "" && accountKey != known {
		s.accounts.put(userKey, accountKey)
		if a, limited := s.limit(ctx, "user", accountKey, limits.PerUser, username); limited {
			return a
		}
	}

	switch {
	case res.Allowed && res.User != nil:
		for _, key := range []string{userKey, accountKey} {
			if key == "" {
				continue
			}
			if err := s.limiter.Reset(ctx, key); err != nil {
				s.log.WarnContext(ctx, "reset sign-in rate limit", "error", err.Error())
			}
		}
		if err := s.signIn(ctx, res.User); err != nil {
			s.log.ErrorContext(ctx, "start session", "error", err.Error())
			return loginAttempt{status: http.StatusInternalServerError, msg: "Your session could not be started. Try again in a moment.", outcome: "session_error"}
		}
		s.setPasswordWarning(ctx, res)
		return loginAttempt{status: http.StatusOK, res: res}
	case res.Outcome == auth.PasswordExpired || res.Outcome == auth.MustChangePassword:
		msg := msgPasswordExpired
		if res.Outcome == auth.MustChangePassword {
			msg = msgMustChange
		}
		change := res.PasswordChangeable && s.passwordChangeOn()
		if !change {
			msg += msgChangeOrAsk
		}
		return loginAttempt{status: http.StatusUnauthorized, msg: msg, res: res, changePassword: change}
	case res.Outcome == auth.AccountLocked:
		return loginAttempt{status: http.StatusUnauthorized, msg: msgLocked, res: res}
	case res.Outcome == auth.AccountExpired:
		return loginAttempt{status: http.StatusUnauthorized, msg: msgAccountExpired, res: res}
	case res.Outcome == auth.LDAPError:
		return loginAttempt{status: http.StatusServiceUnavailable, msg: msgUnavailable, res: res}
	case res.Outcome == auth.Inactive && res.Authenticated:
		return loginAttempt{status: http.StatusUnauthorized, msg: msgInactive, res: res}
	case res.Outcome == auth.RequireGroup || res.Outcome == auth.DenyGroup || res.Outcome == auth.NoNewUsers:
		return loginAttempt{status: http.StatusUnauthorized, msg: msgNotAllowed, res: res}
	default:
		// bad_credentials, user_not_found, empty_password, and an account
		// the directory itself refused (disabled, locked), which must not
		// be told apart from a wrong password.
		return loginAttempt{status: http.StatusUnauthorized, msg: msgInvalid, res: res}
	}
}

// limit counts one attempt against key; limited is true when it is over
// rate. username is the name as typed, for the log.
func (s *Server) limit(ctx context.Context, name, key string, rate config.Rate, username string) (loginAttempt, bool) {
	ok, retry, err := s.limiter.Allow(ctx, key, rate)
	if err != nil {
		s.log.ErrorContext(ctx, "sign-in rate limiter failed; refusing sign-in", "username", logName(username), "error", err.Error())
		return loginAttempt{status: http.StatusServiceUnavailable, msg: "Sign-in is unavailable right now. Try again in a minute.", outcome: "limiter_error"}, true
	}
	if ok {
		return loginAttempt{}, false
	}
	s.metrics.ObserveRateLimited(name)
	secs := int(math.Ceil(retry.Seconds()))
	return loginAttempt{status: http.StatusTooManyRequests, retryAfter: time.Duration(secs) * time.Second, outcome: "rate_limited_" + name,
		msg: fmt.Sprintf(msgRateLimited, secs)}, true
}

// clientIP is the peer address, or with web.trust_proxy the address the
// proxy appended last to X-Forwarded-For (the one a client cannot forge).
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginData struct {
	Username string
	Next     string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := UserFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := view{Title: "Sign in", Data: loginData{Next: next}}
	if r.URL.Query().Has("signed_out") {
		v.Notice = "You have signed out."
	}
	s.render(w, r, http.StatusOK, "login", v)
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The sign-in form could not be read. Reload the page and try again.")
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	a := s.attemptLogin(r.Context(), r, username, password)
	if a.status == http.StatusOK {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if a.changePassword {
		q := url.Values{"username": {username}, "reason": {string(a.res.Outcome)}, "next": {next}}
		http.Redirect(w, r, "/password?"+q.Encode(), http.StatusSeeOther)
		return
	}
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(a.retryAfter.Seconds())))
	}
	s.render(w, r, a.status, "login", view{Title: "Sign in", Error: a.msg,
		Data: loginData{Username: username, Next: next}})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.signOut(r.Context()); err != nil {
		s.internalError(w, r, "sign you out", err)
		return
	}
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}

// loginDirectory is the directory label of a sign-in's metrics: the
// directory that decided it; with one directory (Deps.Directories of at
// most one name) that directory even when the attempt never reached it;
// "" when several are configured and none decided.
func (s *Server) loginDirectory(res *auth.Result) string {
	if res != nil && res.Directory != "" {
		return res.Directory
	}
	switch len(s.deps.Directories) {
	case 0:
		return "default"
	case 1:
		return s.deps.Directories[0]
	}
	return ""
}
