package verify

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestAppearedCaches(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/main.py", "print(1)")
	write("app/my__pycache__/x", "not a cache: only a whole name counts")
	want, err := TreeHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppearedCaches(dir, want); got != nil {
		t.Errorf("unchanged tree: %q", got)
	}
	write("app/__pycache__/main.cpython-312.pyc", "bytecode")
	write("__pycache__/top.pyc", "bytecode")
	write("js/node_modules/.cache/babel/x.json", "{}")
	got := AppearedCaches(dir, want)
	if !slices.Equal(got, []string{"__pycache__", "app/__pycache__", "js/node_modules/.cache"}) {
		t.Errorf("AppearedCaches = %q", got)
	}
	// Something else changed too: the caches do not explain it.
	write("app/main.py", "print(2)")
	if got := AppearedCaches(dir, want); got != nil {
		t.Errorf("with another change: %q, want nil", got)
	}
}
