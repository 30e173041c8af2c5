package client

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Its own process group, so that killing the group kills whatever
		// the program started too.
		Setpgid: true,
		// Should jplan itself die without closing its clients, the
		// programs die with it instead of running on, unsupervised.
		Pdeathsig: syscall.SIGKILL,
	}
}

const canWaitNoReap = true

// waitExitNoReap blocks until pid has exited but leaves it a zombie, so
// its pid (the process group's id) stays reserved until it is reaped.
func waitExitNoReap(pid int) {
	for {
		var si unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
