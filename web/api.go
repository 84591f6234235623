package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// UserJSON is a user as `users list --json` and /api/users render it
// (DESIGN.md's contract).
type UserJSON struct {
	Username     string            `json:"username"`
	Source       string            `json:"source"`
	DN           string            `json:"dn"`
	StableID     string            `json:"stable_id"`
	FirstName    string            `json:"first_name"`
	LastName     string            `json:"last_name"`
	Email        string            `json:"email"`
	IsActive     bool              `json:"is_active"`
	IsStaff      bool              `json:"is_staff"`
	IsSuperuser  bool              `json:"is_superuser"`
	Flags        map[string]bool   `json:"flags"`
	Profile      map[string]string `json:"profile"`
	HasPhoto     bool              `json:"has_photo"`
	LastLoginAt  *time.Time        `json:"last_login_at"`
	LastSyncedAt *time.Time        `json:"last_synced_at"`
}

// UserDetailJSON is a user as `users show --json` and /api/users/{name}
// render it: UserJSON with the direct and effective group names.
type UserDetailJSON struct {
	UserJSON
	DirectGroups []string `json:"direct_groups"`
	Groups       []string `json:"groups"`
}

// NewUserJSON renders u; maps are {} rather than null.
func NewUserJSON(u *ldapbridge.User) UserJSON {
	j := UserJSON{Username: u.Username, Source: u.Source, DN: u.DN, StableID: u.StableID,
		FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		Flags: u.Flags, Profile: u.Profile, HasPhoto: u.HasPhoto,
		LastLoginAt: u.LastLoginAt, LastSyncedAt: u.LastSyncedAt}
	if j.Flags == nil {
		j.Flags = map[string]bool{}
	}
	if j.Profile == nil {
		j.Profile = map[string]string{}
	}
	return j
}

// NewUserDetailJSON renders u with its groups; lists are [] rather than null.
func NewUserDetailJSON(u *ldapbridge.User) UserDetailJSON {
	return UserDetailJSON{UserJSON: NewUserJSON(u), DirectGroups: nonNil(u.DirectGroups), Groups: nonNil(u.Groups)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// GroupJSON is a group as `groups list --json` and /api/groups render it.
type GroupJSON struct {
	Name          string   `json:"name"`
	DN            string   `json:"dn"`
	DirectMembers int      `json:"direct_members"`
	MemberGroups  []string `json:"member_groups"`
}

// NewGroupJSON renders g; MemberGroups is [] rather than null.
func NewGroupJSON(g *ldapbridge.Group) GroupJSON {
	return GroupJSON{Name: g.Name, DN: g.DN, DirectMembers: g.DirectMembers, MemberGroups: nonNil(g.MemberGroups)}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	User UserDetailJSON `json:"user"`
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: `send a JSON object {"username": "...", "password": "..."}: ` + err.Error()})
		return
	}
	a := s.attemptLogin(r.Context(), r, req.Username, req.Password)
	if a.status == http.StatusOK {
		writeJSON(w, http.StatusOK, loginResponse{User: NewUserDetailJSON(a.res.User)})
		return
	}
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(a.retryAfter.Seconds())))
	}
	writeJSON(w, a.status, apiError{Error: a.msg})
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.signOut(r.Context()); err != nil {
		s.internalError(w, r, "sign you out", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	writeJSON(w, http.StatusOK, NewUserDetailJSON(u))
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err1 := intParam(q.Get("limit"), 100)
	offset, err2 := intParam(q.Get("offset"), 0)
	if err1 != nil || err2 != nil || limit < 1 || limit > 1000 || offset < 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "limit must be 1..1000 and offset 0 or more"})
		return
	}
	users, err := s.deps.Store.ListUsers(r.Context(), ldapbridge.UserQuery{Search: q.Get("q"), Limit: limit, Offset: offset})
	if err != nil {
		s.internalError(w, r, "list users", err)
		return
	}
	out := make([]UserJSON, len(users))
	for i, u := range users {
		out[i] = NewUserJSON(u)
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n, nil
}

func (s *Server) apiUser(w http.ResponseWriter, r *http.Request) {
	if u, ok := s.userByName(w, r); ok {
		writeJSON(w, http.StatusOK, NewUserDetailJSON(u))
	}
}

// GroupDetailJSON is one group with its direct member users' names.
type GroupDetailJSON struct {
	GroupJSON
	Members []string `json:"members"`
}

func (s *Server) apiGroup(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.groupByName(w, r); ok {
		out := GroupDetailJSON{GroupJSON: NewGroupJSON(p.Group), Members: []string{}}
		for _, u := range p.Members {
			out.Members = append(out.Members, u.Username)
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) apiGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.deps.Store.ListGroups(r.Context())
	if err != nil {
		s.internalError(w, r, "list groups", err)
		return
	}
	out := make([]GroupJSON, len(groups))
	for i, g := range groups {
		out[i] = NewGroupJSON(g)
	}
	writeJSON(w, http.StatusOK, out)
}
