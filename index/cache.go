package index

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/gofrs/flock"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
)

// The cache of one index, under indexes/<name>/:
//
//	meta.json            where and when it was fetched, and the index header
//	index.raw            the bytes as fetched (what a signature covers)
//	plugins/<name>.json  one plugin's entry, so resolving one name reads one
//	                     small file instead of parsing the whole index
type Meta struct {
	Name      string     `json:"name"`
	Source    string     `json:"source"`
	FetchedAt time.Time  `json:"fetchedAt"`
	SHA256    string     `json:"sha256"`
	Version   int64      `json:"version,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	Plugins   []string   `json:"plugins"`
}

// ErrNotCached is wrapped when an index has never been fetched.
var ErrNotCached = errors.New("index not cached")

// CacheError is a cached copy of an index that cannot be used (a file of
// it corrupt, its signature gone): fetching the index again replaces it.
type CacheError struct {
	Index string // the index's name
	What  string // what is wrong: "cache corrupt", "cache of NAME corrupt", "cached signature"
	Err   error  // the underlying error, if any
}

func (e *CacheError) Error() string {
	s := "index " + e.Index + ": " + e.What
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CacheError) Unwrap() error { return e.Err }

// Fetch downloads the index at src.Address, parses and validates it, and
// replaces its cache. On any error the previous cache is left as it was.
// Updates of one index take turns (store's IndexLockFile): the signature's
// rollback check, the cache swap and the trust record are one step.
func Fetch(ctx context.Context, f *fetch.Fetcher, p store.Paths, src store.Source) (*Index, error) {
	lockFile := p.IndexLockFile(src.Name)
	if err := os.MkdirAll(filepath.Dir(lockFile), 0o755); err != nil {
		return nil, err
	}
	fl := flock.New(lockFile)
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if !ok || err != nil {
		return nil, fmt.Errorf("index %s: lock: %w", src.Name, errors.Join(err, ctx.Err()))
	}
	defer fl.Unlock()
	idx, meta, stage, err := fetchStage(ctx, f, p, src)
	if stage != "" {
		defer os.RemoveAll(stage)
	}
	if err != nil {
		return nil, err
	}
	if err := writeCache(stage, idx, *meta); err != nil {
		return nil, err
	}
	if err := swapDir(stage, p.IndexDir(src.Name)); err != nil {
		return nil, fmt.Errorf("index %s: update cache: %w", src.Name, err)
	}
	if len(src.Keys) > 0 {
		if err := writeTrust(p, src.Name, idx, meta.SHA256, meta.FetchedAt); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// FetchUncached downloads and validates the index at src.Address without
// touching the cache, for a one-off --index.
func FetchUncached(ctx context.Context, f *fetch.Fetcher, p store.Paths, src store.Source) (*Index, *Meta, error) {
	idx, meta, stage, err := fetchStage(ctx, f, p, src)
	if stage != "" {
		os.RemoveAll(stage)
	}
	return idx, meta, err
}

func fetchStage(ctx context.Context, f *fetch.Fetcher, p store.Paths, src store.Source) (*Index, *Meta, string, error) {
	tmpRoot, err := p.EnsureTmp()
	if err != nil {
		return nil, nil, "", err
	}
	stage, err := os.MkdirTemp(tmpRoot, "index-"+src.Name+".")
	if err != nil {
		return nil, nil, "", err
	}
	raw := filepath.Join(stage, "index.raw")
	res, err := f.WithMaxBytes(MaxIndexBytes).File(ctx, src.Address, raw)
	if err != nil {
		return nil, nil, stage, fmt.Errorf("index %s: %w", src.Name, err)
	}
	data, err := os.ReadFile(raw)
	if err != nil {
		return nil, nil, stage, err
	}
	idx, err := Parse(data)
	if err != nil {
		return nil, nil, stage, fmt.Errorf("index %s (%s): %w", src.Name, src.Address, err)
	}
	now := time.Now()
	if len(src.Keys) > 0 {
		if err := checkSigned(ctx, f, p, src, stage, data, res.SHA256, idx, now); err != nil {
			return nil, nil, stage, err
		}
	}
	meta := &Meta{
		Name: src.Name, Source: src.Address, FetchedAt: now.UTC(), SHA256: res.SHA256,
		Version: idx.Version, Expires: idx.Expires, Plugins: idx.Names(),
	}
	return idx, meta, stage, nil
}

func writeCache(dir string, idx *Index, meta Meta) error {
	pdir := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return err
	}
	for name, pl := range idx.Plugins {
		b, err := json.Marshal(pl)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(pdir, name+".json"), b, 0o644); err != nil {
			return err
		}
		if err := writeLines(filepath.Join(pdir, name+".lines"), pl); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644)
}

// swapDir replaces dst with src: readers see the old cache or the new one,
// except for the instant between the two renames, when they see none and
// report the index as not cached.
func swapDir(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	old := dst + ".old"
	os.RemoveAll(old)
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		os.Rename(old, dst)
		return err
	}
	return os.RemoveAll(old)
}

// LoadMeta reads the cached header of index name.
func LoadMeta(p store.Paths, name string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(p.IndexDir(name), "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("index %s: %w", name, ErrNotCached)
	}
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &CacheError{Index: name, What: "cache corrupt", Err: err}
	}
	return &m, nil
}

// LoadPlugin reads one plugin's cached entry; ok is false when the index
// does not offer it.
func LoadPlugin(p store.Paths, index, name string) (Plugin, bool, error) {
	if err := store.ValidName(name); err != nil {
		return Plugin{}, false, err
	}
	b, err := os.ReadFile(filepath.Join(p.IndexDir(index), "plugins", name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := LoadMeta(p, index); err != nil {
			return Plugin{}, false, err
		}
		return Plugin{}, false, nil
	}
	if err != nil {
		return Plugin{}, false, err
	}
	var pl Plugin
	if err := json.Unmarshal(b, &pl); err != nil {
		return Plugin{}, false, &CacheError{Index: index, What: "cache of " + name + " corrupt", Err: err}
	}
	return pl, true, nil
}

// writeLines writes the lookup form of a plugin's entry: a header line
// (description and protocol), then one line per version, newest first:
// "VERSION<TAB>{platform: artifact}". Resolving a constraint reads lines
// until the first match instead of decoding every version of a large index.
func writeLines(path string, pl Plugin) error {
	var b bytes.Buffer
	head, err := json.Marshal(Plugin{Description: pl.Description, Protocol: pl.Protocol})
	if err != nil {
		return err
	}
	b.Write(head)
	b.WriteByte('\n')
	for _, v := range pl.SortedVersions() {
		arts, err := json.Marshal(pl.Versions[v.Original()])
		if err != nil {
			return err
		}
		b.WriteString(v.Original())
		b.WriteByte('\t')
		b.Write(arts)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// LoadPluginMatching is LoadPlugin for resolution: the returned Plugin holds
// only the versions, newest first, down to the first one that matches
// constraint (see Match) and has an artifact for platform, so Match on it
// gives the answer Match on the whole entry would, after decoding a few
// lines rather than every version.
func LoadPluginMatching(p store.Paths, index, name, constraint, platform string) (Plugin, bool, error) {
	if err := store.ValidName(name); err != nil {
		return Plugin{}, false, err
	}
	f, err := os.Open(filepath.Join(p.IndexDir(index), "plugins", name+".lines"))
	if errors.Is(err, fs.ErrNotExist) {
		return LoadPlugin(p, index, name) // a cache written before .lines existed
	}
	if err != nil {
		return Plugin{}, false, err
	}
	defer f.Close()
	var c *semver.Constraints
	if constraint != "" {
		if c, err = CheckConstraint(constraint); err != nil {
			return Plugin{}, false, fmt.Errorf("%w: bad version constraint %q: %v", ErrUsage, constraint, err)
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	corrupt := func() (Plugin, bool, error) {
		return Plugin{}, false, &CacheError{Index: index, What: "cache of " + name + " corrupt"}
	}
	if !sc.Scan() {
		return corrupt()
	}
	var pl Plugin
	if err := json.Unmarshal(sc.Bytes(), &pl); err != nil {
		return corrupt()
	}
	pl.Versions = map[string]map[string]Artifact{}
	for sc.Scan() {
		vs, arts, ok := bytes.Cut(sc.Bytes(), []byte{'\t'})
		if !ok {
			return corrupt()
		}
		v, err := semver.StrictNewVersion(string(vs))
		if err != nil {
			return corrupt()
		}
		if (c == nil && v.Prerelease() != "") || (c != nil && !c.Check(v)) {
			continue
		}
		var m map[string]Artifact
		if err := json.Unmarshal(arts, &m); err != nil {
			return corrupt()
		}
		pl.Versions[string(vs)] = m
		if _, ok := m[platform]; ok {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return Plugin{}, false, err
	}
	return pl, true, nil
}

// Remove deletes the cache of index name.
func RemoveCache(p store.Paths, name string) error {
	return os.RemoveAll(p.IndexDir(name))
}

// Offer is one index's entry for a plugin name.
type Offer struct {
	Index  store.Source
	Meta   *Meta
	Plugin Plugin
}

// Find returns every configured index's entry for name, in configuration
// order: the first one wins unless the user names an index.
func Find(p store.Paths, cfg *store.Config, name string) ([]Offer, error) {
	return find(p, cfg, func(index string) (Plugin, bool, error) { return LoadPlugin(p, index, name) })
}

// FindMatching is Find for resolving one constraint on one platform: each
// offer holds only the versions LoadPluginMatching returns.
func FindMatching(p store.Paths, cfg *store.Config, name, constraint, platform string) ([]Offer, error) {
	return find(p, cfg, func(index string) (Plugin, bool, error) {
		return LoadPluginMatching(p, index, name, constraint, platform)
	})
}

func find(p store.Paths, cfg *store.Config, load func(index string) (Plugin, bool, error)) ([]Offer, error) {
	var out []Offer
	for _, src := range cfg.Indexes {
		pl, ok, err := load(src.Name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		m, err := LoadMeta(p, src.Name)
		if err != nil {
			return nil, err
		}
		if err := checkFresh(src, m, time.Now()); err != nil {
			return nil, err
		}
		out = append(out, Offer{Index: src, Meta: m, Plugin: pl})
	}
	return out, nil
}

// Entry is one plugin of one index, for search.
type Entry struct {
	Index  string
	Name   string
	Plugin Plugin
}

// All returns every plugin of every configured, cached index, sorted by
// name then index order.
func All(p store.Paths, cfg *store.Config) ([]Entry, error) {
	var out []Entry
	for _, src := range cfg.Indexes {
		m, err := LoadMeta(p, src.Name)
		if err != nil {
			return nil, err
		}
		if err := checkFresh(src, m, time.Now()); err != nil {
			return nil, err
		}
		for _, n := range m.Plugins {
			pl, ok, err := LoadPlugin(p, src.Name, n)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, Entry{Index: src.Name, Name: n, Plugin: pl})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ResolveURL makes an artifact URL absolute against the index's address.
func ResolveURL(m *Meta, ref string) (string, error) {
	return fetch.Resolve(m.Source, ref)
}

// DefaultTTL is how long a cached index is used before commands that read
// it fetch it again.
const DefaultTTL = time.Hour

// Stale reports whether the cache of src is missing or older than ttl.
func Stale(p store.Paths, src store.Source, ttl time.Duration, now time.Time) bool {
	m, err := LoadMeta(p, src.Name)
	return err != nil || m.Source != src.Address || now.Sub(m.FetchedAt) > ttl
}
