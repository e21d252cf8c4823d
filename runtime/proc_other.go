//go:build unix && !linux

package runtime

import (
	"os"
	"syscall"
)

const canWaitNoReap = false

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExitNoReap cannot wait without reaping here (no waitid with WNOWAIT in
// the syscall package): it returns at once, so Wait kills the group as soon
// as the plugin's stdout and stderr are closed, which a plugin does when it
// exits.
func waitExitNoReap(pid int) {}

// fdExecPath: no /proc/self/fd here; the executable is exec'd by path.
func fdExecPath(f *os.File) (string, bool) { return "", false }
