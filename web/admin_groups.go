package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
)

// LocalGroups is the part of ldapbridge.Store that the admin pages write
// through to manage local groups (groups of the application's own, which
// no login or sync changes). Both store drivers satisfy it.
type LocalGroups interface {
	Group(ctx context.Context, name string) (*ldapbridge.Group, error)
	UpsertGroup(ctx context.Context, g *ldapbridge.Group) error
	DeleteGroup(ctx context.Context, id int64) error
	AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error
	RemoveMemberships(ctx context.Context, ms []ldapbridge.Membership) error
}

var _ LocalGroups = ldapbridge.Store(nil)

// canEditGroups reports whether the signed-in user may change local groups.
func (s *Server) canEditGroups(r *http.Request) bool {
	u, _ := UserFrom(r.Context())
	return s.deps.LocalGroups != nil && u != nil && u.IsSuperuser
}

// groupEditor loads what a local-group change needs, answering itself
// (403, 404 or 500) when the change may not happen.
func (s *Server) groupEditor(w http.ResponseWriter, r *http.Request) (*ldapbridge.User, bool) {
	u, _ := UserFrom(r.Context())
	if s.deps.LocalGroups == nil {
		s.fail(w, r, http.StatusNotFound, "Local groups cannot be changed in this server.")
		return nil, false
	}
	if !u.IsSuperuser {
		s.fail(w, r, http.StatusForbidden, "Only superusers can change local groups.")
		return nil, false
	}
	return u, true
}

// localGroupByName loads the local group named in the path; a directory
// group is refused, since its members come from the directory.
func (s *Server) localGroupByName(w http.ResponseWriter, r *http.Request) (*ldapbridge.Group, bool) {
	name := r.PathValue("name")
	g, err := s.deps.LocalGroups.Group(r.Context(), name)
	switch {
	case errors.Is(err, ldapbridge.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "There is no group named "+strconv.Quote(name)+" in the store.")
	case err != nil:
		s.internalError(w, r, "load group "+name, err)
	case g.Source != ldapbridge.SourceLocal:
		s.fail(w, r, http.StatusConflict, strconv.Quote(name)+" is a directory group: its members come from the directory. Change them there; only local groups are edited here.")
	default:
		return g, true
	}
	return nil, false
}

func (s *Server) adminCreateGroup(w http.ResponseWriter, r *http.Request) {
	by, ok := s.groupEditor(w, r)
	if !ok {
		return
	}
	name := r.PostFormValue("name")
	if name == "" || strings.TrimSpace(name) != name {
		s.fail(w, r, http.StatusBadRequest, "Write a group name without leading or trailing spaces.")
		return
	}
	switch old, err := s.deps.LocalGroups.Group(r.Context(), name); {
	case err == nil && old.Source == ldapbridge.SourceLocal:
		s.fail(w, r, http.StatusConflict, "A local group named "+strconv.Quote(name)+" exists already.")
		return
	case err == nil:
		s.fail(w, r, http.StatusConflict, "A directory group named "+strconv.Quote(name)+" exists; a local group may not share its name. Choose another name.")
		return
	case !errors.Is(err, ldapbridge.ErrNotFound):
		s.internalError(w, r, "load group "+name, err)
		return
	}
	g := &ldapbridge.Group{Name: name, Source: ldapbridge.SourceLocal}
	if err := s.deps.LocalGroups.UpsertGroup(r.Context(), g); err != nil {
		if errors.Is(err, ldapbridge.ErrConflict) {
			s.fail(w, r, http.StatusConflict, "The group could not be created: "+err.Error())
			return
		}
		s.internalError(w, r, "create local group "+name, err)
		return
	}
	s.log.InfoContext(r.Context(), "local group created from the admin page", "group", name, "by", logName(by.Username))
	http.Redirect(w, r, "/admin/groups/"+url.PathEscape(name)+"?done=created", http.StatusSeeOther)
}

func (s *Server) adminDeleteGroup(w http.ResponseWriter, r *http.Request) {
	by, ok := s.groupEditor(w, r)
	if !ok {
		return
	}
	g, ok := s.localGroupByName(w, r)
	if !ok {
		return
	}
	if err := s.deps.LocalGroups.DeleteGroup(r.Context(), g.ID); err != nil {
		s.internalError(w, r, "delete local group "+g.Name, err)
		return
	}
	s.log.InfoContext(r.Context(), "local group deleted from the admin page", "group", g.Name, "by", logName(by.Username))
	http.Redirect(w, r, "/admin/groups?done=deleted", http.StatusSeeOther)
}

// adminGroupMember adds (add) or removes the user named in the form to or
// from the local group named in the path.
func (s *Server) adminGroupMember(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		by, ok := s.groupEditor(w, r)
		if !ok {
			return
		}
		g, ok := s.localGroupByName(w, r)
		if !ok {
			return
		}
		username := r.PostFormValue("username")
		u, err := s.deps.Store.User(r.Context(), username)
		if errors.Is(err, ldapbridge.ErrNotFound) {
			s.fail(w, r, http.StatusBadRequest, "There is no user named "+strconv.Quote(username)+" in the store; a directory user appears after signing in once or after a sync.")
			return
		}
		if err != nil {
			s.internalError(w, r, "load user "+username, err)
			return
		}
		edge := []ldapbridge.Membership{{GroupID: g.ID, UserID: u.ID}}
		done := "added"
		if add {
			err = s.deps.LocalGroups.AddMemberships(r.Context(), edge)
		} else {
			done = "removed"
			err = s.deps.LocalGroups.RemoveMemberships(r.Context(), edge)
		}
		if err != nil {
			s.internalError(w, r, "change the members of "+g.Name, err)
			return
		}
		s.log.InfoContext(r.Context(), "local group member "+done+" from the admin page", "group", g.Name, "user", logName(u.Username), "by", logName(by.Username))
		http.Redirect(w, r, "/admin/groups/"+url.PathEscape(g.Name)+"?done="+done, http.StatusSeeOther)
	}
}

// groupNotice is the message for a ?done= redirect after a change.
func groupNotice(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "created":
		return "Local group created."
	case "deleted":
		return "Local group deleted."
	case "added":
		return "Member added."
	case "removed":
		return "Member removed."
	}
	return ""
}
