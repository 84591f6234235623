package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// sessionPasswordWarning is the session key of the directory's password
// warning at sign-in, shown as a banner on every page.
const sessionPasswordWarning = "password_warning"

// passwordChangeOn reports whether /password is offered.
func (s *Server) passwordChangeOn() bool {
	return s.deps.Access.PasswordChange && s.deps.Passwords != nil
}

// passwordWarning words the directory's warnings of a successful sign-in;
// "" when there are none.
func passwordWarning(res *auth.Result) string {
	switch {
	case res.HasGraceLogins:
		return fmt.Sprintf("Your password has expired; you can sign in %d more %s with it", res.GraceLogins, plural(res.GraceLogins, "time", "times"))
	case res.HasExpiryWarning:
		return "Your password expires in " + roughDuration(res.PasswordExpiresIn)
	}
	return ""
}

// roughDuration words d in its largest whole unit: days, hours or minutes.
func roughDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		n := int(d / (24 * time.Hour))
		return fmt.Sprintf("%d %s", n, plural(n, "day", "days"))
	case d >= time.Hour:
		n := int(d / time.Hour)
		return fmt.Sprintf("%d %s", n, plural(n, "hour", "hours"))
	}
	n := max(1, int(d/time.Minute))
	return fmt.Sprintf("%d %s", n, plural(n, "minute", "minutes"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// setPasswordWarning keeps the sign-in's password warning in the session,
// or clears an earlier one.
func (s *Server) setPasswordWarning(ctx context.Context, res *auth.Result) {
	if w := passwordWarning(res); w != "" {
		s.sm.Put(ctx, sessionPasswordWarning, w)
		return
	}
	s.sm.Remove(ctx, sessionPasswordWarning)
}

type passwordData struct {
	// Username is the signed-in user's (fixed), or the name to change the
	// password of when signed out (after a refused sign-in).
	Username string
	SignedIn bool
	Next     string
	// Done is set after a change that did not sign the user in.
	Done bool
}

// passwordReasons are the notices of a visit from the sign-in page.
var passwordReasons = map[string]string{
	string(auth.MustChangePassword): "Your password was reset by an administrator. Choose a new password to sign in.",
	string(auth.PasswordExpired):    "Your password has expired. Choose a new password to sign in.",
}

func (s *Server) passwordForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := passwordData{Username: q.Get("username"), Next: safeNext(q.Get("next"))}
	if u, ok := UserFrom(r.Context()); ok {
		d.Username, d.SignedIn = u.Username, true
	}
	s.render(w, r, http.StatusOK, "password", view{Title: "Change your password", Notice: passwordReasons[q.Get("reason")], Data: d})
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The password form could not be read. Reload the page and try again.")
		return
	}
	f := r.PostForm
	d := passwordData{Username: f.Get("username"), Next: safeNext(f.Get("next"))}
	if u, ok := UserFrom(r.Context()); ok {
		d.Username, d.SignedIn = u.Username, true
	}
	status, msg := s.changePassword(r, d.Username, f.Get("current"), f.Get("new"), f.Get("confirm"))
	if status == http.StatusSeeOther {
		target := "/profile?password_changed=1"
		if d.Next != "/" {
			target = d.Next
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if status == http.StatusOK {
		d.Done = true
		s.render(w, r, status, "password", view{Title: "Change your password", Notice: msg, Data: d})
		return
	}
	s.render(w, r, status, "password", view{Title: "Change your password", Error: msg, Data: d})
}

// changePassword checks the form, applies the sign-in rate limits and
// changes the password. It returns 303 when the user is now signed in,
// 200 with a notice when the password changed but sign-in did not
// follow, and an error status with the message otherwise.
func (s *Server) changePassword(r *http.Request, username, current, next, confirm string) (int, string) {
	ctx := r.Context()
	limits := s.cfg.LoginRateLimit
	if a, limited := s.limit(ctx, "ip", "password-ip:"+s.clientIP(r), limits.PerIP, username); limited {
		return a.status, a.msg
	}
	switch {
	case strings.TrimSpace(username) == "":
		return http.StatusBadRequest, "Enter your username."
	case current == "":
		return http.StatusBadRequest, "Enter your current password."
	case next == "":
		return http.StatusBadRequest, "Enter a new password."
	case next != confirm:
		return http.StatusBadRequest, "The two new passwords are not the same. Type the new password twice."
	case next == current:
		return http.StatusBadRequest, "The new password is the same as the current one. Choose a different password."
	case usernameTooLong(username):
		return http.StatusUnauthorized, "The username or current password is wrong."
	}
	if a, limited := s.limit(ctx, "user", "password-user:"+userLimitKey(username), limits.PerUser, username); limited {
		return a.status, a.msg
	}
	res, err := s.deps.Passwords.ChangePassword(ctx, username, current, next)
	status, msg := passwordChangeResult(err)
	s.log.InfoContext(ctx, "password change", "user", logName(username), "status", status, "client", s.clientIP(r))
	if err != nil {
		if status == http.StatusInternalServerError {
			s.log.ErrorContext(ctx, "password change failed", "username", logName(username), "error", err.Error())
		}
		return status, msg
	}
	if res != nil && res.Allowed && res.User != nil {
		if err := s.signIn(ctx, res.User); err != nil {
			s.log.ErrorContext(ctx, "start session", "error", err.Error())
			return http.StatusOK, "Your password has been changed, but your session could not be started. Sign in with the new password."
		}
		s.setPasswordWarning(ctx, res)
		return http.StatusSeeOther, ""
	}
	return http.StatusOK, "Your password has been changed, but you cannot sign in to this application with it. Contact your administrator if you need access."
}

// passwordChangeResult maps ChangePassword's error to a status and the
// message the form shows; a directory's refusal is shown in its own words.
func passwordChangeResult(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, ldapbridge.ErrPasswordChangeRefused) && !errors.Is(err, ldapbridge.ErrInvalidCredentials):
		return http.StatusBadRequest, sentence(err.Error())
	case errors.Is(err, ldapbridge.ErrAccountLocked):
		return http.StatusUnauthorized, msgLocked
	case errors.Is(err, ldapbridge.ErrAccountExpired):
		return http.StatusUnauthorized, msgAccountExpired
	case errors.Is(err, ldapbridge.ErrPasswordExpired):
		return http.StatusBadRequest, "Your password has expired and the directory does not let you change it yourself." + msgChangeOrAsk
	case errors.Is(err, auth.ErrPasswordChangeUnsupported):
		return http.StatusBadRequest, "This account's password cannot be changed here: it is not kept in the company directory."
	case errors.Is(err, ldapbridge.ErrInvalidCredentials), errors.Is(err, ldapbridge.ErrEmptyPassword),
		errors.Is(err, ldapbridge.ErrAccountDisabled), errors.Is(err, ldapbridge.ErrNotPermitted):
		return http.StatusUnauthorized, "The username or current password is wrong."
	case errors.Is(err, ldapbridge.ErrUnavailable):
		return http.StatusServiceUnavailable, "The password cannot be changed right now because the directory could not be reached. Try again in a minute."
	}
	return http.StatusInternalServerError, "The password could not be changed because of a server error. The details are in the server log."
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}
