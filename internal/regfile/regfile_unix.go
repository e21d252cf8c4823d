//go:build unix

package regfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openNonblock opens path with O_NONBLOCK, which makes the open of a FIFO
// return at once instead of waiting for a writer; for a regular file it
// changes nothing.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// readFile uses raw system calls: os.ReadFile also registers the file with
// the runtime poller (fcntl, epoll_ctl and their undoing), about ten system
// calls a file against five here, which adds up when list reads two files
// for each of hundreds of plugins.
func readFile(path string, max int64) ([]byte, error) {
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
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := uint32(st.Mode); m&syscall.S_IFMT != syscall.S_IFREG {
		return nil, &NotRegularError{Path: path, Mode: modeOf(m)}
	}
	b := make([]byte, 0, min(1024, max+1))
	for {
		if int64(len(b)) > max {
			return nil, tooLarge(path, max)
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):min(int64(cap(b)), max+1)])
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

func modeOf(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}
