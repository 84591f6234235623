package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

const adminPageSize = 25

type adminHomeData struct {
	Health      []DirectoryHealth
	HasHealth   bool
	History     history
	HasHistory  bool
	HistoryErr  string
	CanSync     bool
	SyncRunning bool
	// Progress is the running sync's progress, when the server reports it
	// (HasProgress) and a sync runs.
	Progress    SyncProgress
	HasProgress bool
	// CanExplain: Deps.Explain is set, so /admin/explain works.
	CanExplain bool
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	d := adminHomeData{CanSync: s.deps.StartSync != nil && u.IsSuperuser, CanExplain: s.deps.Explain != nil}
	if s.deps.SyncRunning != nil {
		d.SyncRunning = s.deps.SyncRunning()
	}
	d.Progress, d.HasProgress = s.syncProgress()
	d.SyncRunning = d.SyncRunning || d.Progress.Running
	if s.deps.Health != nil {
		d.HasHealth, d.Health = true, s.deps.Health(r.Context())
	}
	if s.deps.SyncHistory != nil {
		d.HasHistory = true
		h, err := s.loadHistory(r)
		if err != nil {
			s.log.ErrorContext(r.Context(), "read sync history", "error", err.Error())
			d.HistoryErr = "The sync history could not be read: " + err.Error()
		}
		d.History = h
	}
	v := view{Title: "Admin", Data: d}
	switch r.URL.Query().Get("sync") {
	case "started":
		v.Notice = "Sync started. It runs in the background; reload this page to see it in the history."
	case "running":
		v.Notice = "A sync is already running; wait for it to finish."
	case "done":
		v.Notice = "The sync has finished; its result is at the top of the history."
	}
	if v.Notice != "" && d.HasProgress && r.URL.Query().Get("sync") == "started" {
		v.Notice = "Sync started. It runs in the background; its progress shows below."
	}
	s.render(w, r, http.StatusOK, "admin", v)
}

func (s *Server) adminSync(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	if s.deps.StartSync == nil {
		s.fail(w, r, http.StatusNotFound, "Sync is not available in this server.")
		return
	}
	if !u.IsSuperuser {
		s.fail(w, r, http.StatusForbidden, "Only superusers can start a sync.")
		return
	}
	switch err := s.deps.StartSync(logName(u.Username)); {
	case errors.Is(err, ErrSyncRunning):
		http.Redirect(w, r, "/admin?sync=running", http.StatusSeeOther)
	case err != nil:
		s.log.ErrorContext(r.Context(), "sync from the admin page not started", "by", logName(u.Username), "error", err.Error())
		s.fail(w, r, http.StatusServiceUnavailable, "The sync could not be started: "+err.Error())
	default:
		s.log.InfoContext(r.Context(), "sync started from the admin page", "by", logName(u.Username))
		http.Redirect(w, r, "/admin?sync=started", http.StatusSeeOther)
	}
}

type adminUserData struct {
	Subject    *ldapbridge.User
	Explain    *auth.Explanation
	ExplainErr string
	HasExplain bool
	// IsSuperuser: the viewer may act on the account. CanEndSessions: the
	// session store can list sessions. CanSetActive: a local account and
	// Deps.LocalUsers is set. Self: the viewer is this user.
	IsSuperuser, CanEndSessions, CanSetActive, Self bool
}

func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) {
	subject, ok := s.userByName(w, r)
	if !ok {
		return
	}
	viewer, _ := UserFrom(r.Context())
	d := adminUserData{Subject: subject, HasExplain: s.deps.Explain != nil && subject.Source == ldapbridge.SourceLDAP,
		IsSuperuser: viewer != nil && viewer.IsSuperuser, CanEndSessions: s.canEndSessions(),
		CanSetActive: s.deps.LocalUsers != nil && subject.Source == ldapbridge.SourceLocal,
		Self:         viewer != nil && viewer.ID == subject.ID}
	if d.HasExplain {
		d.Explain, d.ExplainErr = s.explain(r.Context(), subject.Username)
	}
	s.render(w, r, http.StatusOK, "admin_user", view{Title: subject.Username, Notice: userNotice(r), Data: d})
}

func (s *Server) adminPhoto(w http.ResponseWriter, r *http.Request) {
	if subject, ok := s.userByName(w, r); ok {
		s.servePhoto(w, r, subject)
	}
}

// userByName loads the user named in the path, answering 404 or 500 itself.
func (s *Server) userByName(w http.ResponseWriter, r *http.Request) (*ldapbridge.User, bool) {
	name := r.PathValue("name")
	u, err := s.deps.Store.User(r.Context(), name)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "There is no user named "+strconv.Quote(name)+" in the store.")
		return nil, false
	}
	if err != nil {
		s.internalError(w, r, "load user "+name, err)
		return nil, false
	}
	return u, true
}

// groupPage is the admin view of one group: the group and its direct
// member users.
type groupPage struct {
	Group   *ldapbridge.Group
	Members []*ldapbridge.User
	// CanEdit: a local group, and the viewer may change local groups.
	CanEdit bool
	// Rules are the access rules that name the group.
	Rules []string
}

func (s *Server) adminGroup(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.groupByName(w, r); ok {
		p.CanEdit = p.Group.Source == ldapbridge.SourceLocal && s.canEditGroups(r)
		p.Rules = s.rulesOf(p.Group)
		s.render(w, r, http.StatusOK, "admin_group", view{Title: p.Group.Name, Notice: groupNotice(r), Data: p})
	}
}

// groupByName loads the group named in the path with its direct members,
// answering 404 or 500 itself.
func (s *Server) groupByName(w http.ResponseWriter, r *http.Request) (*groupPage, bool) {
	name := r.PathValue("name")
	groups, err := s.deps.Store.ListGroups(r.Context())
	if err != nil {
		s.internalError(w, r, "list groups", err)
		return nil, false
	}
	for _, g := range groups {
		if g.Name != name {
			continue
		}
		members, err := s.deps.Store.ListUsers(r.Context(), ldapbridge.UserQuery{Group: name})
		if err != nil {
			s.internalError(w, r, "list members of "+name, err)
			return nil, false
		}
		return &groupPage{Group: g, Members: members}, true
	}
	s.fail(w, r, http.StatusNotFound, "There is no group named "+strconv.Quote(name)+" in the store.")
	return nil, false
}
