package main

import (
	"strings"
	"testing"
)

// liveRun is BenchmarkLive output with every live target met, except
// where the test replaces a figure.
const liveRun = `BenchmarkLive/MirrorLogin/raw/ldap/clients=1-2         	    1000	    736442 ns/op	         3.000 ldap-ops/login	      1358 logins/s	         0.7000 p50-ms
BenchmarkLive/MirrorLogin/ldapbridge/ldap/clients=1-2  	    1000	    453415 ns/op	         1.000 ldap-ops/login	      2207 logins/s	         0.4000 p50-ms
BenchmarkLive/MirrorLogin/raw/ldap/clients=4-2         	    1000	    689278 ns/op	         3.000 ldap-ops/login	      1452 logins/s	         0.6820 p50-ms
BenchmarkLive/MirrorLogin/ldapbridge/ldap/clients=4-2  	    1000	    356839 ns/op	         1.000 ldap-ops/login	      2806 logins/s	         0.3490 p50-ms
BenchmarkLive/LiveChange/raw/changes=50-2              	       1	 184855078 ns/op	         0.001000 p50-ms	         0.09300 p95-ms
BenchmarkLive/LiveChange/ldapbridge/changes=50-2       	       1	3109424228 ns/op	        55.00 live-runs	        59.46 p50-ms	        63.80 p95-ms
`

func liveTargets(t *testing.T, input string) []string {
	t.Helper()
	results, _, err := parse(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	return targets(rows(merge(results)))
}

// line returns the target line that starts with prefix.
func line(t *testing.T, lines []string, prefix string) string {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no target line starts with %q in\n%s", prefix, strings.Join(lines, "\n"))
	return ""
}

func TestLiveTargetsMet(t *testing.T) {
	lines := liveTargets(t, liveRun)
	for _, want := range []string{
		"- Live/MirrorLogin ldap/clients=1: p50 0.57x the raw three-operation login's (target ≤ 0.6x): met",
		"- Live/MirrorLogin ldap/clients=1: 1 LDAP operations per mirror login (target ≤ 1): met",
		"- Live/MirrorLogin ldap/clients=4: 1 LDAP operations per mirror login (target ≤ 1): met",
		"- Live/LiveChange changes=50: p95 64 ms from the directory's answer to the store, over 50 changes (target ≤ 2000 ms, over at least 50): met",
	} {
		if got := line(t, lines, want[:strings.Index(want, ":")+4]); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "clients=4: p50") {
			t.Errorf("the p50 target is for 1 client only: %s", l)
		}
	}
}

func TestLiveTargetsMissed(t *testing.T) {
	slow := strings.NewReplacer(
		"1.000 ldap-ops/login	      2207", "2.000 ldap-ops/login	      2207", // clients=1: two operations
		"0.4000 p50-ms", "0.5000 p50-ms", // 0.71x the floor
		"63.80 p95-ms", "2100 p95-ms",
	).Replace(liveRun)
	lines := liveTargets(t, slow)
	for _, prefix := range []string{
		"- Live/MirrorLogin ldap/clients=1: p50 0.71x",
		"- Live/MirrorLogin ldap/clients=1: 2 LDAP operations",
		"- Live/LiveChange changes=50: p95 2100 ms",
	} {
		if l := line(t, lines, prefix); !strings.HasSuffix(l, ": **missed**") {
			t.Errorf("want missed: %s", l)
		}
	}
	if l := line(t, lines, "- Live/MirrorLogin ldap/clients=4: 1 LDAP"); !strings.HasSuffix(l, ": met") {
		t.Errorf("want met: %s", l)
	}
}

func TestLiveTargetTooFewChanges(t *testing.T) {
	few := strings.ReplaceAll(liveRun, "changes=50", "changes=10")
	l := line(t, liveTargets(t, few), "- Live/LiveChange changes=10:")
	if !strings.Contains(l, "over 10 changes") || !strings.HasSuffix(l, "**missed** (too few changes to tell)") {
		t.Errorf("got %s", l)
	}
}

// With -count the p95 is the median of the runs' p95s, each over its own
// run's changes.
func TestLiveTargetMergedRuns(t *testing.T) {
	again := strings.ReplaceAll(liveRun, "63.80 p95-ms", "70.00 p95-ms")
	l := line(t, liveTargets(t, liveRun+again+liveRun), "- Live/LiveChange changes=50:")
	want := "- Live/LiveChange changes=50: p95 64 ms from the directory's answer to the store, median of 3 runs, each over 50 changes (target ≤ 2000 ms, over at least 50): met"
	if l != want {
		t.Errorf("got  %s\nwant %s", l, want)
	}
}
