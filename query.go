package ldapbridge

import "strings"

// GroupQuery is a condition on the groups a user belongs to: a group DN, or
// Any, All or Not of nested queries. Exactly one of the four is set. The zero
// value is an empty query, which IsZero reports.
type GroupQuery struct {
	DN  string
	Any []GroupQuery
	All []GroupQuery
	Not *GroupQuery
}

// IsZero reports whether no condition is set.
func (q GroupQuery) IsZero() bool {
	return q.DN == "" && q.Any == nil && q.All == nil && q.Not == nil
}

// Eval evaluates the query; isMember answers whether the user is in the
// group with that DN (the caller decides how DNs compare).
func (q GroupQuery) Eval(isMember func(dn string) bool) bool {
	switch {
	case q.DN != "":
		return isMember(q.DN)
	case q.Not != nil:
		return !q.Not.Eval(isMember)
	case q.All != nil:
		for _, s := range q.All {
			if !s.Eval(isMember) {
				return false
			}
		}
		return true
	case q.Any != nil:
		for _, s := range q.Any {
			if s.Eval(isMember) {
				return true
			}
		}
		return false
	}
	return false
}

// DNs lists every group DN the query mentions, in order of appearance.
func (q GroupQuery) DNs() []string {
	var out []string
	var walk func(GroupQuery)
	walk = func(q GroupQuery) {
		switch {
		case q.DN != "":
			out = append(out, q.DN)
		case q.Not != nil:
			walk(*q.Not)
		default:
			for _, s := range q.All {
				walk(s)
			}
			for _, s := range q.Any {
				walk(s)
			}
		}
	}
	walk(q)
	return out
}

// String renders the query compactly, e.g. all(cn=a,..., not(cn=b,...)).
func (q GroupQuery) String() string {
	switch {
	case q.DN != "":
		return q.DN
	case q.Not != nil:
		return "not(" + q.Not.String() + ")"
	case q.All != nil:
		return "all(" + joinQueries(q.All) + ")"
	case q.Any != nil:
		return "any(" + joinQueries(q.Any) + ")"
	}
	return ""
}

func joinQueries(qs []GroupQuery) string {
	parts := make([]string, len(qs))
	for i, s := range qs {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}
