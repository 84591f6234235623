package config

import (
	"sort"
	"strings"
)

// Issue is one problem in a configuration: the key it concerns (a dotted
// path such as "directory.urls[0]"), what is wrong, and how to fix it.
type Issue struct {
	Key     string
	Problem string
	Fix     string
}

// String renders the issue as "key: problem — fix".
func (i Issue) String() string {
	s := i.Key + ": " + i.Problem
	if i.Fix != "" {
		s += " — " + i.Fix
	}
	return s
}

// Error is every problem found in a configuration, in file order.
type Error struct {
	Issues []Issue
}

// Error prints one issue per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return strings.Join(lines, "\n")
}

// issues collects problems while decoding or validating.
type issues []Issue

func (l *issues) add(key, problem, fix string) {
	*l = append(*l, Issue{Key: key, Problem: problem, Fix: fix})
}

func (l issues) err() error {
	if len(l) == 0 {
		return nil
	}
	return &Error{Issues: append([]Issue(nil), l...)}
}

// suggest returns the candidate closest to name when it is close enough to
// be a likely typo, else "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		if len(c) >= 3 && len(lower) >= 3 && (strings.HasPrefix(lower, c) || strings.HasPrefix(c, lower)) {
			return c
		}
	}
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(name) > 10 {
		limit = 3
	}
	if bestDist < 0 || bestDist > limit || bestDist >= len(name) {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, so a swapped pair of letters counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 99
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
