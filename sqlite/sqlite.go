// Package sqlite is the SQLite implementation of ldapbridge.Store, built on
// the pure-Go driver modernc.org/sqlite (no cgo).
//
// A Store holds two connection pools on the same database: one connection
// for writes, whose transactions begin IMMEDIATE so writers queue instead of
// failing, and a pool of query-only connections for reads. With a file
// database in WAL mode, readers never wait for the writer. An in-memory
// database (":memory:") is one database shared by all connections of the
// Store; it has no WAL, so there a write transaction makes readers wait (up
// to the busy timeout) until it ends.
//
// Case-insensitive matching (email, DN, ListUsers search) folds ASCII
// letters only, as SQLite's lower() does.
//
// sqlite must not import web, auth, dirsync or the LDAP driver.
package sqlite

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
	msqlite "modernc.org/sqlite"
)

// busyTimeout is how long a connection waits for a lock before SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is an ldapbridge.Store on SQLite. A Store returned by Open is safe
// for concurrent use; the Store passed to an InTx callback belongs to that
// transaction and must not outlive it.
type Store struct {
	*sqlcore.Store
	name string  // the dsn as given, for messages
	w    *sql.DB // one connection; all writes
	r    *sql.DB // query-only pool; reads outside a transaction
	keep *sql.Conn

	closed bool

	// lockPath is the sync lock file next to the database, "" in memory;
	// mem is the sync lock of an in-memory database. See TryLockSyncRun.
	lockPath string
	mem      *memLock

	tx    *sql.Tx
	mu    sync.Mutex
	stmts map[string]*sql.Stmt

	// rc and wc keep statements prepared once for the life of the Store:
	// parsing SQL is a large share of a small query's cost.
	rc, wc *stmtCache
	// missed lists queries a transaction had to prepare itself; they join
	// wc after it ends, when the write connection is free again.
	missed []string
}

// stmtCache prepares each query once on a database and keeps it.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.lookup(q); ok {
		return st, nil
	}
	// Prepared without the lock: preparing may wait for a connection that
	// a transaction holds, and that transaction may need lookup meanwhile.
	st, err := c.db.PrepareContext(ctx, placeholders(q))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok {
		st.Close()
		return prev, nil
	}
	c.m[q] = st
	return st, nil
}

// lookup returns a statement prepared earlier, without preparing.
func (c *stmtCache) lookup(q string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[q]
	return st, ok
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

var _ ldapbridge.Store = (*Store)(nil)

// Open opens (creating if needed) the database named by dsn: a file path,
// ":memory:" or a "file:" URI. A database file it creates gets mode 0600
// (FileMode), and so do its -wal and -shm files; an existing file keeps its
// mode. It does not migrate; call Migrate. It fails when the database's
// schema is newer than this binary knows.
func Open(ctx context.Context, dsn string) (*Store, error) {
	wdsn, rdsn, err := connStrings(dsn)
	if err != nil {
		return nil, err
	}
	if path := FilePath(dsn); path != "" && !readOnlyURI(dsn) {
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	s := &Store{name: dsn, lockPath: syncLockPath(dsn), mem: &memLock{}}
	if s.w, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", dsn, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	// The write connection is opened first: it switches a file database to
	// WAL before any reader connects.
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w — check that the directory exists and is writable", dsn, err)
	}
	if s.r, err = sql.Open("sqlite", rdsn); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", dsn, err)
	}
	n := max(4, runtime.NumCPU()) + 1
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.r.SetConnMaxIdleTime(0)
	s.r.SetConnMaxLifetime(0)
	// An in-memory database lives as long as one connection to it is open;
	// the pinned read connection keeps it alive between uses.
	if s.keep, err = s.r.Conn(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", dsn, err)
	}
	s.rc, s.wc = newStmtCache(s.r), newStmtCache(s.w)
	s.Store = sqlcore.New(conn{s}, dialect)
	if err := s.checkVersion(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connStrings builds the driver DSNs of the write and the read pools.
func connStrings(dsn string) (write, read string, err error) {
	if strings.TrimSpace(dsn) == "" {
		return "", "", errors.New("sqlite: empty dsn — set store.dsn to a file path, :memory: or a file: URI")
	}
	base, wal := dsn, true
	if dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:") {
		// The memdb VFS shares one in-memory database between connections
		// that open the same name starting with "/".
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("sqlite: name in-memory database: %w", err)
		}
		base, wal = "file:/ldapbridge-"+hex.EncodeToString(b[:])+"?vfs=memdb", false
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)",
		busyTimeout.Milliseconds())
	// The writer's page cache holds a sync batch's working set (16 MiB
	// instead of 2): with the default, a batch read index pages back one
	// pread at a time. Statement journals (a statement's undo within a
	// transaction) stay in memory instead of a temporary file: a sync's
	// multi-row statements wrote a tenth of their CPU time there.
	write = base + sep + common + "&_txlock=immediate&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)"
	if wal {
		write += "&_pragma=journal_mode(WAL)"
	}
	read = base + sep + common + "&_pragma=query_only(1)"
	return write, read, nil
}

// Close closes the database; closing twice is no error. On a Store bound to a transaction it does
// nothing: the transaction ends when the InTx callback returns.
func (s *Store) Close() error {
	if s.tx != nil || s.closed {
		return nil
	}
	s.closed = true
	if s.rc != nil {
		s.rc.close()
		s.wc.close()
	}
	var errs []error
	if s.keep != nil {
		errs = append(errs, s.keep.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// InTx runs fn with a Store whose calls share one write transaction,
// committed when fn returns nil and rolled back otherwise (or on panic).
// On a Store already bound to a transaction, fn reuses it. Inside fn use
// only tx: the outer Store's writes wait for the transaction to end.
func (s *Store) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.inTx(ctx, func(t *Store) error { return fn(t) })
}

func (s *Store) inTx(ctx context.Context, fn func(t *Store) error) (err error) {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin transaction: %w", err)
	}
	t := &Store{name: s.name, w: s.w, tx: tx, stmts: map[string]*sql.Stmt{}, wc: s.wc, lockPath: s.lockPath, mem: s.mem}
	t.Store = sqlcore.New(conn{t}, dialect)
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	for _, q := range t.missed {
		s.wc.get(ctx, q) // an error here only means the next transaction prepares it again
	}
	return nil
}

// stmt returns the transaction's prepared statement for q, preparing it on
// first use so that bulk calls inside one transaction reuse it.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	// The write pool has one connection, held by this transaction: a
	// statement cached on it is reused; a new one is prepared on the
	// transaction (preparing on the pool would wait for the connection
	// this transaction holds) and cached once the transaction ends.
	var st *sql.Stmt
	if base, ok := s.wc.lookup(q); ok {
		st = s.tx.StmtContext(ctx, base)
	} else {
		var err error
		if st, err = s.tx.PrepareContext(ctx, placeholders(q)); err != nil {
			return nil, err
		}
		s.missed = append(s.missed, q)
	}
	s.stmts[q] = st
	return st, nil
}

// prepared is the statement for q: the transaction's, or one kept on the
// write connection or the read pool.
func (s *Store) prepared(ctx context.Context, q string, write bool) (*sql.Stmt, error) {
	switch {
	case s.tx != nil:
		return s.stmt(ctx, q)
	case write:
		return s.wc.get(ctx, q)
	}
	return s.rc.get(ctx, q)
}

// row runs a query of one row: a read outside InTx uses the read pool.
func (s *Store) row(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, q, false)
	switch {
	case err == nil:
		return st.QueryRowContext(ctx, args...)
	case s.tx != nil: // a Row cannot carry err; the unprepared query reports it
		return s.tx.QueryRowContext(ctx, placeholders(q), args...)
	}
	return s.r.QueryRowContext(ctx, placeholders(q), args...)
}

// placeholders turns the core's $N parameters into SQLite's ?N.
func placeholders(q string) string { return strings.ReplaceAll(q, "$", "?") }

// conn is the Store as the SQL core's DB: writes outside InTx are their own
// (autocommit) transaction on the write connection; reads use the
// transaction when bound to one, else the read pool.
type conn struct{ s *Store }

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

// Exec runs a statement without parameters (a migration script, perhaps
// of several statements) as it is, without keeping it prepared.
func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	switch st := (*sql.Stmt)(nil); {
	case len(args) > 0:
		if st, err = c.s.prepared(ctx, q, true); err == nil {
			res, err = st.ExecContext(ctx, args...)
		}
	case c.s.tx != nil:
		res, err = c.s.tx.ExecContext(ctx, q)
	default:
		res, err = c.s.w.ExecContext(ctx, q)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	st, err := c.s.prepared(ctx, q, false)
	if err != nil {
		return nil, err
	}
	r, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return c.s.row(ctx, q, args...)
}

func (c conn) Insert(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := c.s.prepared(ctx, q, true)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, cmp.Or(err, sql.ErrNoRows)
	}
	return res.LastInsertId()
}

func (c conn) InTx(ctx context.Context, fn func(sqlcore.DB) error) error {
	return c.s.inTx(ctx, func(t *Store) error { return fn(conn{t}) })
}

// Sessions is the web session store of a database (see Store.Sessions).
type Sessions = sqlcore.Sessions

// dialect is what SQLite does its own way: times are unix milliseconds,
// session expiries unix seconds, id lists JSON arrays.
var dialect = &sqlcore.Dialect{
	Name:   "sqlite",
	Time:   func(t time.Time) any { return t.UnixMilli() },
	Expiry: func(t time.Time) any { return unixSeconds(t) },
	Kind:   errorKind,
	IDs: func(ids []int64) any {
		if ids == nil {
			ids = []int64{}
		}
		b, _ := json.Marshal(ids)
		return string(b)
	},
	Unnest: func(p ...string) string {
		if len(p) == 1 {
			return `(SELECT value AS a FROM json_each(` + p[0] + `)) AS e`
		}
		// Not a JOIN of two json_each on their keys: SQLite cannot index
		// json_each, so that join re-parses the second list for every row
		// (quadratic; a 20,000-user sync spent 15 s in it). `->>` by index
		// reuses SQLite's cached parse of the list: linear.
		return `(SELECT x.value AS a, ` + p[1] + ` ->> x.key AS b FROM json_each(` + p[0] + `) x) AS e`
	},
	// Edges go as one list of [a, b] pairs: reading two lists in step by
	// position (`->>` by index, as Unnest does) walks the second list from
	// its start for every element, which made a 5,000-edge chunk cost
	// 84 µs per edge; a pair is read in constant time.
	Pairs: func(a, b []int64) any {
		var sb strings.Builder
		sb.WriteByte('[')
		for i := range a {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('[')
			sb.WriteString(strconv.FormatInt(a[i], 10))
			sb.WriteByte(',')
			sb.WriteString(strconv.FormatInt(b[i], 10))
			sb.WriteByte(']')
		}
		sb.WriteByte(']')
		return sb.String()
	},
	UnnestPairs: func(p string) string {
		return `(SELECT x.value ->> 0 AS a, x.value ->> 1 AS b FROM json_each(` + p + `) x) AS e`
	},
	BindLimit:     64,
	AnonParams:    1000,
	HasMigrations: `SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`,
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// errorKind maps SQLite's extended result codes to ldapbridge error kinds.
func errorKind(err error) error {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
			return ldapbridge.ErrConflict
		case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
			return ldapbridge.ErrNotFound
		}
	}
	return nil
}
