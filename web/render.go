package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/ldapbridge/ldapbridge"
)

//go:embed templates/*.html static/*
var assets embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// pages holds one template set per page, each with the shared layout.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"login", "home", "profile", "error", "admin", "admin_users", "admin_user", "admin_groups", "admin_group", "admin_explain", "password",
	"admin_syncrun", "admin_pending", "admin_userchanges"}

func loadPages() (*pages, error) {
	funcs := template.FuncMap{
		"when":     timeTag,
		"duration": duration,
		"yesnoFilter": func(name, label, value string) yesnoFilter {
			return yesnoFilter{Name: name, Label: label, Value: value}
		},
		"join":     strings.Join,
		"fullName": fullName,
		"initials": initials,
		"label":    label,
		"headline": headline,
		"avatar":   avatarOf,
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page template receives.
type view struct {
	Title string
	// User is the signed-in user, or nil.
	User *ldapbridge.User
	// Error and Notice are messages shown above the content.
	Error  string
	Notice string
	Status int
	// Path is the request path, to mark the current page in the navigation.
	Path string
	Data any
	// Banner is the directory's password warning of this session's sign-in
	// ("your password expires in 3 days"); PasswordChange says /password
	// is offered.
	Banner         string
	PasswordChange bool
}

// render writes a page; it renders into a buffer first so a template error
// becomes a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.User == nil {
		v.User, _ = UserFrom(r.Context())
	}
	v.Status = status
	v.Path = r.URL.Path
	v.PasswordChange = s.passwordChangeOn()
	if v.User != nil {
		v.Banner = s.sm.GetString(r.Context(), sessionPasswordWarning)
	}
	var buf bytes.Buffer
	if err := s.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "error", err.Error())
		http.Error(w, "The page could not be rendered; the error is in the server log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail answers with an error page, or a JSON error for API clients.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	s.render(w, r, status, "error", view{Title: headline(status), Data: msg})
}

// internalError logs err and shows a 500 page that does not leak it.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), what, "path", r.URL.Path, "error", err.Error())
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong while trying to "+what+". The details are in the server log.")
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error":"encoding the response failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// yesnoFilter is one any/yes/no filter of a list's search form.
type yesnoFilter struct{ Name, Label, Value string }

// timeTag renders a time as <time datetime="RFC 3339">YYYY-MM-DD HH:MM
// UTC</time>, which /static/app.js rewrites into the viewer's own zone
// (with the zone's name); a missing time is "never".
func timeTag(t any) template.HTML {
	var tt time.Time
	switch t := t.(type) {
	case *time.Time:
		if t != nil {
			tt = *t
		}
	case time.Time:
		tt = t
	default:
		return template.HTML(template.HTMLEscapeString(fmt.Sprint(t)))
	}
	if tt.IsZero() {
		return "never"
	}
	return template.HTML(`<time datetime="` + tt.UTC().Format(time.RFC3339) + `">` + formatTime(tt) + `</time>`)
}

func formatTime(t any) string {
	switch t := t.(type) {
	case *time.Time:
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case time.Time:
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	return fmt.Sprint(t)
}

func fullName(u *ldapbridge.User) string {
	if u == nil {
		return ""
	}
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.Username
}

// initials are up to two letters for the placeholder shown when a user has
// no photo.
func initials(u *ldapbridge.User) string {
	if u == nil {
		return "?"
	}
	var out []rune
	for _, part := range []string{u.FirstName, u.LastName} {
		if r := []rune(strings.TrimSpace(part)); len(r) > 0 {
			out = append(out, unicode.ToUpper(r[0]))
		}
	}
	if len(out) == 0 {
		if r := []rune(u.Username); len(r) > 0 {
			out = append(out, unicode.ToUpper(r[0]))
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// label turns a configuration key such as display_name into "Display name".
func label(key string) string {
	s := strings.TrimSpace(strings.NewReplacer("_", " ", "-", " ").Replace(key))
	r := []rune(s)
	if len(r) == 0 {
		return key
	}
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// headline is the heading of an error page: what happened, in plain words.
func headline(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "The request could not be read"
	case http.StatusForbidden:
		return "You do not have access to this page"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusTooManyRequests:
		return "Too many requests"
	case http.StatusInternalServerError:
		return "Something went wrong"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	return http.StatusText(status)
}

// avatar is what the avatar template shows: the photo or the initials.
type avatar struct {
	User     *ldapbridge.User
	HasPhoto bool
	PhotoURL string
}

// avatarOf is the avatar of u on the profile page, or on the admin pages
// when admin is true.
func avatarOf(u *ldapbridge.User, admin bool) avatar {
	a := avatar{User: u, HasPhoto: u != nil && u.HasPhoto, PhotoURL: "/profile/photo"}
	if admin && u != nil {
		a.PhotoURL = "/admin/users/" + url.PathEscape(u.Username) + "/photo"
	}
	return a
}
