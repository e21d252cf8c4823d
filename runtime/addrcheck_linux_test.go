package runtime

import (
	"net"
	"path/filepath"
	"syscall"
	"testing"
)

// groupListensUnix finds a listener held by a process of the group that is
// not the group's leader (here the test binary, whose group leader is the
// process that ran it), and refuses a path no one of the group listens on.
func TestGroupListensUnixBeyondLeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pgid := syscall.Getpgrp()
	if !groupListensUnix(pgid, path) {
		t.Errorf("groupListensUnix(%d, %s) = false; the test process listens there", pgid, path)
	}
	if groupListensUnix(pgid, path+"x") {
		t.Errorf("groupListensUnix(%d, %sx) = true; nothing listens there", pgid, path)
	}
	if groupListensUnix(pgid+1<<20, path) {
		t.Errorf("groupListensUnix for a group with no processes = true")
	}
}
