package store

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrTooLarge is wrapped when ReadFileMax refuses a file for its size.
var ErrTooLarge = errors.New("file too large")

// MaxRecordBytes bounds the store's own small files: a receipt or a current
// pointer is well under a kilobyte, so anything larger is not one.
const MaxRecordBytes = 1 << 20

// ReadFileMax reads the file at path like os.ReadFile, but refuses one
// larger than max bytes (an error wrapping ErrTooLarge), and a FIFO or
// device in its place cannot make it block or read without end: for files
// plugctl reads but does not control (a lock file in the working
// directory, records in the store that anything could have replaced).
func ReadFileMax(path string, max int) ([]byte, error) {
	return readFileMax(path, max)
}

func tooLarge(path string, max int) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
}

func readSmallFile(path string) ([]byte, error) { return readFileMax(path, MaxRecordBytes) }
