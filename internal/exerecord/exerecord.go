// Package exerecord is the identity record of an installed executable
// (<versiondir>/.verified): what the kernel said about the file when its
// SHA-256 was last checked in full, so that a launch can skip the hash while
// the file is unchanged. verify writes and checks it.
package exerecord

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/plugctl/plugctl/store"
)

// Identity is what the kernel says about a file that its content cannot
// change without changing too: an unprivileged user can set mtime back but
// not ctime, and a replaced file has a new inode.
type Identity struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtimeNs"`
	Ctime int64  `json:"ctimeNs"`
}

// Record is the record's content: the identity the file had when it hashed
// to SHA256.
type Record struct {
	Identity
	SHA256 string `json:"sha256"`
}

// Of is fi's identity; false where the platform gives none (the hash is
// then checked at every launch).
func Of(fi os.FileInfo) (Identity, bool) { return identityOf(fi) }

// Matches reports whether the record at path says that a file of identity
// id hashes to want (hex, any case). A missing, unreadable or oversized
// record matches nothing.
func Matches(path string, id Identity, want string) bool {
	b, err := store.ReadFileMax(path, store.MaxRecordBytes)
	if err != nil {
		return false
	}
	var rec Record
	return json.Unmarshal(b, &rec) == nil && rec.Identity == id && strings.EqualFold(rec.SHA256, want)
}
