package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// userScanLimit bounds how many users one admin list request reads from
// the store: the store filters only by search text and source, so the
// other filters and the sort run here, over at most this many users.
const userScanLimit = 10000

// userSorts are the columns the users list sorts by, each with its order.
var userSorts = map[string]func(a, b *ldapbridge.User) int{
	"username": func(a, b *ldapbridge.User) int {
		return cmp.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
	},
	"name": func(a, b *ldapbridge.User) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.LastName), strings.ToLower(b.LastName)),
			cmp.Compare(strings.ToLower(a.FirstName), strings.ToLower(b.FirstName)))
	},
	"email": func(a, b *ldapbridge.User) int {
		return cmp.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email))
	},
	"source": func(a, b *ldapbridge.User) int { return cmp.Compare(a.Source, b.Source) },
	"status": func(a, b *ldapbridge.User) int { return cmp.Compare(statusRank(a), statusRank(b)) },
	"last_login": func(a, b *ldapbridge.User) int {
		return cmp.Compare(timeOrZero(a.LastLoginAt).UnixNano(), timeOrZero(b.LastLoginAt).UnixNano())
	},
}

// statusRank orders users inactive, active, staff, superuser.
func statusRank(u *ldapbridge.User) int {
	switch {
	case !u.IsActive:
		return 0
	case u.IsSuperuser:
		return 3
	case u.IsStaff:
		return 2
	}
	return 1
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// userColumn is one column heading of the users list, sortable when Key
// is set.
type userColumn struct {
	Label, Key string
	// URL sorts by this column, the other way round when it is the
	// current one; Sort is "ascending" or "descending" on the current
	// column, for aria-sort.
	URL, Sort string
}

type adminUsersData struct {
	Query string
	// Active, Staff and Superuser are "", "yes" or "no"; Source is "",
	// ldap or local.
	Active, Staff, Superuser, Source string
	// Directory filters by the account's directory ("" for all), one of
	// Directories, which lists the configured ones when there are several.
	Directory   string
	Directories []string
	SortKey     string
	Desc        bool
	Columns     []userColumn
	Users       []*ldapbridge.User
	// Total counts the stored users (the service account left out),
	// Matched those the filters keep, First and Last this page's rows;
	// Capped: the store held more than userScanLimit users to look at.
	Total, Matched, First, Last int
	Capped                      bool
	Filtered                    bool
	// CanExplain: Deps.Explain is set, so /admin/explain works.
	CanExplain       bool
	Page             int
	PrevURL, NextURL string
}

// yesNo keeps "yes" and "no" and turns anything else into "".
func yesNo(s string) string {
	if s == "yes" || s == "no" {
		return s
	}
	return ""
}

// keep applies a yes/no filter to a value.
func keep(filter string, v bool) bool {
	return filter == "" || (filter == "yes") == v
}

// isServiceAccount reports whether u is the directory's service account
// (directory.bind_dn), which a sync may mirror when it lies in the user
// search base but which is no person.
func (s *Server) isServiceAccount(u *ldapbridge.User) bool {
	return s.serviceDN != "" && u.DN != "" && normDN(u.DN) == s.serviceDN
}

// listUsers reads at most userScanLimit users for q, without the
// service account; capped says the limit cut the list.
func (s *Server) listUsers(r *http.Request, q ldapbridge.UserQuery) (users []*ldapbridge.User, capped bool, err error) {
	q.Limit, q.Offset = userScanLimit+1, 0
	all, err := s.deps.Store.ListUsers(r.Context(), q)
	if err != nil {
		return nil, false, err
	}
	if len(all) > userScanLimit {
		all, capped = all[:userScanLimit], true
	}
	users = all[:0]
	for _, u := range all {
		if !s.isServiceAccount(u) {
			users = append(users, u)
		}
	}
	return users, capped, nil
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	d := adminUsersData{CanExplain: s.deps.Explain != nil, Query: strings.TrimSpace(v.Get("q")), Active: yesNo(v.Get("active")), Staff: yesNo(v.Get("staff")),
		Superuser: yesNo(v.Get("superuser")), Source: v.Get("source"), SortKey: v.Get("sort"), Desc: v.Get("dir") == "desc"}
	if d.Source != ldapbridge.SourceLDAP && d.Source != ldapbridge.SourceLocal {
		d.Source = ""
	}
	if len(s.deps.Directories) > 1 {
		d.Directories = s.deps.Directories
		if dir := v.Get("directory"); slices.Contains(d.Directories, dir) {
			d.Directory = dir
		}
	}
	if userSorts[d.SortKey] == nil {
		d.SortKey = "username"
	}
	d.Filtered = d.Query != "" || d.Active != "" || d.Staff != "" || d.Superuser != "" || d.Source != "" || d.Directory != ""
	users, capped, err := s.listUsers(r, ldapbridge.UserQuery{Search: d.Query, Source: d.Source, Directory: d.Directory})
	if err != nil {
		s.internalError(w, r, "list users", err)
		return
	}
	d.Capped = capped
	matched := users[:0:0]
	for _, u := range users {
		if keep(d.Active, u.IsActive) && keep(d.Staff, u.IsStaff) && keep(d.Superuser, u.IsSuperuser) {
			matched = append(matched, u)
		}
	}
	d.Matched, d.Total = len(matched), len(users)
	if d.Query != "" || d.Source != "" || d.Directory != "" {
		all, allCapped, err := s.listUsers(r, ldapbridge.UserQuery{})
		if err != nil {
			s.internalError(w, r, "count users", err)
			return
		}
		d.Total, d.Capped = len(all), d.Capped || allCapped
	}
	by := userSorts[d.SortKey]
	slices.SortStableFunc(matched, func(a, b *ldapbridge.User) int {
		c := by(a, b)
		if d.Desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.Username, b.Username))
	})

	page, _ := strconv.Atoi(v.Get("page"))
	pages := max(1, (len(matched)+adminPageSize-1)/adminPageSize)
	d.Page = min(max(page, 1), pages)
	from, to := (d.Page-1)*adminPageSize, min(d.Page*adminPageSize, len(matched))
	d.Users, d.First, d.Last = matched[from:to], from+1, to
	if d.Page > 1 {
		d.PrevURL = d.url(d.SortKey, d.Desc, d.Page-1)
	}
	if d.Page < pages {
		d.NextURL = d.url(d.SortKey, d.Desc, d.Page+1)
	}
	for _, c := range []userColumn{{Label: "Username", Key: "username"}, {Label: "Name", Key: "name"}, {Label: "Email", Key: "email"},
		{Label: "Source", Key: "source"}, {Label: "Status", Key: "status"}, {Label: "Last sign-in", Key: "last_login"}} {
		desc := false
		if c.Key == d.SortKey {
			desc = !d.Desc
			c.Sort = "ascending"
			if d.Desc {
				c.Sort = "descending"
			}
		}
		c.URL = d.url(c.Key, desc, 1)
		d.Columns = append(d.Columns, c)
	}
	s.render(w, r, http.StatusOK, "admin_users", view{Title: "Users", Data: d})
}

// url is the list with d's filters, sorted by key, on page.
func (d *adminUsersData) url(key string, desc bool, page int) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": d.Query, "active": d.Active, "staff": d.Staff, "superuser": d.Superuser, "source": d.Source, "directory": d.Directory} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if key != "username" {
		v.Set("sort", key)
	}
	if desc {
		v.Set("dir", "desc")
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}
