package verify

import (
	"fmt"

	"github.com/plugctl/plugctl/internal/regfile"
)

// RecordFile is the name, inside a version directory, of the identity
// record of its executable (written by install, checked at every launch).
const RecordFile = ".verified"

// CheckExecutable verifies that the file at path hashes to want (hex).
// A full hash costs about as much as the rest of a cold plugin call, so the
// file's identity at its last successful full hash is kept in recordPath and
// the hash is skipped while the identity is unchanged. Any difference (size,
// mtime, ctime, inode, device), or a missing or unreadable record, means a
// full re-hash. A mismatch is a *MismatchError and removes the record.
// Callers that go on to execute the file should open it themselves and use
// CheckOpenExecutable, so that what runs is what was checked.
func CheckExecutable(path, want, recordPath string) error {
	f, err := regfile.Open(path)
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	defer f.Close()
	return CheckOpenExecutable(f, want, recordPath)
}
