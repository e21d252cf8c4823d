// Package regfile opens files that plugctl reads from paths it is given or
// finds (artifacts, indexes, signatures, keys, schemas, lock files, its own
// records) so that a FIFO, a device or a socket in a file's place can
// neither block the open nor feed an endless read: the open does not wait
// for a writer, and anything but a regular file, as the opened descriptor
// says (no window between a check and the open), is refused with an error
// wrapping ErrNotRegular.
//
// It imports only standard packages, so that every package that reads such
// a file (store, fetch, verify, index) can build on it.
package regfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by every refusal of a file that is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped when ReadFile refuses a file for its size.
var ErrTooLarge = errors.New("file too large")

// NotRegularError names the path and what is there instead.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, kind(e.Mode))
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a plain file (" + m.Type().String() + ")"
}

// Open opens the regular file at path for reading (following symbolic
// links, as os.Open does).
func Open(path string) (*os.File, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, nil
}

// ReadFile reads the regular file at path, like os.ReadFile, refusing one
// larger than max bytes (an error wrapping ErrTooLarge).
func ReadFile(path string, max int64) ([]byte, error) {
	return readFile(path, max)
}

func tooLarge(path string, max int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
}
