package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge"
)

// RequireLogin lets signed-in, active users through to next and sends
// everyone else to /login (API requests get 401). It loads the session
// itself and refuses cross-origin form posts, so it works with plain
// net/http and any router; UserFrom(r.Context()) gives next the user.
//
//	srv, _ := web.New(cfg.Web, deps)
//	mux.Handle("/", srv.Handler())                   // /login, /logout, /profile, ...
//	mux.Handle("/app/", srv.RequireLogin(appHandler)) // your app
func (s *Server) RequireLogin(next http.Handler) http.Handler {
	return s.csrf.Handler(s.withSession(s.withUser(s.needLogin(next))))
}

// RequireGroup returns middleware that admits signed-in users who are in at
// least one of the named groups (effective membership, nested included) and
// answers 403 to the others. Anonymous users are sent to sign in.
func (s *Server) RequireGroup(names ...string) func(http.Handler) http.Handler {
	return s.requireUser(func(u *ldapbridge.User) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(u.Groups, n) })
	}, "You need to be in one of these groups to open this page: "+strings.Join(names, ", ")+".")
}

// RequireFlag returns middleware that admits signed-in users whose flag
// name is true: is_staff, is_superuser, is_active, or a custom flag from
// access.flags. The others get 403.
func (s *Server) RequireFlag(name string) func(http.Handler) http.Handler {
	return s.requireUser(func(u *ldapbridge.User) bool { return hasFlag(u, name) },
		"Your account does not have the "+name+" permission needed for this page.")
}

func (s *Server) requireUser(allow func(*ldapbridge.User) bool, refusal string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := UserFrom(r.Context())
			if !allow(u) {
				s.fail(w, r, http.StatusForbidden, refusal)
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

func hasFlag(u *ldapbridge.User, name string) bool {
	switch name {
	case "is_active":
		return u.IsActive
	case "is_staff":
		return u.IsStaff
	case "is_superuser":
		return u.IsSuperuser
	}
	return u.Flags[name]
}

// needLogin is RequireLogin's check alone, for routes already inside the
// session middleware.
func (s *Server) needLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		if wantsJSON(r) {
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "sign in first: POST /api/login"})
			return
		}
		target := "/login"
		if r.Method == http.MethodGet {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// needStaff admits staff and superusers.
func (s *Server) needStaff(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		if u == nil || !(u.IsStaff || u.IsSuperuser) {
			s.fail(w, r, http.StatusForbidden, "The admin area is for staff only. Ask an administrator if you need access.")
			return
		}
		next(w, r)
	})
}

// wantsJSON reports whether the client is an API client rather than a browser page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// safeNext returns next when it is a path on this site, else "/", so the
// sign-in redirect cannot be turned into an open redirect.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
