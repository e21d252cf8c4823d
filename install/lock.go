package install

import (
	"github.com/plugctl/plugctl/profile"

	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// LockFileName is the lock file's name in the working directory.
const LockFileName = "plugctl.lock"

// LockSchema is the lock format written by this plugctl.
const LockSchema = 1

// Lock is plugctl.lock: enough to reproduce an install in a fresh home on
// any platform the index offered, without the index.
type Lock struct {
	Schema  int                     `json:"lockVersion"`
	Plugins map[string]LockedPlugin `json:"plugins"`
}

// LockedPlugin is one plugin pinned to one version.
type LockedPlugin struct {
	Version    string                    `json:"version"`
	Constraint string                    `json:"constraint,omitempty"`
	Index      *LockedIndex              `json:"index,omitempty"`
	Protocol   store.Protocol            `json:"protocol"`
	Platforms  map[string]LockedArtifact `json:"platforms"` // os/arch → artifact
	// SchemaSet is the gRPC schema (a FileDescriptorSet) given with
	// install --from --proto/--protoset, which has no address to fetch
	// it from again: the lock carries it (base64 in the file), and
	// Protocol.Schema its SHA-256.
	SchemaSet []byte `json:"schemaSet,omitempty"`
}

// LockedIndex names where the entry came from.
type LockedIndex struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// LockedArtifact is one platform's artifact, with an absolute URL: a file
// pinned by SHA256, a directory by H1 (its tree hash) and optionally by the
// SHA256 of its bin.
type LockedArtifact struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	H1     string `json:"h1,omitempty"`
	Bin    string `json:"bin,omitempty"`
}

// ErrNoLock is wrapped when plugctl.lock does not exist.
var ErrNoLock = errors.New("no " + LockFileName + " in this directory")

// MaxLockBytes bounds plugctl.lock, which comes with the working
// directory: it records at most what indexes offer, and an index is at most
// index.MaxIndexBytes.
const MaxLockBytes = index.MaxIndexBytes

// ReadLock reads a lock file.
func ReadLock(path string) (*Lock, error) {
	b, err := store.ReadFileMax(path, MaxLockBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoLock
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Schema != LockSchema {
		return nil, fmt.Errorf("%s: lockVersion %d: this plugctl reads %d", path, l.Schema, LockSchema)
	}
	for name, lp := range l.Plugins {
		if err := store.ValidName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := semver.StrictNewVersion(lp.Version); err != nil {
			return nil, fmt.Errorf("%s: %s: version %q: %w: not a semantic version", path, name, lp.Version, ErrBadVersion)
		}
	}
	return &l, nil
}

// ReadLockOrNew reads a lock file, or returns an empty one when it does not
// exist.
func ReadLockOrNew(path string) (*Lock, error) {
	l, err := ReadLock(path)
	if errors.Is(err, ErrNoLock) {
		return &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{}}, nil
	}
	return l, err
}

// Marshal renders the lock with sorted keys (encoding/json sorts maps) and a
// trailing newline, so diffs are clean.
func (l *Lock) Marshal() []byte {
	if l.Plugins == nil {
		l.Plugins = map[string]LockedPlugin{}
	}
	b, _ := json.MarshalIndent(l, "", "  ")
	return append(b, '\n')
}

// Write writes the lock atomically.
func (l *Lock) Write(path string) error {
	return store.WriteFileAtomic(path, l.Marshal(), 0o644)
}

// Entry builds the lock entry for version of a plugin offered by an index:
// every platform the index offers for that version, URLs made absolute.
func Entry(c Candidate, version, constraint string) (LockedPlugin, error) {
	// The lock keeps a profile's resolved values beside its name.
	proto, err := profile.Resolve(c.Plugin.Protocol)
	if err != nil {
		return LockedPlugin{}, err
	}
	lp := LockedPlugin{Version: version, Constraint: constraint, Protocol: proto, Platforms: map[string]LockedArtifact{}}
	if c.Index != "" {
		lp.Index = &LockedIndex{Name: c.Index, Source: c.Meta.Source}
	}
	var arts map[string]index.Artifact
	for _, v := range c.Plugin.SortedVersions() {
		if v.String() == version {
			arts = c.Plugin.Versions[v.Original()]
		}
	}
	if arts == nil {
		return lp, fmt.Errorf("index %s no longer offers %s", c.Index, version)
	}
	plats := make([]string, 0, len(arts))
	for p := range arts {
		plats = append(plats, p)
	}
	sort.Strings(plats)
	for _, p := range plats {
		a := arts[p]
		u, err := index.ResolveURL(c.Meta, a.URL)
		if err != nil {
			return lp, err
		}
		lp.Platforms[p] = LockedArtifact{URL: u, SHA256: string(a.SHA256), H1: a.H1, Bin: a.Bin}
	}
	if s := lp.Protocol.Schema; s != nil && s.URL != "" {
		u, err := index.ResolveURL(c.Meta, s.URL)
		if err != nil {
			return lp, err
		}
		cp := *s
		cp.URL = u
		lp.Protocol.Schema = &cp
	}
	return lp, nil
}

// RequestEntry is the lock entry of an install outside any index (install
// --from): the one platform it was made for, and the schema given with it.
func RequestEntry(req Request) LockedPlugin {
	lp := LockedPlugin{
		Version: req.Version, Constraint: req.Constraint, Protocol: req.Protocol,
		Platforms: map[string]LockedArtifact{req.Platform: {URL: req.Source, SHA256: req.SHA256, H1: req.H1, Bin: req.Bin}},
	}
	if req.SchemaSet != nil {
		lp.SchemaSet = req.SchemaSet
		lp.Protocol.Schema = &store.Schema{SHA256: schemaSum(req.SchemaSet)}
	}
	return lp
}

// Request returns the install request for platform, or an error naming the
// platforms the lock does record. A schema set the lock carries must hash
// to the SHA-256 it records (an error wrapping *verify.MismatchError
// otherwise).
func (lp LockedPlugin) Request(name, platform string) (Request, error) {
	a, ok := lp.Platforms[platform]
	if !ok {
		var have []string
		for p := range lp.Platforms {
			have = append(have, p)
		}
		sort.Strings(have)
		return Request{}, &index.NotFoundError{What: "platform", Name: name + "@" + lp.Version + " in " + LockFileName, Where: fmt.Sprintf("%s (it records %v)", platform, have)}
	}
	req := Request{
		Name: name, Version: lp.Version, Constraint: lp.Constraint, Source: a.URL,
		SHA256: a.SHA256, H1: a.H1, Bin: a.Bin, Platform: platform, Protocol: lp.Protocol,
	}
	if lp.Index != nil {
		req.Index = lp.Index.Name
	}
	if s := lp.Protocol.Schema; s != nil && s.URL != "" {
		req.SchemaSource = s.URL
	}
	if lp.SchemaSet != nil {
		if err := checkSchemaSet(name+"@"+lp.Version, LockFileName, lp.SchemaSet, lp.Protocol.Schema); err != nil {
			return Request{}, err
		}
		req.SchemaSet = lp.SchemaSet
	}
	return req, nil
}
