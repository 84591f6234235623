package auth

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// TestFailedLoginsTakeTheSameTimeForEveryKindOfName proves that a local
// (break-glass) account cannot be found by timing: a wrong password for a
// local account, for a directory user, and any password for an unknown
// name cost the same password-hash work. The argon2id costs are scaled
// down so the test stays cheap; the ratio is what matters.
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
	times := make([][]time.Duration, len(kinds))
	// Interleave the kinds so machine noise hits them alike.
	for range tries + 1 {
		for k, kind := range kinds {
			start := time.Now()
			res, err := a.Authenticate(ctx, kind.user, "wrong-password")
			d := time.Since(start)
			if err != nil || res.Authenticated {
				t.Fatalf("%s: %+v, %v", kind.name, res, err)
			}
			times[k] = append(times[k], d)
		}
	}
	medians := make([]time.Duration, len(kinds))
	for k := range kinds {
		ts := times[k][1:] // the first try of a kind may make the dummy hash
		slices.Sort(ts)
		medians[k] = ts[len(ts)/2]
		t.Logf("%-32s median %v", kinds[k].name, medians[k])
	}
	lo, hi := slices.Min(medians), slices.Max(medians)
	if float64(hi) > 1.2*float64(lo) {
		t.Errorf("medians differ by more than 20%%: %v (slowest %v, fastest %v)", medians, hi, lo)
	}
}

func TestSuccessfulDirectoryLoginDoesNoDummyHashWork(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	a, err := New(u.a.cfg, u.dir, u.store, Options{Groups: u.groups})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Authenticate(context.Background(), "jdoe", "secret")
	if err != nil || res.Outcome != OK {
		t.Fatalf("%+v, %v", res, err)
	}
	if a.dummyHash != "" {
		t.Error("a successful directory login made the dummy hash; it should cost nothing extra")
	}
}

func TestRefusalLogCutsAHugeUsername(t *testing.T) {
	u := newUnit(t, nil)
	var logged strings.Builder
	a, err := New(u.a.cfg, u.dir, u.store, Options{Groups: u.groups, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 60_000)
	if _, err := a.Authenticate(context.Background(), huge, "pw"); err != nil {
		t.Fatal(err)
	}
	if logged.Len() == 0 || logged.Len() > 2000 || !strings.Contains(logged.String(), "(60000 bytes)") {
		t.Errorf("log line of %d bytes for a 60 KB username: %.300q", logged.Len(), logged.String())
	}
}
