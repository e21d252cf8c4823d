package runtime

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// canWaitNoReap: waitid with WNOWAIT is available.
const canWaitNoReap = true

func sysProcAttr() *syscall.SysProcAttr {
	// Pdeathsig: a plugctl killed with SIGKILL takes its plugin with it.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExitNoReap blocks until pid has exited, leaving it a zombie so that its
// pid (and process group id) stays reserved until the caller reaps it.
func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
