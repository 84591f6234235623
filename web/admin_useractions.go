package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// LocalUsers is the part of ldapbridge.Store that the admin pages write
// through to deactivate and reactivate local accounts (accounts of the
// application's own; directory accounts follow the directory). Both store
// drivers satisfy it.
type LocalUsers interface {
	UpdateUser(ctx context.Context, u *ldapbridge.User) error
}

var _ LocalUsers = ldapbridge.Store(nil)

// superuser answers 403 itself unless the signed-in user is a superuser;
// what names the action refused.
func (s *Server) superuser(w http.ResponseWriter, r *http.Request, what string) (*ldapbridge.User, bool) {
	u, _ := UserFrom(r.Context())
	if u == nil || !u.IsSuperuser {
		s.fail(w, r, http.StatusForbidden, "Only superusers can "+what+".")
		return nil, false
	}
	return u, true
}

// SessionDeleter is a session store that can delete the sessions whose
// data match, though it cannot list their tokens: the SQL stores of this
// module keep only token hashes and implement it.
type SessionDeleter interface {
	DeleteMatching(ctx context.Context, match func(data []byte) bool) (int, error)
}

// canEndSessions reports whether the session store can find a user's
// sessions: by listing them (scs's memory store) or by deleting the ones
// whose data match (SessionDeleter, the SQL stores).
func (s *Server) canEndSessions() bool {
	switch s.sm.Store.(type) {
	case scs.IterableStore, scs.IterableCtxStore, SessionDeleter:
		return true
	}
	return false
}

// endSessions destroys every session of the user with id, returning how
// many there were.
func (s *Server) endSessions(ctx context.Context, id int64) (int, error) {
	if d, ok := s.sm.Store.(SessionDeleter); ok {
		return d.DeleteMatching(ctx, func(data []byte) bool {
			_, values, err := s.sm.Codec.Decode(data)
			if err != nil {
				return false
			}
			v, ok := values[sessionUserID].(int64)
			return ok && v == id
		})
	}
	n := 0
	err := s.sm.Iterate(ctx, func(ctx context.Context) error {
		if s.sm.GetInt64(ctx, sessionUserID) != id {
			return nil
		}
		n++
		return s.sm.Destroy(ctx)
	})
	return n, err
}

func (s *Server) adminEndSessions(w http.ResponseWriter, r *http.Request) {
	by, ok := s.superuser(w, r, "end a user's sessions")
	if !ok {
		return
	}
	subject, ok := s.userByName(w, r)
	if !ok {
		return
	}
	if !s.canEndSessions() {
		s.fail(w, r, http.StatusNotImplemented, "This server's session store cannot list sessions, so a user's sessions cannot be ended one by one here. Deactivating the account ends them at their next request.")
		return
	}
	n, err := s.endSessions(r.Context(), subject.ID)
	if err != nil {
		s.internalError(w, r, "end the sessions of "+subject.Username, err)
		return
	}
	s.log.InfoContext(r.Context(), "sessions ended from the admin page", "user", logName(subject.Username), "sessions", n, "by", logName(by.Username))
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(subject.Username)+"?done=sessions&n="+strconv.Itoa(n), http.StatusSeeOther)
}

// adminSetActive deactivates (active false) or reactivates a local account.
func (s *Server) adminSetActive(active bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		what := "deactivate accounts"
		if active {
			what = "reactivate accounts"
		}
		by, ok := s.superuser(w, r, what)
		if !ok {
			return
		}
		if s.deps.LocalUsers == nil {
			s.fail(w, r, http.StatusNotFound, "Accounts cannot be changed in this server.")
			return
		}
		subject, ok := s.userByName(w, r)
		if !ok {
			return
		}
		switch {
		case subject.Source != ldapbridge.SourceLocal:
			s.fail(w, r, http.StatusConflict, strconv.Quote(subject.Username)+" is a directory account: whether it is active comes from the directory and access rules. Change it there; only local accounts are (de)activated here.")
			return
		case !active && subject.ID == by.ID:
			s.fail(w, r, http.StatusConflict, "You cannot deactivate your own account: you would be signed out and could not undo it.")
			return
		}
		subject.IsActive = active
		subject.Verdict, subject.VerdictReason = ldapbridge.VerdictOK, ""
		done := "reactivated"
		if !active {
			done = "deactivated"
			subject.Verdict, subject.VerdictReason = ldapbridge.VerdictInactive, "deactivated by "+logName(by.Username)+" on the admin page"
		}
		if err := s.deps.LocalUsers.UpdateUser(r.Context(), subject); err != nil {
			s.internalError(w, r, "change the account "+subject.Username, err)
			return
		}
		s.log.InfoContext(r.Context(), "local account "+done+" from the admin page", "user", logName(subject.Username), "by", logName(by.Username))
		http.Redirect(w, r, "/admin/users/"+url.PathEscape(subject.Username)+"?done="+done, http.StatusSeeOther)
	}
}

// userNotice is the message for a ?done= redirect after a change to a user.
func userNotice(r *http.Request) string {
	q := r.URL.Query()
	switch q.Get("done") {
	case "sessions":
		n, _ := strconv.Atoi(q.Get("n"))
		switch n {
		case 0:
			return "This user had no session to end."
		case 1:
			return "1 session ended."
		}
		return strconv.Itoa(n) + " sessions ended."
	case "deactivated":
		return "Account deactivated: its sessions end at their next request, and it cannot sign in."
	case "reactivated":
		return "Account reactivated."
	}
	return ""
}

// explainData is the "test a directory username" page.
type explainData struct {
	Username   string
	Explain    *auth.Explanation
	ExplainErr string
	// Stored is the user of that name in the store, or nil.
	Stored *ldapbridge.User
}

// explain runs Deps.Explain for name, filling the explanation or its error.
func (s *Server) explain(ctx context.Context, name string) (*auth.Explanation, string) {
	ex, err := s.deps.Explain.Explain(ctx, name)
	switch {
	case err != nil:
		return nil, err.Error()
	case ex.Err != nil:
		return ex, ex.Err.Error()
	}
	return ex, ""
}

// adminExplain shows how the directory and the access rules see any
// username, stored or not, as `ldapbridge explain` does.
func (s *Server) adminExplain(w http.ResponseWriter, r *http.Request) {
	if s.deps.Explain == nil {
		s.fail(w, r, http.StatusNotFound, "This server cannot ask the directory.")
		return
	}
	d := explainData{Username: strings.TrimSpace(r.URL.Query().Get("username"))}
	if d.Username != "" {
		if usernameTooLong(d.Username) {
			s.fail(w, r, http.StatusBadRequest, "That username is too long to be a directory name.")
			return
		}
		d.Explain, d.ExplainErr = s.explain(r.Context(), d.Username)
		if u, err := s.deps.Store.User(r.Context(), d.Username); err == nil {
			d.Stored = u
		}
		s.log.InfoContext(r.Context(), "directory username tested from the admin page", "username", logName(d.Username))
	}
	s.render(w, r, http.StatusOK, "admin_explain", view{Title: "Test a directory username", Data: d})
}
