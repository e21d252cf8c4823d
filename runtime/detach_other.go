//go:build unix && !linux

package runtime

import (
	"net"
	"syscall"
)

// processStart cannot tell a process's start time without /proc: start is 0
// (unknown), and a pid that exists counts as the same process.
func processStart(pid int) (start uint64, zombie, ok bool) {
	err := syscall.Kill(pid, 0)
	return 0, false, err == nil
}

// canListGroups: without /proc the members of a group cannot be listed.
const canListGroups = false

func groupMembers(pgid, sid int) []int { return nil }

// envProcs cannot read other processes' environments here: an interrupted
// start is found by the pid it recorded only.
func envProcs(kv string) []int { return nil }

func groupListensUnix(pgid int, path string) bool      { return false }
func groupListensTCP(pgid int, addr *net.TCPAddr) bool { return false }
