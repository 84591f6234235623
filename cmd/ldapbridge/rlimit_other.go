//go:build !unix

package main

// openFileLimit reports no limit where RLIMIT_NOFILE does not exist.
func openFileLimit() (limit uint64, ok bool) { return 0, false }
