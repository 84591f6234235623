package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge"
)

type ctxKey int

const (
	keySessionLoaded ctxKey = iota
	keyUser
)

// withSession loads the session for the request and saves it before the
// response is written, like scs's LoadAndSave, except that the cookie is
// marked Secure when the request arrived over TLS. A request whose session
// is already loaded (nested middleware) passes straight through.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(keySessionLoaded) != nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(s.sm.Cookie.Name); err == nil {
			token = c.Value
		}
		ctx, err := s.sm.Load(r.Context(), token)
		if err != nil {
			s.log.ErrorContext(r.Context(), "load session", "error", err.Error())
			http.Error(w, "The session store is unavailable; try again in a moment.", http.StatusInternalServerError)
			return
		}
		r = r.WithContext(context.WithValue(ctx, keySessionLoaded, true))
		sw := &sessionWriter{ResponseWriter: w, save: func() { s.saveSession(w, r) }}
		next.ServeHTTP(sw, r)
		sw.commit()
	})
}

// saveSession commits a modified session and writes or expires its cookie.
func (s *Server) saveSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cookie := &http.Cookie{Name: s.sm.Cookie.Name, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.isTLS(r)}
	switch s.sm.Status(ctx) {
	case scs.Modified:
		token, _, err := s.sm.Commit(ctx)
		if err != nil {
			s.log.ErrorContext(ctx, "save session", "error", err.Error())
			return
		}
		cookie.Value = token
	case scs.Destroyed:
		cookie.Expires, cookie.MaxAge = time.Unix(1, 0), -1
	default:
		return
	}
	w.Header().Add("Set-Cookie", cookie.String())
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
}

// isTLS reports whether the client reached us over HTTPS.
func (s *Server) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// sessionWriter saves the session just before the first byte of the
// response, so the cookie header goes out with it.
type sessionWriter struct {
	http.ResponseWriter
	save func()
	once sync.Once
}

func (sw *sessionWriter) commit() { sw.once.Do(sw.save) }

func (sw *sessionWriter) WriteHeader(code int) {
	sw.commit()
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	sw.commit()
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// withUser re-loads the signed-in user from the store on every request and
// puts it in the context. A user who no longer exists, or whose stored
// verdict no longer admits them (inactive, removed, or refused by
// access.require or access.deny at the last login or sync), has the session
// destroyed at once (see the package documentation).
func (s *Server) withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		id := s.sm.GetInt64(r.Context(), sessionUserID)
		if id == 0 {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.deps.Store.UserByID(r.Context(), id)
		switch {
		case errors.Is(err, ldapbridge.ErrNotFound) || (err == nil && !u.Allowed()):
			verdict := "deleted"
			if err == nil {
				verdict = u.EffectiveVerdict()
			}
			s.log.InfoContext(r.Context(), "session revoked: the user is no longer admitted", "user_id", id, "verdict", verdict)
			if err := s.sm.Destroy(r.Context()); err != nil {
				s.log.ErrorContext(r.Context(), "destroy session", "error", err.Error())
			}
			next.ServeHTTP(w, r)
		case err != nil:
			s.log.ErrorContext(r.Context(), "load session user", "user_id", id, "error", err.Error())
			s.fail(w, r, http.StatusInternalServerError, "Your account could not be loaded because the store is unavailable. Try again in a moment.")
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyUser, u)))
		}
	})
}

// UserFrom returns the signed-in user that RequireLogin (or the app's own
// handler) put in the request context.
func UserFrom(ctx context.Context) (*ldapbridge.User, bool) {
	u, ok := ctx.Value(keyUser).(*ldapbridge.User)
	return u, ok && u != nil
}

// signIn starts a fresh session for the user: a new token defeats session
// fixation, and only the ID is stored.
func (s *Server) signIn(ctx context.Context, u *ldapbridge.User) error {
	if err := s.sm.RenewToken(ctx); err != nil {
		return err
	}
	s.sm.Put(ctx, sessionUserID, u.ID)
	return nil
}

// signOut deletes the session from the store and expires the cookie, so the
// old token is worthless even if it was copied.
func (s *Server) signOut(ctx context.Context) error { return s.sm.Destroy(ctx) }
