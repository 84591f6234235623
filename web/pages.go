package web

import (
	"errors"
	"net/http"

	"github.com/ldapbridge/ldapbridge"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", view{Title: "Home"})
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	v := view{Title: "Your profile", Data: u}
	if r.URL.Query().Has("password_changed") {
		v.Notice = "Your password has been changed."
	}
	s.render(w, r, http.StatusOK, "profile", v)
}

func (s *Server) ownPhoto(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	s.servePhoto(w, r, u)
}

// photoTypes are the image types served; anything else stored as a photo
// is not shown, so the endpoint cannot serve HTML or scripts.
var photoTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func (s *Server) servePhoto(w http.ResponseWriter, r *http.Request, u *ldapbridge.User) {
	b, err := s.deps.Store.Photo(r.Context(), u.ID)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "There is no photo for "+u.Username+".")
		return
	}
	if err != nil {
		s.internalError(w, r, "load the photo", err)
		return
	}
	ct := http.DetectContentType(b)
	if !photoTypes[ct] {
		s.fail(w, r, http.StatusNotFound, "The photo stored for "+u.Username+" is not a JPEG, PNG, GIF or WebP image (it looks like "+ct+").")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(b)
}
