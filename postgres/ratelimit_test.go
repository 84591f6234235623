package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/web"
)

var _ web.RateLimiter = (*RateLimiter)(nil)

// twoInstances returns the limiters of two Stores on one fresh database.
func twoInstances(t *testing.T) (*RateLimiter, *RateLimiter) {
	t.Helper()
	dsn := pgtest.New(t)
	a := openTest(t, dsn)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return a.RateLimiter(), openTest(t, dsn).RateLimiter()
}

func TestRateLimitIsSharedByInstances(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	rate := config.Rate{N: 3, Per: time.Hour}
	for i, l := range []*RateLimiter{a, b, a} {
		if ok, _, err := l.Allow(ctx, "login-user:ann", rate); err != nil || !ok {
			t.Fatalf("attempt %d: ok=%v err=%v; want allowed", i+1, ok, err)
		}
	}
	for _, l := range []*RateLimiter{b, a} {
		ok, retry, err := l.Allow(ctx, "login-user:ann", rate)
		if err != nil || ok {
			t.Fatalf("4th attempt: ok=%v err=%v; want refused on either instance", ok, err)
		}
		if retry < 59*time.Minute || retry > time.Hour {
			t.Errorf("retryAfter %v, want just under an hour", retry)
		}
	}
	if ok, _, err := b.Allow(ctx, "login-user:bob", rate); err != nil || !ok {
		t.Errorf("another key: ok=%v err=%v; want allowed", ok, err)
	}
	if err := b.Reset(ctx, "login-user:ann"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := a.Allow(ctx, "login-user:ann", rate); err != nil || !ok {
		t.Errorf("after Reset on the other instance: ok=%v err=%v; want allowed", ok, err)
	}
}

func TestRateLimitWindowSlides(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	rate := config.Rate{N: 2, Per: 1500 * time.Millisecond}
	if ok, _, _ := a.Allow(ctx, "k", rate); !ok {
		t.Fatal("first attempt refused")
	}
	time.Sleep(700 * time.Millisecond)
	if ok, _, _ := b.Allow(ctx, "k", rate); !ok {
		t.Fatal("second attempt refused")
	}
	if ok, retry, _ := a.Allow(ctx, "k", rate); ok || retry != time.Second {
		t.Fatalf("third attempt: ok=%v retry=%v; want refused, retry floored at 1s", ok, retry)
	}
	time.Sleep(900 * time.Millisecond) // the first event has left the window
	if ok, _, err := b.Allow(ctx, "k", rate); err != nil || !ok {
		t.Fatalf("after the first event expired: ok=%v err=%v; want allowed", ok, err)
	}
	if ok, _, _ := a.Allow(ctx, "k", rate); ok {
		t.Error("a refused attempt was counted or the window did not slide: 3 events allowed in 1.5s")
	}
}

func TestRateLimitConcurrentAttemptsNeverExceedN(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	rate := config.Rate{N: 5, Per: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			ok, _, err := l.Allow(ctx, "login-ip:10.0.0.1", rate)
			if err != nil {
				t.Errorf("Allow: %v", err)
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != rate.N {
		t.Errorf("%d of 20 concurrent attempts allowed, want exactly %d", allowed, rate.N)
	}
}

func TestRateLimitZeroAllowsEverythingAndExpiredKeysAreDeleted(t *testing.T) {
	ctx := t.Context()
	a, _ := twoInstances(t)
	for i := range 10 {
		if ok, _, err := a.Allow(ctx, "free", config.Rate{}); err != nil || !ok {
			t.Fatalf("attempt %d with no limit refused: %v", i, err)
		}
	}
	for i := range 3 {
		if _, _, err := a.Allow(ctx, fmt.Sprintf("short%d", i), config.Rate{N: 1, Per: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.Allow(ctx, "long", config.Rate{N: 1, Per: time.Hour}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if n, err := a.DeleteExpired(ctx); err != nil || n != 3 {
		t.Errorf("DeleteExpired = %d, %v; want the 3 short-window keys", n, err)
	}
	if ok, _, _ := a.Allow(ctx, "long", config.Rate{N: 1, Per: time.Hour}); ok {
		t.Error("DeleteExpired forgot a key still inside its window")
	}
}
