package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/plugctl/plugctl/store"
)

// Cached is a configured index's cached copy: the bytes exactly as fetched,
// which a signature covers, and that signature when the index is
// configured with keys.
type Cached struct {
	Meta *Meta
	Raw  []byte
	Sig  []byte // nil unless src has keys
}

// LoadCached reads the cached bytes of src (and its signature), refusing a
// signed copy whose expiry has passed, as every reader of the cache does.
func LoadCached(p store.Paths, src store.Source, now time.Time) (*Cached, error) {
	m, err := LoadMeta(p, src.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFresh(src, m, now); err != nil {
		return nil, err
	}
	dir := p.IndexDir(src.Name)
	raw, err := os.ReadFile(filepath.Join(dir, "index.raw"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("index %s: %w", src.Name, ErrNotCached)
	}
	if err != nil {
		return nil, err
	}
	c := &Cached{Meta: m, Raw: raw}
	if len(src.Keys) > 0 {
		if c.Sig, err = os.ReadFile(filepath.Join(dir, "index.minisig")); err != nil {
			return nil, &CacheError{Index: src.Name, What: "cached signature", Err: err}
		}
	}
	return c, nil
}
