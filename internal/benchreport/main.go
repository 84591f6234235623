// Command benchreport turns `go test -bench` output into BENCHMARKS.md.
//
// Benchmarks named Family/ldapbridge/Params are paired with
// Family/raw/Params from the same run, and the report gives their ratio:
// how much slower ldapbridge is than the raw LDAP floor. Usage:
//
//	go test -run '^$' -bench . ./bench | go run ./internal/benchreport -o BENCHMARKS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
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
		if p == "ldapbridge" || p == "raw" {
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
  store write) by 1 and 4 concurrent clients against slapd, no cache, next
  to the raw floor: the same three LDAP operations with go-ldap on
  connections opened beforehand. Target: overhead at most 1.5x; at most 3
  LDAP operations per login.
- **SyncFull** — full sync of a generated directory (100,000 users, 5,000
  groups, each user in 1–3 groups, some nested; loaded with slapadd) into an
  empty SQLite store, next to a paged go-ldap read of the same entries that
  discards them. Target: at most 3x.
- **SyncFullPostgres** — the same into an empty PostgreSQL database.
- **SyncRerun** — a second full sync with no directory change. Target: 1.5x.
- **SyncIncremental** — an incremental run with no change. Target: at most 3
  LDAP searches.
- peak-RSS-MB is the process's peak resident set so far (an upper bound for
  the benchmark it stands beside). Target: under 300 MB.
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

func main() {
	outPath := flag.String("o", "BENCHMARKS.md", "report file to write")
	command := flag.String("command", "./scripts/bench", "the command that produced the input, for the report")
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
	b.WriteString("go-ldap floor measured in the same run against the same server; the ratio is\nraw throughput / ldapbridge throughput (1.00x = no overhead).\n\n## Machine\n\n")
	for _, l := range machine() {
		b.WriteString(l + "\n")
	}
	b.WriteString(legend)
	b.WriteString("\n## Results\n\n| benchmark | params | N | ldapbridge | raw floor | overhead | other metrics |\n|---|---|---|---|---|---|---|\n")
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
	for _, k := range keys {
		ours := byKey[k+"\x00ldapbridge"]
		fam, params, _ := strings.Cut(k, "\x00")
		ourRate, unit := rate(ours)
		rawCell, ratioCell := "—", "—"
		if floor, ok := byKey[k+"\x00raw"]; ok {
			floorRate, _ := rate(floor)
			rawCell = fmt.Sprintf("%.0f %s", floorRate, unit)
			if ourRate > 0 {
				ratioCell = fmt.Sprintf("%.2fx", floorRate/ourRate)
			}
		}
		var other []string
		for _, u := range ours.Units {
			if u != unit && u != "ns/op" {
				other = append(other, fmt.Sprintf("%.4g %s", ours.Metrics[u], u))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f %s | %s | %s | %s |\n", fam, params, ours.N, ourRate, unit, rawCell, ratioCell, strings.Join(other, ", "))
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
