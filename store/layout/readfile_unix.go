//go:build unix

package layout

import (
	"io/fs"
	"syscall"
)

// readFileMax is os.ReadFile with a size limit, for the store's small files
// (receipts, current) and other files plugctl does not control. os.ReadFile
// also fstats the file for its size and registers it with the runtime
// poller (fcntl, epoll_ctl and their undoing), about ten system calls a file
// against four here, which adds up when list reads two files for each of
// hundreds of plugins. O_NONBLOCK makes a FIFO in a file's place read as
// empty (or fail) instead of blocking the open until a writer comes; it
// changes nothing for a regular file.
func readFileMax(path string, max int) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := make([]byte, 0, min(1024, max+1))
	for {
		if len(b) > max {
			return nil, tooLarge(path, max)
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):min(cap(b), max+1)])
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
