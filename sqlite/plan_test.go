package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
	"github.com/ldapbridge/ldapbridge/storetest"
)

// scanRE matches a step of EXPLAIN QUERY PLAN that reads a whole table or
// index: "SCAN u", "SCAN g USING INDEX ...". SEARCH steps use an index.
var scanRE = regexp.MustCompile(`^SCAN (\S+)`)

// notTables are what a SCAN step may read without reading a table: the
// id lists (json_each, and the subquery over it), the recursive CTE of a
// user's effective groups, a constant row.
var notTables = map[string]bool{"json_each": true, "x": true, "e": true, "eff": true, "CONSTANT": true}

// explainSQLite runs EXPLAIN QUERY PLAN for q on s's read pool and returns
// the plan and the tables it scans.
func explainSQLite(s *Store, q string, args []any) (string, []string, error) {
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+placeholders(q), args...)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var plan strings.Builder
	var scans []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", nil, err
		}
		fmt.Fprintf(&plan, "  %s\n", detail)
		if m := scanRE.FindStringSubmatch(detail); m != nil && !notTables[m[1]] && !strings.Contains(detail, "VIRTUAL TABLE") {
			scans = append(scans, m[1])
		}
	}
	return plan.String(), scans, rows.Err()
}

// TestLookupsUseIndexes runs every store call a login, a sync and a web
// request make, and checks with EXPLAIN QUERY PLAN that none of their
// statements scans a table, except the whole-table reads of a sync's diff.
// Dropping an index the lookups rely on (users_stable_id_key, say) fails it.
func TestLookupsUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkLookupPlans(t, s)
}

func checkLookupPlans(t *testing.T, s *Store) {
	rec := &storetest.Recorder{}
	core := sqlcore.New(sqlcore.Traced(conn{s}, rec.Record), dialect)
	storetest.ExerciseLookups(t, core, core.Sessions(), rec)
	n := storetest.CheckPlans(t, rec, func(q string, args []any) (string, []string, error) { return explainSQLite(s, q, args) })
	t.Logf("%d statements explained", n)
}

// TestLookupPlanCheckFailsWithoutTheIndex drops users_stable_id_key and
// expects the check to report the scan, so the check cannot pass vacuously.
func TestLookupPlanCheckFailsWithoutTheIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "plans.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), `DROP INDEX users_stable_id_key`); err != nil {
		t.Fatal(err)
	}
	rec := &storetest.Recorder{}
	core := sqlcore.New(sqlcore.Traced(conn{s}, rec.Record), dialect)
	storetest.ExerciseLookups(t, core, core.Sessions(), rec)
	var reported []string
	for _, st := range rec.Stmts {
		if st.Call != "UserByStableID" {
			continue
		}
		_, scans, err := explainSQLite(s, st.SQL, st.Args)
		if err != nil {
			t.Fatal(err)
		}
		reported = append(reported, scans...)
	}
	if len(reported) == 0 {
		t.Fatal("without users_stable_id_key, UserByStableID's plan shows no scan; the plan check would not notice a dropped index")
	}
}
