package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
)

// Several `index update`s of one index at once (parallel CI jobs sharing a
// home) all succeed and leave one whole cache, the same one every time.
func TestConcurrentFetchOfOneIndex(t *testing.T) {
	dir := t.TempDir()
	p, _ := store.New(filepath.Join(dir, "home"))
	idxPath := filepath.Join(dir, "index.yaml")
	doc := "apiVersion: plugctl/v1\nplugins:\n"
	for i := 0; i < 50; i++ {
		doc += fmt.Sprintf("  p%d:\n    versions:\n      1.0.0:\n        linux/amd64: {url: p%d, sha256: \"%064d\"}\n", i, i, i)
	}
	if err := os.WriteFile(idxPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	src := store.Source{Name: "main", Address: idxPath}
	f := fetch.New(fetch.Options{Pwd: dir})
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = Fetch(context.Background(), f, p, src)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: update %d: %v", round, i, err)
			}
		}
		m, err := LoadMeta(p, "main")
		if err != nil || len(m.Plugins) != 50 {
			t.Fatalf("round %d: cache after concurrent updates: %v, %+v", round, err, m)
		}
		ents, err := os.ReadDir(filepath.Join(p.IndexDir("main"), "plugins"))
		if err != nil || len(ents) != 100 {
			t.Fatalf("round %d: %d files in the cache's plugins/, want 100: %v", round, len(ents), err)
		}
	}
}
