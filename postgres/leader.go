package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// syncLeaderKey is the session-level advisory lock held by the instance
// that runs scheduled syncs ("ldsyncld" in ASCII).
const syncLeaderKey int64 = 0x6c6473796e636c64

// tickRetention is how long claimed ticks are kept.
const tickRetention = 7 * 24 * time.Hour

// Leader elects, among the instances sharing a database, the one that runs
// scheduled syncs. Leadership is a session-level advisory lock on a
// connection of its own: it is kept until Close, and released by the
// server when the process dies or its connection drops, so another
// instance takes over at its next Claim. A Leader is safe for concurrent use.
type Leader struct {
	s        *Store
	instance string
	mu       sync.Mutex
	conn     *pgx.Conn
	held     bool
}

// Leader returns the sync leadership of this Store's database for the
// instance named instance (recorded with each claimed tick).
func (s *Store) Leader(instance string) *Leader {
	return &Leader{s: s, instance: instance}
}

// Claim reports whether this instance should run the scheduled sync of
// tick: it holds (or has just taken) the leadership and no instance has
// claimed tick before. A true result records the claim.
func (l *Leader) Claim(ctx context.Context, tick time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.hold(ctx); err != nil || !l.held {
		return false, err
	}
	tag, err := l.conn.Exec(ctx, `INSERT INTO sync_ticks (tick, instance, claimed_at) VALUES ($1, $2, $3)
ON CONFLICT (tick) DO NOTHING`, ms(tick), l.instance, now())
	if err != nil {
		l.drop()
		return false, wrap(err, "claim sync tick "+tick.UTC().Format(time.RFC3339))
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if _, err := l.conn.Exec(ctx, `DELETE FROM sync_ticks WHERE tick < $1`, ms(tick.Add(-tickRetention))); err != nil {
		return true, wrap(err, "delete old sync ticks")
	}
	return true, nil
}

// IsLeader reports whether this instance held the leadership at its last
// Claim.
func (l *Leader) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Lead reports whether this instance holds the sync leadership, taking it
// when it is free, without claiming a tick: the live mirror (sync.live)
// asks it before it holds its stream and while it does, so only the sync
// leader keeps one.
func (l *Leader) Lead(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.hold(ctx); err != nil {
		return false, err
	}
	return l.held, nil
}

// hold makes sure l has a live connection and tries to take the lock when
// it does not hold it. A lost connection loses the lock with it.
func (l *Leader) hold(ctx context.Context) error {
	if l.conn != nil {
		if err := l.conn.Ping(ctx); err != nil {
			l.drop()
		}
	}
	if l.conn == nil {
		cc := l.s.pool.Config().ConnConfig.Copy()
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			return fmt.Errorf("sync leadership: %w", l.s.connectError(err))
		}
		l.conn = conn
	}
	if l.held {
		return nil
	}
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, syncLeaderKey).Scan(&l.held); err != nil {
		l.drop()
		return wrap(err, "take the sync leadership lock on "+l.s.addr)
	}
	return nil
}

// drop closes the connection; the server releases the lock with it.
func (l *Leader) drop() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.conn.Close(ctx)
	}
	l.conn, l.held = nil, false
}

// Close gives up the leadership at once; the next Claim takes it again if
// free.
func (l *Leader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		// The server would release the lock only once the backend exits.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, syncLeaderKey)
	}
	l.drop()
	return nil
}

// syncRunKey is held, session-level, by whichever session is running a
// sync against the database ("ldsyncru" in ASCII).
const syncRunKey int64 = 0x6c6473796e637275

// TryLockSyncRun takes the lock that keeps two syncs on this database (from
// any instance, scheduled or on demand) from running at once. It holds a
// pooled connection until unlock is called; ok is false, with no error,
// when another session holds the lock. A process that dies releases it.
func (s *Store) TryLockSyncRun(ctx context.Context) (unlock func(), ok bool, err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: sync lock: %w", s.connectError(err))
	}
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, syncRunKey).Scan(&ok); err != nil || !ok {
		c.Release()
		return nil, false, wrap(err, "take the sync lock on "+s.addr)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, syncRunKey); err != nil {
			c.Conn().Close(ctx) // the pool drops a closed connection, and the lock with it
		}
		c.Release()
	}, true, nil
}
