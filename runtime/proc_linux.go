package runtime

import (
	"errors"
	"os"
	"strconv"
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

// fdExecPath returns the path that executes the open file f itself
// (/proc/self/fd/N), for an ELF binary when /proc is mounted. Not for a #!
// script: the kernel would hand its interpreter that path, which names
// nothing once the descriptor is closed on exec, so the script would not
// run at all. f must stay open until the child has exec'd; as it is
// close-on-exec, it is not inherited by the plugin.
func fdExecPath(f *os.File) (string, bool) {
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "\x7fELF" {
		return "", false
	}
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}
