package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/plugctl/plugctl/internal/regfile"
)

// ErrMismatch is wrapped by every *MismatchError.
var ErrMismatch = errors.New("sha256 mismatch")

// MismatchError says that bytes did not hash to what was expected.
type MismatchError struct {
	What   string // e.g. "greeter@1.2.0 artifact", "executable"
	Source string // URL or path the bytes came from
	Want   string
	Got    string
}

func (e *MismatchError) Error() string {
	src := ""
	if e.Source != "" {
		src = " from " + e.Source
	}
	return fmt.Sprintf("sha256 mismatch for %s%s: want %s, got %s", e.What, src, e.Want, e.Got)
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := regfile.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return ReaderSHA256(f)
}

// ReaderSHA256 returns the hex SHA-256 of everything r yields.
func ReaderSHA256(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TreeHash returns the dirhash "h1:" hash of every file under dir, with
// paths relative to dir: their names and contents, not their modes (what
// golang.org/x/mod/sumdb/dirhash.HashDir gives, and go.sum records for a
// module). A FIFO or device in the tree is an error, not a hang.
func TreeHash(dir string) (string, error) {
	files, err := dirhash.DirFiles(dir, "")
	if err != nil {
		return "", err
	}
	return dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		return regfile.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
}

// ValidSHA256 reports whether s is 64 lower- or upper-case hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
