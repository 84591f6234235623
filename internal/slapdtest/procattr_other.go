//go:build !linux

package slapdtest

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
