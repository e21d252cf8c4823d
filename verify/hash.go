package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
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
	f, err := os.Open(path)
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
// paths relative to dir.
func TreeHash(dir string) (string, error) {
	return dirhash.HashDir(dir, "", dirhash.Hash1)
}

// ValidSHA256 reports whether s is 64 lower- or upper-case hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// cacheDirs are the directories that interpreters write beside a script's
// sources when nothing stops them (Python's bytecode cache; the cache that
// Node.js tools keep in node_modules). The plugin environment sets the
// variables that stop them; a plugin run with its own environment may still
// write them, and verify then says so.
var cacheDirs = [...]string{"__pycache__", "node_modules/.cache"}

// AppearedCaches explains a tree hash of dir that is not want: the
// interpreter cache directories under dir (slash-separated, relative to
// dir) without which the tree hashes to want again. Nil when the tree
// differs in other ways too, or has no such directory.
func AppearedCaches(dir, want string) []string {
	files, err := dirhash.DirFiles(dir, "")
	if err != nil {
		return nil
	}
	found := map[string]bool{}
	var kept []string
	for _, f := range files {
		if c := cacheDirOf(f); c != "" {
			found[c] = true
			continue
		}
		kept = append(kept, f)
	}
	if len(found) == 0 {
		return nil
	}
	got, err := dirhash.Hash1(kept, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
	if err != nil || got != want {
		return nil
	}
	out := make([]string, 0, len(found))
	for c := range found {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// cacheDirOf returns the cache directory holding file (a slash-separated
// path), or "".
func cacheDirOf(file string) string {
	for _, c := range cacheDirs {
		for i := 0; ; {
			j := strings.Index(file[i:], c+"/")
			if j < 0 {
				break
			}
			at := i + j
			if at == 0 || file[at-1] == '/' {
				return file[:at+len(c)]
			}
			i = at + 1
		}
	}
	return ""
}
