package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	User apijson.UserDetail `json:"user"`
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
		writeJSON(w, http.StatusOK, loginResponse{User: apijson.NewUserDetail(a.res.User)})
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
	writeJSON(w, http.StatusOK, apijson.NewUserDetail(u))
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
	out := make([]apijson.User, len(users))
	for i, u := range users {
		out[i] = apijson.NewUser(u)
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
		writeJSON(w, http.StatusOK, apijson.NewUserDetail(u))
	}
}

func (s *Server) apiGroup(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.groupByName(w, r); ok {
		out := apijson.GroupDetail{Group: apijson.NewGroup(p.Group), Members: []string{}}
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
	out := make([]apijson.Group, len(groups))
	for i, g := range groups {
		out[i] = apijson.NewGroup(g)
	}
	writeJSON(w, http.StatusOK, out)
}
