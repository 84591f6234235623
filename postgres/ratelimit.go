package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// RateLimiter counts sign-in attempts per key in the rate_limits table, so
// every instance on this database enforces one shared limit. It implements
// web.RateLimiter with the semantics of web.MemoryLimiter (a sliding log of
// event times) and uses the database clock, so instances whose clocks
// differ still agree.
type RateLimiter struct {
	s     *Store
	calls atomic.Uint64
}

// RateLimiter returns the shared sign-in rate limiter of this database.
func (s *Store) RateLimiter() *RateLimiter { return &RateLimiter{s: s} }

// sweepEvery is how many Allow calls pass between deletions of expired keys.
const sweepEvery = 1024

// allowSQL prunes the key's events older than the window and appends this
// one when fewer than $2 remain, in one atomic upsert. SET expressions see
// the row as it was, so allowed and events agree.
const allowSQL = `INSERT INTO rate_limits AS r (key, events, allowed, expires_at)
VALUES ($1, ARRAY[statement_timestamp()], true, statement_timestamp() + $3::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET
	allowed = cardinality(ARRAY(SELECT e FROM unnest(r.events) e
		WHERE e > statement_timestamp() - $3::bigint * interval '1 microsecond')) < $2,
	events = ARRAY(SELECT e FROM unnest(r.events) e
		WHERE e > statement_timestamp() - $3::bigint * interval '1 microsecond' ORDER BY e)
		|| CASE WHEN cardinality(ARRAY(SELECT e FROM unnest(r.events) e
			WHERE e > statement_timestamp() - $3::bigint * interval '1 microsecond')) < $2
		THEN ARRAY[statement_timestamp()] ELSE ARRAY[]::timestamptz[] END,
	expires_at = statement_timestamp() + $3::bigint * interval '1 microsecond'
RETURNING allowed, events, statement_timestamp()`

// Allow counts one event for key and reports whether it is within r; a
// refused event is not counted, and retryAfter says when the next one would
// be allowed (at least a second). A Rate with N <= 0 allows everything.
func (l *RateLimiter) Allow(ctx context.Context, key string, r config.Rate) (bool, time.Duration, error) {
	if r.N <= 0 || r.Per <= 0 {
		return true, 0, nil
	}
	if l.calls.Add(1)%sweepEvery == 0 {
		if _, err := l.DeleteExpired(ctx); err != nil {
			return false, 0, err
		}
	}
	var (
		ok     bool
		events []time.Time
		now    time.Time
	)
	err := l.s.pool.QueryRow(ctx, allowSQL, key, r.N, r.Per.Microseconds()).Scan(&ok, &events, &now)
	if err != nil {
		return false, 0, wrap(err, "sign-in rate limit")
	}
	if ok {
		return true, 0, nil
	}
	retry := time.Second
	if len(events) >= r.N {
		retry = max(events[len(events)-r.N].Add(r.Per).Sub(now), time.Second)
	}
	return false, retry, nil
}

// Reset forgets every event counted for key.
func (l *RateLimiter) Reset(ctx context.Context, key string) error {
	_, err := l.s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE key = $1`, key)
	return wrap(err, "reset sign-in rate limit")
}

// DeleteExpired removes the keys whose events are all outside their window
// and returns how many.
func (l *RateLimiter) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := l.s.pool.Exec(ctx, `DELETE FROM rate_limits WHERE expires_at < statement_timestamp()`)
	if err != nil {
		return 0, wrap(err, "delete expired sign-in rate limits")
	}
	return tag.RowsAffected(), nil
}
