package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
	"github.com/ldapbridge/ldapbridge/storetest"
)

var (
	planChecks int
	paramRE    = regexp.MustCompile(`\$(\d+)`)
	seqScanRE  = regexp.MustCompile(`Seq Scan on (\S+)`)
)

// explainPostgres explains q's generic plan — the one a prepared statement
// settles on after a few runs, planned without the parameters' values —
// with sequential scans disabled, so that a Seq Scan in it means that no
// index serves the query (on the test's near-empty tables the planner
// would otherwise scan anyway). It returns the plan and the scanned tables.
func explainPostgres(ctx context.Context, s *Store, q string) (string, []string, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", nil, err
	}
	defer tx.Rollback(ctx)
	n := 0
	for _, m := range paramRE.FindAllStringSubmatch(q, -1) {
		var k int
		fmt.Sscan(m[1], &k)
		n = max(n, k)
	}
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ")
	// A prepared statement outlives the transaction: each gets its own
	// name and is deallocated before the connection goes back to the pool.
	planChecks++
	name := fmt.Sprintf("plan_check_%d", planChecks)
	for _, stmt := range []string{`SET LOCAL enable_seqscan = off`, `SET LOCAL plan_cache_mode = force_generic_plan`, `PREPARE ` + name + ` AS ` + q} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return "", nil, err
		}
	}
	defer tx.Exec(ctx, `DEALLOCATE `+name)
	explain := `EXPLAIN EXECUTE ` + name
	if n > 0 {
		explain += `(` + nulls + `)`
	}
	rows, err := tx.Query(ctx, explain)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var plan strings.Builder
	var scans []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", nil, err
		}
		plan.WriteString("  " + line + "\n")
		if m := seqScanRE.FindStringSubmatch(line); m != nil {
			scans = append(scans, m[1])
		}
	}
	return plan.String(), scans, rows.Err()
}

// TestLookupsUseIndexes runs every store call a login, a sync and a web
// request make, and checks with EXPLAIN (generic plans, sequential scans
// disabled) that none of their statements scans a table, except the
// whole-table reads of a sync's diff.
func TestLookupsUseIndexes(t *testing.T) {
	checkPostgresPlans(t, nil)
}

// TestLookupPlanCheckFailsWithoutTheIndex drops users_stable_id_key and
// expects UserByStableID's plan to scan users.
func TestLookupPlanCheckFailsWithoutTheIndex(t *testing.T) {
	checkPostgresPlans(t, []string{`DROP INDEX users_stable_id_key`})
}

func checkPostgresPlans(t *testing.T, drop []string) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range drop {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rec := &storetest.Recorder{}
	core := sqlcore.New(sqlcore.Traced(conn{s}, rec.Record), dialect)
	storetest.ExerciseLookups(t, core, core.Sessions(), rec)
	explain := func(q string, _ []any) (string, []string, error) { return explainPostgres(ctx, s, q) }
	if drop == nil {
		t.Logf("%d statements explained", storetest.CheckPlans(t, rec, explain))
		return
	}
	var scans []string
	for _, st := range rec.Stmts {
		if st.Call == "UserByStableID" {
			_, sc, err := explain(st.SQL, nil)
			if err != nil {
				t.Fatal(err)
			}
			scans = append(scans, sc...)
		}
	}
	if len(scans) == 0 {
		t.Fatal("without users_stable_id_key, UserByStableID's plan shows no scan; the plan check would not notice a dropped index")
	}
}
