package install

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// Installing reads only the index that resolution uses: the first that
// offers the name (or the one named), so a later index whose cache is broken
// does not fail it; a name only the broken one offers, or naming it, does.
func TestCandidatesForReadsOnlyTheIndexUsed(t *testing.T) {
	dir := t.TempDir()
	p, _ := store.New(filepath.Join(dir, "home"))
	f := fetch.New(fetch.Options{Pwd: dir})
	cfg := &store.Config{}
	for _, ix := range []struct{ name, plugin string }{{"first", "tool"}, {"second", "tool"}, {"third", "other"}} {
		doc := "apiVersion: plugctl/v1\nplugins:\n  " + ix.plugin + ":\n    versions:\n      1.0.0:\n        linux/amd64: {url: x, sha256: \"" + "0000000000000000000000000000000000000000000000000000000000000000\"}\n"
		path := filepath.Join(dir, ix.name+".yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		src := store.Source{Name: ix.name, Address: path}
		if _, err := index.Fetch(context.Background(), f, p, src); err != nil {
			t.Fatal(err)
		}
		cfg.Indexes = append(cfg.Indexes, src)
	}
	// Break the second index's cache.
	broken := filepath.Join(p.IndexDir("second"), "plugins", "tool.lines")
	if err := os.WriteFile(broken, []byte("\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(p.IndexDir("second"), "plugins", "tool.json"))

	cands, err := CandidatesFor(p, cfg, index.Query{Name: "tool"}, "linux/amd64")
	if err != nil || len(cands) != 1 || cands[0].Index != "first" {
		t.Fatalf("CandidatesFor(tool) = %+v, %v; want the first index's offer only", cands, err)
	}
	cands, err = CandidatesFor(p, cfg, index.Query{Name: "other"}, "linux/amd64")
	if err != nil || len(cands) != 1 || cands[0].Index != "third" {
		t.Fatalf("CandidatesFor(other) = %+v, %v; want the third index's offer", cands, err)
	}
	if cands, err := CandidatesFor(p, cfg, index.Query{Name: "tool", Index: "second"}, "linux/amd64"); err == nil {
		t.Fatalf("CandidatesFor(second/tool) with a broken cache = %+v, want an error", cands)
	}
	if cands, err := CandidatesFor(p, cfg, index.Query{Name: "nosuch"}, "linux/amd64"); err != nil || len(cands) != 0 {
		t.Fatalf("CandidatesFor(nosuch) = %+v, %v; want none", cands, err)
	}
}
