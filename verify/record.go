package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// identity is what the kernel says about a file that its content cannot
// change without changing too: an unprivileged user can set mtime back but
// not ctime, and a replaced file has a new inode.
type identity struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtimeNs"`
	Ctime int64  `json:"ctimeNs"`
}

type record struct {
	identity
	SHA256 string `json:"sha256"`
}

// CheckExecutable verifies that the file at path hashes to want (hex).
// A full hash costs about as much as the rest of a cold plugin call, so the
// file's identity at its last successful full hash is kept in recordPath and
// the hash is skipped while the identity is unchanged. Any difference (size,
// mtime, ctime, inode, device), or a missing or unreadable record, means a
// full re-hash. A mismatch is a *MismatchError and removes the record.
func CheckExecutable(path, want, recordPath string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	id, ok := identityOf(fi)
	if ok {
		if b, err := os.ReadFile(recordPath); err == nil {
			var rec record
			if json.Unmarshal(b, &rec) == nil && rec.identity == id && strings.EqualFold(rec.SHA256, want) {
				return nil
			}
		}
	}
	got, err := FileSHA256(path)
	if err != nil {
		return fmt.Errorf("hash executable: %w", err)
	}
	if !strings.EqualFold(got, want) {
		os.Remove(recordPath)
		return &MismatchError{What: "executable " + path + " (changed since install; reinstall it)", Want: want, Got: got}
	}
	if !ok {
		return nil
	}
	// Re-stat: the identity recorded must be the one that was hashed.
	fi2, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if id2, _ := identityOf(fi2); id2 != id {
		return nil
	}
	b, _ := json.Marshal(record{identity: id, SHA256: got})
	tmp := recordPath + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		if os.Rename(tmp, recordPath) != nil {
			os.Remove(tmp)
		}
	}
	return nil
}
