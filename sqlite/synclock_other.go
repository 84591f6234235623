//go:build !unix

package sqlite

import (
	"sync"
)

// Without flock the sync lock covers this process only: a table of the
// lock files it holds.
var (
	heldMu sync.Mutex
	held   = map[string]holder{}
)

func lockFile(path string) (release func(), busy *holder, err error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	if h, ok := held[path]; ok {
		return nil, &h, nil
	}
	held[path] = thisProcess()
	var once sync.Once
	return func() {
		once.Do(func() {
			heldMu.Lock()
			delete(held, path)
			heldMu.Unlock()
		})
	}, nil, nil
}

// processAlive cannot tell here; it assumes the process lives.
func processAlive(int) bool { return true }
