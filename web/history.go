package web

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// historyPageSize is how many sync runs one page of the history shows.
const historyPageSize = 20

// countOrder lists the sync counters in the order the history shows them;
// counters it does not know follow, sorted.
var countOrder = []string{
	"users_created", "users_updated", "users_deactivated", "users_deleted", "users_refused",
	"groups_created", "groups_updated", "groups_deleted",
	"memberships_added", "memberships_removed",
}

// singular is the one-item form of the nouns the sync counters use.
var singular = map[string]string{"users": "user", "groups": "group", "memberships": "membership"}

// countLabel turns a counter such as users_created and its value into
// "3 users created" ("1 user created").
func countLabel(key string, n int) string {
	noun, verb, ok := strings.Cut(key, "_")
	if !ok {
		return strconv.Itoa(n) + " " + strings.ReplaceAll(key, "_", " ")
	}
	if one, known := singular[noun]; known && n == 1 {
		noun = one
	}
	return strconv.Itoa(n) + " " + noun + " " + strings.ReplaceAll(verb, "_", " ")
}

// changeLabels are the non-zero changes of a run in readable words; users
// left unchanged are not a change. Empty means the run changed nothing.
func changeLabels(counts map[string]int) []string {
	var out []string
	seen := map[string]bool{"users_unchanged": true}
	for _, k := range countOrder {
		seen[k] = true
		if n := counts[k]; n != 0 {
			out = append(out, countLabel(k, n))
		}
	}
	var rest []string
	for k := range counts {
		if !seen[k] && counts[k] != 0 {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, countLabel(k, counts[k]))
	}
	return out
}

// historyRow is one sync run as the history table shows it.
type historyRow struct {
	SyncRun
	Changes []string
	// Result is ok, aborted, cancelled, failed, dry run or running; Bad
	// marks the ones shown as a problem.
	Result string
	Bad    bool
}

func newHistoryRow(r SyncRun) historyRow {
	h := historyRow{SyncRun: r, Changes: changeLabels(r.Counts), Result: r.Outcome}
	switch {
	case r.Running:
		h.Result = "running"
	case h.Result == "":
		h.Result = "ok"
		if r.Aborted {
			h.Result = "aborted"
		}
	}
	h.Result = strings.ReplaceAll(h.Result, "_", " ")
	h.Bad = r.Aborted || h.Result == "aborted" || h.Result == "failed" || h.Result == "cancelled"
	return h
}

// duration is a run's duration rounded for reading: 1.2s, 3m4s.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// history is the sync history part of the admin page: one page of runs.
type history struct {
	Rows    []historyRow
	Page    int
	PrevURL string
	NextURL string
	// Last is the most recent run, nil when no sync has run.
	Last *historyRow
	// ByDirectory: several directories are configured, so each row names
	// its directory and Lasts holds the most recent run of each directory
	// among the runs read (a "sync now" runs every directory, each its own
	// run), in the configured order.
	ByDirectory bool
	Lasts       []historyRow
}

// loadHistory reads the page of sync runs the request asks for (?runs=N).
func (s *Server) loadHistory(r *http.Request) (history, error) {
	page, _ := strconv.Atoi(r.URL.Query().Get("runs"))
	page = max(page, 1)
	h := history{Page: page}
	runs, err := s.deps.SyncHistory(r.Context(), page*historyPageSize+1)
	if err != nil {
		return h, err
	}
	if len(runs) > 0 {
		last := newHistoryRow(runs[0])
		h.Last = &last
	}
	if h.ByDirectory = len(s.deps.Directories) > 1; h.ByDirectory {
		for _, d := range s.deps.Directories {
			for _, run := range runs {
				if run.Directory == d {
					h.Lasts = append(h.Lasts, newHistoryRow(run))
					break
				}
			}
		}
	}
	pageURL := func(p int) string {
		return "/admin?" + url.Values{"runs": {strconv.Itoa(p)}}.Encode() + "#history"
	}
	from := min((page-1)*historyPageSize, len(runs))
	to := min(page*historyPageSize, len(runs))
	for _, run := range runs[from:to] {
		h.Rows = append(h.Rows, newHistoryRow(run))
	}
	if len(runs) > to {
		h.NextURL = pageURL(page + 1)
	}
	if page > 1 {
		h.PrevURL = pageURL(page - 1)
	}
	return h, nil
}
