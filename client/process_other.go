//go:build unix && !linux

package client

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

const canWaitNoReap = false

func waitExitNoReap(pid int) {}
