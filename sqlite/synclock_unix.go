//go:build unix

package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// lockAttempts bounds how often lockFile reads a busy lock file whose
// holder it cannot name yet (just taken, or just being released).
const lockAttempts = 5

// lockFile takes an exclusive flock on path without waiting. When another
// open file holds it, busy describes the holder (PID 0 when the file does
// not say).
func lockFile(path string) (release func(), busy *holder, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: sync lock %s: %w — check that the database's directory is writable", path, err)
	}
	for attempt := 1; ; attempt++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, nil, fmt.Errorf("sqlite: sync lock %s: flock: %w — keep the database on a local file system", path, err)
		}
		b, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
		if h, ok := parseHolder(b); ok || attempt == lockAttempts {
			f.Close()
			if !ok {
				h = holder{}
			}
			return nil, &h, nil
		}
		// The holder has not written itself yet, or is releasing.
		time.Sleep(20 * time.Millisecond)
	}
	// Overwrite, then cut: a reader never sees an empty file while held.
	b, _ := json.Marshal(thisProcess())
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Truncate(int64(len(b)))
	}
	if err != nil {
		f.Close() // releases the lock
		return nil, nil, fmt.Errorf("sqlite: sync lock %s: record the holder: %w", path, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			f.Truncate(0) // the file says nobody holds it
			f.Close()     // releases the flock
		})
	}, nil, nil
}

// processAlive reports whether a process with this pid exists on this host.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
