package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

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
	// Tree is set when the hashes are tree hashes (h1:) of a directory,
	// not SHA-256 digests of one file.
	Tree bool
	// Installed is set when the bytes are an installed executable checked
	// before it runs: it changed after install, rather than arriving other
	// than the index or --sha256 promised.
	Installed bool
}

func (e *MismatchError) Error() string {
	src := ""
	if e.Source != "" {
		src = " from " + e.Source
	}
	kind := "sha256"
	if e.Tree {
		kind = "tree hash"
	}
	what := e.What
	if e.Installed {
		what += " (changed since install)"
	}
	return fmt.Sprintf("%s mismatch for %s%s: want %s, got %s", kind, what, src, e.Want, e.Got)
}

// ErrUnpinned is wrapped by every *UnpinnedError.
var ErrUnpinned = errors.New("artifact not pinned by a hash of all its content")

// UnpinnedError is a directory artifact (a local directory, a git
// repository) named with no tree hash: the SHA-256 of its executable
// leaves every other file in it unchecked. TreeHash is the h1: of what was
// fetched, for the user to check and pin.
type UnpinnedError struct {
	What     string // name@version
	Source   string
	TreeHash string
}

func (e *UnpinnedError) Error() string {
	return fmt.Sprintf("%s: %s is a directory, and a directory is pinned as a whole by its tree hash (h1:), which is not given: the sha256 of its executable leaves the other files in it unchecked", e.What, e.Source)
}

func (e *UnpinnedError) Unwrap() error { return ErrUnpinned }

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

// SourceTreeHash is TreeHash of a directory as install lays it out: without
// any .git (a directory or file of that name, in any case, at any depth),
// which fetching leaves behind. Publishers pin a directory artifact with it.
func SourceTreeHash(dir string) (string, error) {
	all, err := dirhash.DirFiles(dir, "")
	if err != nil {
		return "", err
	}
	var files []string
	for _, f := range all {
		if !slices.ContainsFunc(strings.Split(f, "/"), func(e string) bool { return strings.EqualFold(e, ".git") }) {
			files = append(files, f)
		}
	}
	return dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		return regfile.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
}

// ValidH1 reports whether s is a tree hash as TreeHash writes it: "h1:"
// and the standard base64 of a SHA-256 digest.
func ValidH1(s string) bool {
	b64, ok := strings.CutPrefix(s, "h1:")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(b) == sha256.Size
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
