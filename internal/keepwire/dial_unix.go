//go:build unix

package keepwire

import (
	"os"
	"syscall"
)

// Dial connects to the keeper socket at path, or fails at once (no keeper,
// a dead one, or one that does not accept). The file it returns is
// non-blocking, so Call's deadlines work.
func Dial(path string) (*os.File, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	syscall.CloseOnExec(fd)
	// Non-blocking before connect: a keeper that stopped accepting (its
	// backlog full) makes connect fail with EAGAIN instead of blocking
	// the caller; a unix socket never answers EINPROGRESS.
	err = syscall.SetNonblock(fd, true)
	for err == nil {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "dial", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
