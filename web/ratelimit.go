package web

import (
	"context"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// RateLimiter counts events per key within a rolling window. The web app
// uses it for sign-in limits; MemoryLimiter is the in-process one, and a
// shared implementation (e.g. in PostgreSQL) can replace it when several
// instances serve the same users.
type RateLimiter interface {
	// Allow counts one event for key and reports whether it is within r.
	// When it is not, the event is not counted and retryAfter says when
	// the next one would be allowed. A Rate with N <= 0 allows everything.
	Allow(ctx context.Context, key string, r config.Rate) (ok bool, retryAfter time.Duration, err error)
	// Reset forgets every event counted for key (after a successful sign-in).
	Reset(ctx context.Context, key string) error
}

// MemoryLimiter is a RateLimiter that keeps a sliding log of event times per
// key in memory. It is safe for concurrent use.
type MemoryLimiter struct {
	now func() time.Time

	mu     sync.Mutex
	events map[string][]time.Time
	calls  int
}

// NewMemoryLimiter returns an empty in-process limiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{now: time.Now, events: map[string][]time.Time{}}
}

// sweepEvery is how many Allow calls pass between sweeps of expired keys, so
// memory stays bounded by the keys active within the longest window.
const sweepEvery = 1024

// maxWindow bounds how long a sweep keeps a key's events; longer windows are
// still enforced for keys touched since.
const maxWindow = 24 * time.Hour

// Allow implements RateLimiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string, r config.Rate) (bool, time.Duration, error) {
	if r.N <= 0 || r.Per <= 0 {
		return true, 0, nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%sweepEvery == 0 {
		l.sweep(now)
	}
	log := prune(l.events[key], now.Add(-r.Per))
	if len(log) >= r.N {
		l.events[key] = log
		retry := log[len(log)-r.N].Add(r.Per).Sub(now)
		return false, max(retry, time.Second), nil
	}
	l.events[key] = append(log, now)
	return true, 0, nil
}

// Reset implements RateLimiter.
func (l *MemoryLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	delete(l.events, key)
	l.mu.Unlock()
	return nil
}

func (l *MemoryLimiter) sweep(now time.Time) {
	for k, log := range l.events {
		if len(log) == 0 || now.Sub(log[len(log)-1]) > maxWindow {
			delete(l.events, k)
		}
	}
}

// prune drops the events at or before cutoff; log is in time order.
func prune(log []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(log) && !log[i].After(cutoff) {
		i++
	}
	if i == 0 {
		return log
	}
	return append(log[:0:0], log[i:]...)
}
