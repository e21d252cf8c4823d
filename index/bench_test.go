package index

import (
	"fmt"
	"os"
	"testing"

	"github.com/plugctl/plugctl/store"
)

// bigIndex is an index of one plugin with n versions on four platforms.
func bigIndex(n int) *Index {
	idx := &Index{APIVersion: APIVersion, Plugins: map[string]Plugin{}}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%d.%d.%d", i/1000, (i/10)%100, i%10)
		for _, plat := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
			idx.Add(Publication{Name: "big", Version: v, Platform: plat, URL: "big", SHA256: sum}, "", store.Protocol{})
		}
	}
	return idx
}

func BenchmarkParseYAML10k(b *testing.B) {
	data := Marshal(bigIndex(10000), false)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSON10k(b *testing.B) {
	data := Marshal(bigIndex(10000), true)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveCached10k is what `install NAME@CONSTRAINT` pays for
// resolution: the lookup cache written at index update.
func BenchmarkResolveCached10k(b *testing.B) {
	p, _ := store.New(b.TempDir())
	idx := bigIndex(10000)
	dir := p.IndexDir("main")
	os.MkdirAll(dir, 0o755)
	if err := writeCache(dir, idx, Meta{Name: "main", Plugins: idx.Names()}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pl, _, err := LoadPluginMatching(p, "main", "big", "^5", "linux/amd64")
		if err != nil {
			b.Fatal(err)
		}
		if v, _, err := Match("big", pl, "^5", "linux/amd64"); err != nil || v != "5.99.9" {
			b.Fatal(v, err)
		}
	}
}
