//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// readSmallFile is os.ReadFile for the store's small files (receipts,
// current): open, read to EOF, close. os.ReadFile also fstats the file for
// its size and registers it with the runtime poller (fcntl, epoll_ctl and
// their undoing), about ten system calls a file against four here, which
// adds up when list reads two files for each of hundreds of plugins.
func readSmallFile(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := make([]byte, 0, 1024)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}
