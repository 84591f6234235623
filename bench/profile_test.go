package bench

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
)

// cpuProfile starts a CPU profile of the measured part of b when
// BENCH_PROFILE names a directory, written there as the benchmark's name
// (slashes as dots) with .pprof; the last run of a benchmark wins. It
// returns the function that stops it. scripts/bench turns the profiles
// into the "where the time goes" tables of BENCHMARKS.md.
func cpuProfile(b *testing.B) (stop func()) {
	dir := os.Getenv("BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", ".", "=", "", " ", "_").Replace(strings.TrimPrefix(b.Name(), "Benchmark"))
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
