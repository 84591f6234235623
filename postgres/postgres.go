// Package postgres is the PostgreSQL implementation of ldapbridge.Store,
// built on github.com/jackc/pgx/v5 and its pool. Several ldapbridge
// instances may share one database: migrations serialize on an advisory
// lock, and the package also provides the web session store (Sessions) and
// a sign-in rate limiter whose counts every instance shares (RateLimiter).
//
// It keeps the sqlite package's semantics: text compares and sorts by bytes
// (COLLATE "C"), email, DN and search matching fold ASCII letters only,
// times are UTC at millisecond precision. A write that fails for an
// expected reason (not found, conflict) inside InTx does not abort the
// PostgreSQL transaction: such cases are checked before writing, and the
// constraints remain only as a backstop against concurrent writers.
//
// postgres must not import web, auth, dirsync or the LDAP driver.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
)

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is an ldapbridge.Store on PostgreSQL. A Store returned by Open is
// safe for concurrent use; the Store passed to an InTx callback belongs to
// that transaction, must be used by one goroutine at a time and must not
// outlive the callback.
type Store struct {
	*sqlcore.Store
	pool *pgxpool.Pool
	addr string // host:port, for messages (the DSN may hold a password)
	q    querier
	tx   pgx.Tx
}

var _ ldapbridge.Store = (*Store)(nil)

// connectTimeout bounds each attempt to open a connection.
const connectTimeout = 10 * time.Second

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string), checks that it answers and that its schema
// is not newer than this binary. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: empty dsn — set store.dsn to a URL like postgres://user@127.0.0.1:5432/ldapbridge")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("postgres: cannot parse the dsn — use postgres://user:password@host:5432/dbname or key=value pairs")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// Idle connections are replaced over time, so a pool recovers by itself
	// after the server restarts; a failed health check drops a connection.
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.MaxConnIdleTime = 5 * time.Minute
	s := &Store{addr: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))}
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		s.addr = cfg.ConnConfig.Host
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect to postgres at %s: %w", s.addr, err)
	}
	s.q = s.pool
	s.Store = sqlcore.New(conn{s}, dialect)
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, s.connectError(err)
	}
	if err := s.checkVersion(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// connectError explains a failure to reach the server.
func (s *Store) connectError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "3D000":
			return fmt.Errorf("connect to postgres at %s: %s — create the database (createdb) or fix its name in store.dsn", s.addr, pe.Message)
		case "28P01", "28000":
			return fmt.Errorf("connect to postgres at %s: %s — check the user and password in store.dsn", s.addr, pe.Message)
		}
		return fmt.Errorf("connect to postgres at %s: %w", s.addr, err)
	}
	// pgx reports every address and TLS attempt; the network error says it.
	var ne *net.OpError
	if errors.As(err, &ne) {
		return fmt.Errorf("connect to postgres at %s: %w — is PostgreSQL running?", s.addr, ne)
	}
	return fmt.Errorf("connect to postgres at %s: %w — is PostgreSQL running?", s.addr, err)
}

// Close closes the pool; closing twice is no error. On a Store bound to a
// transaction it does nothing: the transaction ends when InTx returns.
func (s *Store) Close() error {
	if s.tx == nil {
		s.pool.Close()
	}
	return nil
}

// Addr is the server address from the DSN (host:port or socket directory).
func (s *Store) Addr() string { return s.addr }

// InTx runs fn with a Store whose calls share one transaction, committed
// when fn returns nil and rolled back otherwise (or on panic). On a Store
// already bound to a transaction, fn reuses it.
func (s *Store) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.inTx(ctx, func(t *Store) error { return fn(t) })
}

func (s *Store) inTx(ctx context.Context, fn func(t *Store) error) (err error) {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin transaction on %s: %w", s.addr, err)
	}
	t := &Store{pool: s.pool, addr: s.addr, q: tx, tx: tx}
	t.Store = sqlcore.New(conn{t}, dialect)
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			return errors.Join(err, fmt.Errorf("postgres: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// conn is the Store as the SQL core's DB.
type conn struct{ s *Store }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.s.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := c.s.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return c.s.q.QueryRow(ctx, q, args...)
}

func (c conn) Insert(ctx context.Context, q string, args ...any) (id int64, err error) {
	err = c.s.q.QueryRow(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

func (c conn) InTx(ctx context.Context, fn func(sqlcore.DB) error) error {
	return c.s.inTx(ctx, func(t *Store) error { return fn(conn{t}) })
}

// Sessions is the web session store of a database (see Store.Sessions).
type Sessions = sqlcore.Sessions

// dialect is what PostgreSQL does its own way: times are timestamptz, id
// lists bigint arrays.
var dialect = &sqlcore.Dialect{
	Name:   "postgres",
	Time:   func(t time.Time) any { return ms(t) },
	Expiry: func(t time.Time) any { return t.UTC() },
	Kind:   errorKind,
	IDs: func(ids []int64) any {
		if ids == nil {
			return []int64{} // an empty array, not NULL
		}
		return ids
	},
	Unnest: func(p ...string) string {
		if len(p) == 1 {
			return `unnest(` + p[0] + `::bigint[]) AS e(a)`
		}
		return `unnest(` + p[0] + `::bigint[], ` + p[1] + `::bigint[]) AS e(a, b)`
	},
	HasMigrations: `SELECT to_regclass('schema_migrations') IS NOT NULL`,
	LockRows:      ` FOR UPDATE SKIP LOCKED`,
}

// errorKind maps PostgreSQL error codes to ldapbridge error kinds.
func errorKind(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return ldapbridge.ErrConflict
		case "23503": // foreign_key_violation
			return ldapbridge.ErrNotFound
		}
	}
	return nil
}

func wrap(err error, what string) error { return dialect.Wrap(err, what) }

// ms is t as the store keeps it: UTC at millisecond precision.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// now is the current time at the precision the store keeps.
func now() time.Time { return sqlcore.Now() }
