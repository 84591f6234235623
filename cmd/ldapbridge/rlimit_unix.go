//go:build unix

package main

import "syscall"

// openFileLimit returns the process's soft limit on open files
// (RLIMIT_NOFILE); ok is false when it cannot be read or is unlimited.
func openFileLimit() (limit uint64, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == ^uint64(0) {
		return 0, false
	}
	return rl.Cur, true
}
