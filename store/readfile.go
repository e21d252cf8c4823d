package store

import "github.com/plugctl/plugctl/store/layout"

// ErrTooLarge is wrapped when ReadFileMax refuses a file for its size.
var ErrTooLarge = layout.ErrTooLarge

// MaxRecordBytes bounds the store's own small files: a receipt or a current
// pointer is well under a kilobyte, so anything larger is not one.
const MaxRecordBytes = layout.MaxRecordBytes

// ReadFileMax reads the file at path like os.ReadFile, but refuses one
// larger than max bytes (an error wrapping ErrTooLarge), and a FIFO or
// device in its place cannot make it block or read without end: for files
// plugctl reads but does not control (a lock file in the working
// directory, records in the store that anything could have replaced).
func ReadFileMax(path string, max int) ([]byte, error) { return layout.ReadFileMax(path, max) }

func readSmallFile(path string) ([]byte, error) { return layout.ReadFileMax(path, MaxRecordBytes) }
