package cmd_test

import (
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"
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
