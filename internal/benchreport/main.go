// Command benchreport turns `go test -bench` output into BENCHMARKS.md.
//
// Benchmarks named Family/ldapbridge/Params are paired with
// Family/raw/Params from the same run (or, when the family has no raw row,
// the raw row of its parent family: Login/first/ldapbridge/P with
// Login/raw/P), and the report gives their ratio: how much slower
// ldapbridge is than the raw LDAP floor, by throughput and, where both
// report p50-ms, by median latency. It checks issue 12's targets against
// the figures, adds the C floor (Family/ldapsearch/Params), and with
// -profiles and -before lists where the time goes, before and after.
// Usage:
//
//	go test -run '^$' -bench . ./bench | go run ./internal/benchreport -o BENCHMARKS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is one benchmark line.
type result struct {
	Name    string // without the Benchmark prefix and -GOMAXPROCS suffix
	N       int
	Metrics map[string]float64
	Units   []string // in the order printed
}

var lineRE = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func parse(r io.Reader) ([]result, []string, error) {
	var results []result
	var raw []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		raw = append(raw, line)
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[3])
		res := result{Name: m[1], N: n, Metrics: map[string]float64{}}
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			res.Metrics[fields[i+1]] = v
			res.Units = append(res.Units, fields[i+1])
		}
		results = append(results, res)
	}
	return results, raw, sc.Err()
}

// split returns family, implementation and parameters of Family/impl/Params.
func split(name string) (family, impl, params string, ok bool) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if p == "ldapbridge" || p == "raw" || p == "ldapsearch" {
			return strings.Join(parts[:i], "/"), p, strings.Join(parts[i+1:], "/"), true
		}
	}
	return "", "", "", false
}

// rate picks the throughput metric of a result (a unit ending in "/s"),
// or derives one from ns/op.
func rate(r result) (float64, string) {
	for _, u := range r.Units {
		if strings.HasSuffix(u, "/s") {
			return r.Metrics[u], u
		}
	}
	if ns := r.Metrics["ns/op"]; ns > 0 {
		return 1e9 / ns, "ops/s"
	}
	return 0, ""
}

// legend says what each benchmark measures and the target it answers to.
const legend = `
## What is measured

- **Login** — full logins (find user, check password, read groups, policy,
  store write into SQLite) against slapd over ldap:// and ldaps://, by 1
  and 4 concurrent clients, no cache, nesting off: **first** logins (each
  creates its account) into an empty store, **first100k** first logins into
  a store that a sync already filled with 100,000 users and their groups,
  and **relogin**s of accounts that exist and are current. The floor
  (Login/raw) is the same three LDAP operations with go-ldap on connections
  opened beforehand. p50-ms is one login's median latency.
  Targets: p50 at most 1.3x the floor's at 1 client; at 4 clients at least
  0.7x the floor's logins/s; first100k p50 within 1.1x of first's; at most
  3 LDAP operations per login.
- **SyncFull** — full sync of a generated directory (100,000 users, 5,000
  groups, each user in 1–3 groups, some nested; loaded with slapadd) into an
  empty SQLite store, next to a paged go-ldap read of the same entries that
  discards them. Targets: at most 2.0x; peak RSS at most 150 MB.
  SyncFull/ldapsearch is the C floor: OpenLDAP's ldapsearch reading the
  same entries (-E pr=1000/noprompt); stretch target: at most 3x it.
- **SyncFullPostgres** — the same into an empty PostgreSQL database. Target:
  at most 2.5x.
- **SyncRerun** — a second full sync with no directory change. Target: at
  most 1.2x.
- **SyncIncremental** — an incremental run with no change. Target: at most
  3 LDAP searches.
- **Live/MirrorLogin** — logins with access.login_source: mirror while the
  live mirror (sync.live, RFC 4533 refreshAndPersist on slapd's syncprov)
  keeps the store current: one bind checks the password, everything else
  comes from the store. The floor (Live/MirrorLogin/raw) is the raw
  three-operation login (search, bind, group search with go-ldap on
  connections opened beforehand). Targets: p50 at most 0.6x the floor's at
  1 client; 1 LDAP operation per login (ldap-ops/login).
- **Live/LiveChange** — how long a directory change takes to reach the
  store through the live mirror: a title changed, a membership of the
  is_staff group added or removed, a user deleted or added back, in turn,
  each timed from the directory's answer to the modification until the
  store shows it (p50-ms, p95-ms over the row's changes; live-runs counts
  the mirror's runs so far). The directory has BENCH_LIVE_USERS users
  (default 2,000). The floor (LiveChange/raw) is the same change reaching
  a bare go-ldap refreshAndPersist client. Target: p95 at most 2 s over at
  least 50 changes.
- peak-RSS-MB is the process's peak resident set during that one run
  (reset before it); run-RSS-MB is that peak minus the resident set after
  a garbage collection just before the run (what the benchmark process
  already held: the test binary, the generated data, other rows' stores).
`

func machine() []string {
	var out []string
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	out = append(out, fmt.Sprintf("- CPU: %s, %d cores visible to Go", cpu, runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first := strings.SplitN(string(b), "\n", 2)[0]
		out = append(out, "- Memory: "+strings.Join(strings.Fields(first)[1:], " "))
	}
	if b, err := exec.Command("go", "version").Output(); err == nil {
		out = append(out, "- Go: "+strings.TrimSpace(string(b)))
	}
	if b, err := exec.Command("sh", "-c", "dpkg-query -W -f='${Version}' slapd 2>/dev/null").Output(); err == nil && len(b) > 0 {
		out = append(out, "- slapd (Debian package): "+string(b))
	}
	return out
}

// merge folds the results of one benchmark run several times (-count)
// into one: each metric is the median of the runs, N their total, and
// the metrics runs and spread-% (the throughput's max−min over its
// median) say how many runs there were and how far they differed.
func merge(results []result) []result {
	byName := map[string][]result{}
	var order []string
	for _, r := range results {
		if _, ok := byName[r.Name]; !ok {
			order = append(order, r.Name)
		}
		byName[r.Name] = append(byName[r.Name], r)
	}
	out := make([]result, 0, len(order))
	for _, name := range order {
		rs := byName[name]
		if len(rs) == 1 {
			out = append(out, rs[0])
			continue
		}
		m := result{Name: name, Metrics: map[string]float64{}, Units: rs[0].Units}
		for _, r := range rs {
			m.N += r.N
		}
		for _, u := range m.Units {
			var vs []float64
			for _, r := range rs {
				if v, ok := r.Metrics[u]; ok {
					vs = append(vs, v)
				}
			}
			sort.Float64s(vs)
			med := vs[len(vs)/2]
			if len(vs)%2 == 0 {
				med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
			}
			m.Metrics[u] = med
		}
		if _, unit := rate(m); unit != "" {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, r := range rs {
				v, _ := rate(r)
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if med, _ := rate(m); med > 0 {
				m.Metrics["spread-%"] = 100 * (hi - lo) / med
				m.Units = append(append([]string(nil), m.Units...), "spread-%")
			}
		}
		m.Metrics["runs"] = float64(len(rs))
		m.Units = append(m.Units, "runs")
		out = append(out, m)
	}
	return out
}

// row is one ldapbridge result with the floors it is compared with.
type row struct {
	family, params string
	ours           result
	raw, c         *result
}

// rows pairs every ldapbridge result of results with its floors.
func rows(results []result) []row {
	byKey := map[string]result{}
	var keys []string
	for _, r := range results {
		fam, impl, params, ok := split(r.Name)
		if !ok {
			continue
		}
		k := fam + "\x00" + params
		if _, seen := byKey[k+"\x00ldapbridge"]; !seen && impl == "ldapbridge" {
			keys = append(keys, k)
		}
		byKey[k+"\x00"+impl] = r
	}
	sort.Strings(keys)
	var out []row
	for _, k := range keys {
		fam, params, _ := strings.Cut(k, "\x00")
		rw := row{family: fam, params: params, ours: byKey[k+"\x00ldapbridge"]}
		for f := fam; f != ""; {
			if r, ok := byKey[f+"\x00"+params+"\x00raw"]; ok && rw.raw == nil {
				rw.raw = &r
			}
			if r, ok := byKey[f+"\x00"+params+"\x00ldapsearch"]; ok && rw.c == nil {
				rw.c = &r
			}
			i := strings.LastIndexByte(f, '/')
			if i < 0 {
				break
			}
			f = f[:i]
		}
		out = append(out, rw)
	}
	return out
}

// ratio is floor throughput over ours (how many times slower ldapbridge is).
func (r row) ratio() (float64, bool) {
	if r.raw == nil {
		return 0, false
	}
	ours, _ := rate(r.ours)
	floor, _ := rate(*r.raw)
	if ours <= 0 || floor <= 0 {
		return 0, false
	}
	return floor / ours, true
}

// p50Ratio is our median latency over the floor's.
func (r row) p50Ratio() (float64, bool) {
	if r.raw == nil {
		return 0, false
	}
	ours, ok1 := r.ours.Metrics["p50-ms"]
	floor, ok2 := r.raw.Metrics["p50-ms"]
	if !ok1 || !ok2 || floor <= 0 {
		return 0, false
	}
	return ours / floor, true
}

func cell(v float64, ok bool, format string) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// table writes the results table of rs.
func table(b *strings.Builder, rs []row) {
	b.WriteString("| benchmark | params | N | ldapbridge | raw floor | overhead | p50 ms | floor p50 ms | p50 ratio | other metrics |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		ourRate, unit := rate(r.ours)
		rawCell := "—"
		if r.raw != nil {
			floorRate, _ := rate(*r.raw)
			rawCell = fmt.Sprintf("%.0f %s", floorRate, unit)
		}
		ratio, rok := r.ratio()
		p50, pok := r.ours.Metrics["p50-ms"]
		var fp50 float64
		fok := false
		if r.raw != nil {
			fp50, fok = r.raw.Metrics["p50-ms"]
		}
		pr, prok := r.p50Ratio()
		var other []string
		for _, u := range r.ours.Units {
			if u != unit && u != "ns/op" && u != "p50-ms" {
				other = append(other, fmt.Sprintf("%.4g %s", r.ours.Metrics[u], u))
			}
		}
		ourCell := fmt.Sprintf("%.0f %s", ourRate, unit)
		if r.family == "Live/LiveChange" {
			// A latency row: its ns/op includes the pauses between changes,
			// and the bare client sees a change at once, so neither a
			// throughput nor a ratio to the floor says anything.
			ourCell, rawCell, rok, prok = "—", "—", false, false
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.family, r.params, r.ours.N, ourCell, rawCell,
			cell(ratio, rok, "%.2fx"), cell(p50, pok, "%.3g"), cell(fp50, fok, "%.3g"), cell(pr, prok, "%.2fx"), strings.Join(other, ", "))
	}
}

// targets checks issue 12's targets against rs, one line each.
func targets(rs []row) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	first := map[string]row{}
	for _, r := range rs {
		if r.family == "Login/first" {
			first[r.params] = r
		}
	}
	for _, r := range rs {
		name := r.family + " " + r.params
		switch {
		case strings.HasPrefix(r.family, "Login/"):
			if strings.HasSuffix(r.params, "clients=1") {
				if pr, ok := r.p50Ratio(); ok {
					out = append(out, fmt.Sprintf("- %s: p50 %.2fx the floor's (target ≤ 1.3x): %s", name, pr, verdict(pr <= 1.3)))
				}
			} else if ratio, ok := r.ratio(); ok {
				out = append(out, fmt.Sprintf("- %s: %.2f of the floor's logins/s (target ≥ 0.7): %s", name, 1/ratio, verdict(1/ratio >= 0.7)))
			}
			if f, ok := first[r.params]; ok && r.family == "Login/first100k" {
				a, b := r.ours.Metrics["p50-ms"], f.ours.Metrics["p50-ms"]
				if b > 0 {
					out = append(out, fmt.Sprintf("- %s: p50 %.2fx that of first logins into an empty store (target ≤ 1.1x): %s", name, a/b, verdict(a/b <= 1.1)))
				}
			}
			if ops, ok := r.ours.Metrics["ldap-ops/login"]; ok && ops > 3.0001 {
				out = append(out, fmt.Sprintf("- %s: %.3g LDAP operations per login (target ≤ 3): **missed**", name, ops))
			}
		case r.family == "Live/MirrorLogin":
			if pr, ok := r.p50Ratio(); ok && strings.HasSuffix(r.params, "clients=1") {
				out = append(out, fmt.Sprintf("- %s: p50 %.2fx the raw three-operation login's (target ≤ 0.6x): %s", name, pr, verdict(pr <= 0.6)))
			}
			if ops, ok := r.ours.Metrics["ldap-ops/login"]; ok {
				out = append(out, fmt.Sprintf("- %s: %.3g LDAP operations per mirror login (target ≤ 1): %s", name, ops, verdict(ops <= 1.0001)))
			}
		case r.family == "Live/LiveChange":
			if p95, ok := r.ours.Metrics["p95-ms"]; ok {
				// Merged runs (-count) report the median of their p95s,
				// each over its own run's changes.
				runs := max(1, int(r.ours.Metrics["runs"]))
				n := r.ours.N / runs * paramInt(r.params, "changes")
				over := fmt.Sprintf("over %d changes", n)
				if runs > 1 {
					over = fmt.Sprintf("median of %d runs, each over %d changes", runs, n)
				}
				line := fmt.Sprintf("- %s: p95 %.0f ms from the directory's answer to the store, %s (target ≤ 2000 ms, over at least %d): ", name, p95, over, liveTargetChanges)
				if n < liveTargetChanges {
					line += "**missed** (too few changes to tell)"
				} else {
					line += verdict(p95 <= 2000)
				}
				out = append(out, line)
			}
		case strings.HasPrefix(r.family, "Sync/"):
			limit := map[string]float64{"Sync/SyncFull": 2.0, "Sync/SyncFullPostgres": 2.5, "Sync/SyncRerun": 1.2}[r.family]
			if ratio, ok := r.ratio(); ok && limit > 0 {
				out = append(out, fmt.Sprintf("- %s: %.2fx the go-ldap floor (target ≤ %.1fx): %s", name, ratio, limit, verdict(ratio <= limit)))
			}
			if rss, ok := r.ours.Metrics["peak-RSS-MB"]; ok && r.family == "Sync/SyncFull" {
				out = append(out, fmt.Sprintf("- %s: peak RSS %.0f MB (target ≤ 150 MB): %s", name, rss, verdict(rss <= 150)))
			}
			if n, ok := r.ours.Metrics["searches/op"]; ok && r.family == "Sync/SyncIncremental" {
				out = append(out, fmt.Sprintf("- %s: %.0f LDAP searches (target ≤ 3): %s", name, n, verdict(n <= 3)))
			}
			if r.c != nil {
				ours, _ := rate(r.ours)
				c, _ := rate(*r.c)
				if ours > 0 {
					out = append(out, fmt.Sprintf("- %s (stretch): %.2fx the C floor, ldapsearch %.0f entries/s (target ≤ 3x): %s", name, c/ours, c, verdict(c/ours <= 3)))
				}
			}
		}
	}
	if n := 0; len(out) == n {
		out = append(out, "- (no results to check)")
	}
	return out
}

// liveTargetChanges is the number of changes the live target's p95 is over.
const liveTargetChanges = 50

// paramInt returns the value of key=N in params (Family/impl/key=N/...), or 0.
func paramInt(params, key string) int {
	for _, p := range strings.Split(params, "/") {
		if v, ok := strings.CutPrefix(p, key+"="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// profiles writes, for every profile text in after (and the one of the same
// name in before), the top entries.
func profiles(b *strings.Builder, after, before string) {
	names := map[string]bool{}
	for _, dir := range []string{after, before} {
		if dir == "" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		for _, f := range files {
			n := filepath.Base(f)
			// The main rows: those profiled before too, every sync, and
			// the ldap:// single-client logins.
			if n != "bench.txt" && (dir == before || strings.HasPrefix(n, "Sync.") || strings.Contains(n, ".ldap.clients1.")) {
				names[n] = true
			}
		}
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		fmt.Fprintf(b, "\n### %s\n", strings.TrimSuffix(n, ".txt"))
		for _, side := range []struct{ title, dir string }{{"Before", before}, {"After", after}} {
			if side.dir == "" {
				continue
			}
			text, err := os.ReadFile(filepath.Join(side.dir, n))
			if err != nil {
				continue
			}
			fmt.Fprintf(b, "\n%s:\n\n```\n%s```\n", side.title, text)
		}
	}
}

func main() {
	outPath := flag.String("o", "BENCHMARKS.md", "report file to write")
	command := flag.String("command", "./scripts/bench", "the command that produced the input, for the report")
	profDir := flag.String("profiles", "", "directory of this run's profile texts (*.txt), for \"where the time goes\"")
	beforeDir := flag.String("before", "", "directory of the profile texts and bench.txt (raw output) from before issue 12's changes")
	notes := flag.String("notes", "bench/NOTES.md", "a Markdown file appended to the report when it exists")
	flag.Parse()
	results, raw, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark results on standard input")
		os.Exit(1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nGenerated %s by `%s`. Every ldapbridge figure is paired with the raw\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), *command)
	b.WriteString("go-ldap floor measured in the same run against the same server; overhead is\nraw throughput / ldapbridge throughput and p50 ratio ldapbridge's median login\nlatency / the floor's (1.00x = no overhead). The machine has 2 cores shared with\nslapd (and, when this was generated, other work): compare ratios, not absolute\nfigures.\n\n## Machine\n\n")
	for _, l := range machine() {
		b.WriteString(l + "\n")
	}
	b.WriteString(legend)
	rs := rows(merge(results))
	b.WriteString("\n## Results\n\n")
	table(&b, rs)
	b.WriteString("\n## Targets\n\n")
	for _, l := range targets(rs) {
		b.WriteString(l + "\n")
	}
	if *beforeDir != "" {
		if f, err := os.Open(filepath.Join(*beforeDir, "bench.txt")); err == nil {
			before, braw, err := parse(f)
			f.Close()
			if err == nil && len(before) > 0 {
				b.WriteString("\n## Before issue 12's changes\n\nThe same benchmarks on the code before the changes (" + filepath.Join(*beforeDir, "bench.txt") + "), measured the same way when that work began" + beforeCPU(filepath.Join(*beforeDir, "bench.txt")) + ": compare ratios, not absolute figures:\n\n")
				table(&b, rows(before))
				b.WriteString("\n```\n" + strings.Join(braw, "\n") + "\n```\n")
			}
		}
	}
	if *profDir != "" || *beforeDir != "" {
		b.WriteString("\n## Where the time goes\n\nCPU profiles of the measured part of the main rows (BENCH_PROFILE; `go tool pprof -top`): the top functions by own time, then ldapbridge's functions by cumulative time. The process's CPU only: slapd and PostgreSQL are other processes.\n")
		profiles(&b, *profDir, *beforeDir)
	}
	if text, err := os.ReadFile(*notes); err == nil {
		b.WriteString("\n" + string(text))
	}
	b.WriteString("\n## Raw output\n\n```\n")
	for _, l := range raw {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n")
	if err := os.WriteFile(*outPath, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s (%d results)\n", *outPath, len(results))
}

// beforeCPU names the CPU the before figures were taken on (their "cpu:"
// line), which may not be this report's machine.
func beforeCPU(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if cpu, ok := strings.CutPrefix(l, "cpu: "); ok {
			return ", on a machine with an " + strings.TrimSpace(cpu) + " CPU"
		}
	}
	return ""
}
