package store

import "github.com/plugctl/plugctl/internal/regfile"

// ErrTooLarge is wrapped when ReadFileMax refuses a file for its size.
var ErrTooLarge = regfile.ErrTooLarge

// MaxRecordBytes bounds the store's own small files: a receipt or a current
// pointer is well under a kilobyte, so anything larger is not one.
const MaxRecordBytes = 1 << 20

// ReadFileMax reads the file at path like os.ReadFile, but refuses one
// larger than max bytes (an error wrapping ErrTooLarge), and a FIFO or
// device in its place cannot make it block or read without end: for files
// plugctl reads but does not control (a lock file in the working
// directory, records in the store that anything could have replaced).
// Anything but a regular file is refused (regfile.ErrNotRegular).
func ReadFileMax(path string, max int) ([]byte, error) {
	return regfile.ReadFile(path, int64(max))
}

func readSmallFile(path string) ([]byte, error) { return ReadFileMax(path, MaxRecordBytes) }
