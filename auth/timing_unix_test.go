//go:build unix

package auth

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestFailedLoginsTakeTheSameTimeForEveryKindOfName proves that a local
// (break-glass) account cannot be found by timing: a wrong password for a
// local account, for a directory user, and any password for an unknown
// name cost the same password-hash work. The argon2id costs are scaled
// down so the test stays cheap; the ratio is what matters.
//
// Each try is measured in the CPU time of this process, which is the work
// a login does (the fake directory never waits), and is not stretched by
// other processes on a busy machine the way wall time is; wall-time medians
// are logged next to it.
func TestFailedLoginsTakeTheSameTimeForEveryKindOfName(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	params := HashParams{Time: 1, MemoryKiB: 16 * 1024, Threads: 1}
	a, err := New(u.a.cfg, u.dir, u.store, Options{Groups: u.groups, HashParams: params})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.AddLocal(ctx, "breakglass", "right-password", true, true); err != nil {
		t.Fatal(err)
	}
	kinds := []struct{ name, user string }{
		{"local account, wrong password", "breakglass"},
		{"directory user, wrong password", "jdoe"},
		{"unknown name", "nobody-here"},
	}
	const tries = 20
	cpu := make([][]time.Duration, len(kinds))
	wall := make([][]time.Duration, len(kinds))
	// Interleave the kinds so whatever else happens hits them alike.
	for range tries + 1 {
		for k, kind := range kinds {
			c0, w0 := cpuTime(t), time.Now()
			res, err := a.Authenticate(ctx, kind.user, "wrong-password")
			w, c := time.Since(w0), cpuTime(t)-c0
			if err != nil || res.Authenticated {
				t.Fatalf("%s: %+v, %v", kind.name, res, err)
			}
			cpu[k], wall[k] = append(cpu[k], c), append(wall[k], w)
		}
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds[1:]) // the first try of a kind may make the dummy hash
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	medians := make([]time.Duration, len(kinds))
	for k := range kinds {
		medians[k] = median(cpu[k])
		t.Logf("%-32s median CPU %v, wall %v", kinds[k].name, medians[k], median(wall[k]))
	}
	lo, hi := slices.Min(medians), slices.Max(medians)
	if float64(hi) > 1.2*float64(lo) {
		t.Errorf("CPU-time medians differ by more than 20%%: %v (slowest %v, fastest %v)", medians, hi, lo)
	}
}
