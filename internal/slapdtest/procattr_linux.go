package slapdtest

import "syscall"

// childAttr makes the kernel kill slapd if the test binary dies first.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
