//go:build !linux

package sambatest

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }

func lockFile(string) (func(), error) { return func() {}, nil }
