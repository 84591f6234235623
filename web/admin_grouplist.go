package web

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// groupPageSize is how many groups one page of the groups list shows.
const groupPageSize = 50

// ruleUses maps the normalized DN of each group that an access rule names
// to those rules, in words: "require", "deny", "flag is_staff".
func ruleUses(a config.Access) map[string][]string {
	out := map[string][]string{}
	add := func(q ldapbridge.GroupQuery, rule string) {
		for _, dn := range q.DNs() {
			k := normDN(dn)
			if len(out[k]) == 0 || out[k][len(out[k])-1] != rule {
				out[k] = append(out[k], rule)
			}
		}
	}
	add(a.Require, "require")
	add(a.Deny, "deny")
	flags := make([]string, 0, len(a.Flags))
	for name := range a.Flags {
		flags = append(flags, name)
	}
	sort.Strings(flags)
	for _, name := range flags {
		add(a.Flags[name], "flag "+name)
	}
	return out
}

// normDN is dn in the form two spellings of one DN share.
func normDN(dn string) string {
	if n, err := ldaptext.NormalizeDN(dn); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSpace(dn))
}

// rulesOf is the access rules that name g, or nil.
func (s *Server) rulesOf(g *ldapbridge.Group) []string {
	if g.DN == "" {
		return nil
	}
	return s.rules[normDN(g.DN)]
}

// groupRow is one group of the list with the access rules that name it.
type groupRow struct {
	*ldapbridge.Group
	Rules []string
}

type adminGroupsData struct {
	Groups []groupRow
	// CanEdit: the viewer is a superuser and Deps.LocalGroups is set.
	CanEdit bool
	// Query, Source (ldap, local or "") and RulesOnly are the filters.
	Query     string
	Source    string
	RulesOnly bool
	// Total is the number of groups in the store, Matched of those the
	// filters keep, and First and Last the numbers of this page's rows.
	Total, Matched, First, Last int
	Page                        int
	PrevURL, NextURL            string
}

func (s *Server) adminGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.deps.Store.ListGroups(r.Context())
	if err != nil {
		s.internalError(w, r, "list groups", err)
		return
	}
	q := r.URL.Query()
	d := adminGroupsData{CanEdit: s.canEditGroups(r), Query: strings.TrimSpace(q.Get("q")),
		Source: q.Get("source"), RulesOnly: q.Get("rules") == "1", Total: len(groups)}
	if d.Source != ldapbridge.SourceLDAP && d.Source != ldapbridge.SourceLocal {
		d.Source = ""
	}
	needle := strings.ToLower(d.Query)
	var rows []groupRow
	for _, g := range groups {
		row := groupRow{Group: g, Rules: s.rulesOf(g)}
		switch {
		case d.Source != "" && g.Source != d.Source && !(d.Source == ldapbridge.SourceLDAP && g.Source == ""):
		case d.RulesOnly && len(row.Rules) == 0:
		case needle != "" && !strings.Contains(strings.ToLower(g.Name), needle) && !strings.Contains(strings.ToLower(g.DN), needle):
		default:
			rows = append(rows, row)
		}
	}
	d.Matched = len(rows)
	page, _ := strconv.Atoi(q.Get("page"))
	pages := max(1, (len(rows)+groupPageSize-1)/groupPageSize)
	d.Page = min(max(page, 1), pages)
	from, to := (d.Page-1)*groupPageSize, min(d.Page*groupPageSize, len(rows))
	d.Groups, d.First, d.Last = rows[from:to], from+1, to
	pageURL := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		if d.Source != "" {
			v.Set("source", d.Source)
		}
		if d.RulesOnly {
			v.Set("rules", "1")
		}
		return "/admin/groups?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	s.render(w, r, http.StatusOK, "admin_groups", view{Title: "Groups", Notice: groupNotice(r), Data: d})
}
