package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plugctl/plugctl/internal/exerecord"
	"github.com/plugctl/plugctl/internal/regfile"
)

// CheckOpenExecutable is CheckExecutable for a file already opened by the
// caller: the identity and the bytes hashed are those of the open file, so
// a caller that then executes that very file (/proc/self/fd/N) runs what was
// verified, whatever happens to the path in between. The file's offset is
// not moved.
func CheckOpenExecutable(f *os.File, want, recordPath string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("executable %s: not a regular file", f.Name())
	}
	id, ok := exerecord.Of(fi)
	if ok && exerecord.Matches(recordPath, id, want) {
		return nil
	}
	got, err := ReaderSHA256(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return fmt.Errorf("hash executable: %w", err)
	}
	if !strings.EqualFold(got, want) {
		os.Remove(recordPath)
		return &MismatchError{What: "executable " + f.Name(), Want: want, Got: got, Installed: true}
	}
	if ok {
		writeRecord(f, id, got, recordPath)
	}
	return nil
}

// HashExecutable returns the SHA-256 (hex) of the file at path and keeps
// its identity in recordPath, as CheckOpenExecutable does after a full
// hash: install hashes the executable anyway, and the first launch then
// need not hash it again.
func HashExecutable(path, recordPath string) (string, error) {
	f, err := regfile.Open(path)
	if err != nil {
		return "", fmt.Errorf("executable: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("executable: %w", err)
	}
	got, err := ReaderSHA256(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return "", fmt.Errorf("hash executable: %w", err)
	}
	if id, ok := exerecord.Of(fi); ok {
		writeRecord(f, id, got, recordPath)
	}
	return got, nil
}

// writeRecord keeps id, the identity f had before it was hashed to sum, in
// recordPath, unless f moved meanwhile (written to while it was hashed).
// A record that cannot be written only costs a full hash next time.
func writeRecord(f *os.File, id exerecord.Identity, sum, recordPath string) {
	fi2, err := f.Stat()
	if err != nil {
		return
	}
	if id2, _ := exerecord.Of(fi2); id2 != id {
		return
	}
	b, _ := json.Marshal(exerecord.Record{Identity: id, SHA256: sum})
	tmp := recordPath + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		if os.Rename(tmp, recordPath) != nil {
			os.Remove(tmp)
		}
	}
}
