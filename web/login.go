package web

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

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
)

// loginAttempt is the result of one sign-in, for the page and the API.
type loginAttempt struct {
	status     int // 200, 401, 429, 503 or 500
	msg        string
	retryAfter time.Duration
	res        *auth.Result
}

// attemptLogin applies the rate limits, runs the authenticator and, when the
// user is allowed in, starts a new session.
func (s *Server) attemptLogin(ctx context.Context, r *http.Request, username, password string) loginAttempt {
	limits := s.cfg.LoginRateLimit
	userKey := "login-user:" + strings.ToLower(norm.NFC.String(username))
	if a, limited := s.limit(ctx, "ip", "login-ip:"+s.clientIP(r), limits.PerIP); limited {
		return a
	}
	if a, limited := s.limit(ctx, "user", userKey, limits.PerUser); limited {
		return a
	}

	start := time.Now()
	res, err := s.deps.Auth.Authenticate(ctx, username, password)
	if err != nil {
		s.metrics.ObserveLogin("error", time.Since(start))
		s.log.ErrorContext(ctx, "sign-in failed", "error", err.Error())
		return loginAttempt{status: http.StatusInternalServerError, msg: "Sign-in failed because of a server error. The details are in the server log."}
	}
	s.metrics.ObserveLogin(string(res.Outcome), time.Since(start))

	switch {
	case res.Allowed && res.User != nil:
		if err := s.limiter.Reset(ctx, userKey); err != nil {
			s.log.WarnContext(ctx, "reset sign-in rate limit", "error", err.Error())
		}
		if err := s.signIn(ctx, res.User); err != nil {
			s.log.ErrorContext(ctx, "start session", "error", err.Error())
			return loginAttempt{status: http.StatusInternalServerError, msg: "Your session could not be started. Try again in a moment."}
		}
		return loginAttempt{status: http.StatusOK, res: res}
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

// limit counts one attempt against key; limited is true when it is over rate.
func (s *Server) limit(ctx context.Context, name, key string, rate config.Rate) (loginAttempt, bool) {
	ok, retry, err := s.limiter.Allow(ctx, key, rate)
	if err != nil {
		s.log.ErrorContext(ctx, "sign-in rate limiter failed; refusing sign-in", "error", err.Error())
		return loginAttempt{status: http.StatusServiceUnavailable, msg: "Sign-in is unavailable right now. Try again in a minute."}, true
	}
	if ok {
		return loginAttempt{}, false
	}
	s.metrics.ObserveRateLimited(name)
	secs := int(math.Ceil(retry.Seconds()))
	return loginAttempt{status: http.StatusTooManyRequests, retryAfter: time.Duration(secs) * time.Second,
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
