package cmd_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/sumdb/dirhash"
)

// holdlock FILE: take the file lock FILE (as another plugctl process
// would) until the script ends.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock FILE")
	}
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
	fl := flock.New(path)
	ok, err := fl.TryLock()
	ts.Check(err)
	if !ok {
		ts.Fatalf("holdlock %s: already locked", path)
	}
	ts.Defer(func() { fl.Unlock() })
}

// treehash DIR VAR: set VAR to the h1: tree hash of DIR's files but .git,
// computed here with golang.org/x/mod/sumdb/dirhash itself (as go.sum's
// hashes are), independently of plugctl's code.
func cmdTreeHash(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: treehash DIR VAR")
	}
	dir := ts.MkAbs(args[0])
	all, err := dirhash.DirFiles(dir, "")
	ts.Check(err)
	files := slices.DeleteFunc(all, func(f string) bool { return slices.Contains(strings.Split(f, "/"), ".git") })
	h, err := dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
	ts.Check(err)
	ts.Setenv(args[1], h)
}
