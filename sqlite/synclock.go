package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SyncLockSuffix names the sync lock file: the database path plus this.
const SyncLockSuffix = ".sync-lock"

// SyncRunningError is TryLockSyncRun's refusal: another sync holds the
// lock of this database.
type SyncRunningError struct {
	PID   int       // the holder's process id, 0 when unknown
	Host  string    // the host it runs on
	Since time.Time // when it took the lock
	// LockFile is the lock file, "" for an in-memory database.
	LockFile string
}

func (e *SyncRunningError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("a sync is already running (it holds %s) — try again when it has finished", e.LockFile)
	}
	return fmt.Sprintf("a sync is already running (pid %d on %s since %s) — try again when it has finished",
		e.PID, e.Host, e.Since.Local().Format(time.RFC3339))
}

// holder is what the lock file says about the process holding it.
type holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

func thisProcess() holder {
	return holder{PID: os.Getpid(), Host: hostname(), Since: time.Now().Truncate(time.Second)}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// syncLockPath is the sync lock file of the database dsn names, made
// absolute so a later change of directory does not move it; "" in memory.
func syncLockPath(dsn string) string {
	p := FilePath(dsn)
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p + SyncLockSuffix
}

// memLock is the sync lock of an in-memory database, which only the
// Store that opened it can reach.
type memLock struct {
	mu   sync.Mutex
	held *holder
}

// TryLockSyncRun takes the lock that keeps two syncs on this database (from
// any process, scheduled or on demand) from running at once, without
// waiting. It returns the function that releases it; when another sync holds
// the lock, ok is false and err a *SyncRunningError naming that process.
//
// On a database file the lock is an exclusive flock(2) on the file named by
// the database path plus SyncLockSuffix, created next to it with mode 0600,
// which also records the holder's pid, host and start time. The kernel
// releases the lock when its holder exits, however it ends, so the lock of a
// dead process is taken over at once. (On systems without flock the lock
// covers only this process.) An in-memory database is locked per Store.
func (s *Store) TryLockSyncRun(ctx context.Context) (unlock func(), ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if s.lockPath == "" {
		return s.mem.tryLock()
	}
	release, busy, err := lockFile(s.lockPath)
	switch {
	case err != nil:
		return nil, false, err
	case busy != nil:
		return nil, false, &SyncRunningError{PID: busy.PID, Host: busy.Host, Since: busy.Since, LockFile: s.lockPath}
	}
	return release, true, nil
}

func (m *memLock) tryLock() (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held != nil {
		h := *m.held
		return nil, false, &SyncRunningError{PID: h.PID, Host: h.Host, Since: h.Since}
	}
	h := thisProcess()
	m.held = &h
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.held = nil
			m.mu.Unlock()
		})
	}, true, nil
}

// parseHolder reads a lock file's content; ok is false for an empty or
// unreadable one, or one naming a process of this host that is gone.
func parseHolder(b []byte) (holder, bool) {
	var h holder
	if len(b) == 0 || json.Unmarshal(b, &h) != nil || h.PID <= 0 {
		return h, false
	}
	if h.Host == hostname() && !processAlive(h.PID) {
		return h, false
	}
	return h, true
}
