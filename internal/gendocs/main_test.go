package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate("markdown", filepath.Join(dir, "md")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "md", "plugctl_install.md"))
	if err != nil || !strings.Contains(string(b), "plugctl install NAME[@CONSTRAINT]") {
		t.Fatalf("install page: %v\n%s", err, b)
	}
	if err := generate("man", filepath.Join(dir, "man")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "man", "plugctl-call.1")); err != nil {
		t.Fatal(err)
	}
	if err := generate("pdf", dir); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// TestCommittedReferenceUpToDate regenerates the command reference and
// compares it with the pages committed in docs/cli and docs/man, so that a
// changed flag, help text or command cannot ship with a stale reference.
func TestCommittedReferenceUpToDate(t *testing.T) {
	for _, c := range []struct{ format, dir string }{
		{"markdown", "cli"},
		{"man", "man"},
	} {
		fresh := filepath.Join(t.TempDir(), c.dir)
		if err := generate(c.format, fresh); err != nil {
			t.Fatal(err)
		}
		committed := filepath.Join("..", "..", "docs", c.dir)
		for _, p := range compareDirs(t, fresh, committed) {
			t.Errorf("docs/%s/%s", c.dir, p)
		}
	}
	if t.Failed() {
		t.Log("the committed command reference differs from the commands: run `make docs` and commit docs/cli and docs/man")
	}
}

// compareDirs returns one line per file that differs between the generated
// directory want and the committed directory got: missing, stale, or
// changed.
func compareDirs(t *testing.T, want, got string) []string {
	t.Helper()
	read := func(dir string) map[string][]byte {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
		return files
	}
	w, g := read(want), read(got)
	var diffs []string
	for name, b := range w {
		gb, ok := g[name]
		switch {
		case !ok:
			diffs = append(diffs, name+": missing (a new command?)")
		case !bytes.Equal(b, gb):
			diffs = append(diffs, name+": differs from the commands"+firstDiff(b, gb))
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			diffs = append(diffs, name+": stale (no such command any more)")
		}
	}
	sort.Strings(diffs)
	return diffs
}

// firstDiff names the first line where the generated page (want) and the
// committed one (got) part.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf(" at line %d:\n\tgenerated: %q\n\tcommitted: %q", i+1, w, g)
		}
	}
	return ""
}
