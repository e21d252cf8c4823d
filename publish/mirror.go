package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// MirrorOptions configure Mirror.
type MirrorOptions struct {
	Fetcher   *fetch.Fetcher
	Platforms []string // keep only these os/arch (empty: all)
	Latest    int      // keep the N newest versions of each plugin (0: all)
	// Sign signs an index file's bytes; nil when the operator gave no key.
	// Only a rewritten index is signed with it, before it replaces the old
	// one (index.WriteSigned).
	Sign    index.SignFunc
	Expires time.Duration // how long a re-signed index stays valid
	Now     time.Time
	// Report, when set, is called for each file once it is copied or kept.
	Report func(MirrorFile)
}

// MirrorSource is one index to mirror: its cached bytes, as fetched.
type MirrorSource struct {
	Name    string
	Address string // where the index was fetched from: relative URLs resolve against it
	Raw     []byte
	Sig     []byte // its verified signature, when configured with keys
	Signed  bool   // configured with keys: its clients check a signature
}

// MirrorFile is one file copied into the mirror, or found there already.
type MirrorFile struct {
	Index     string   `json:"index"`
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version,omitempty"` // empty for a plugin's gRPC schema
	Platforms []string `json:"platforms,omitempty"`
	Path      string   `json:"path"`   // relative to the mirror directory, slash-separated
	Source    string   `json:"source"` // the address it was copied from
	SHA256    string   `json:"sha256"`
	Size      int64    `json:"size"`
	Action    string   `json:"action"` // "copied" or "kept" (present with the right hash)
}

// MirrorIndex says what Mirror did with one index.
type MirrorIndex struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Path   string `json:"path"` // the mirrored index, relative to the mirror directory
	// Mode is "copied" (byte for byte: every URL was relative, so the
	// publisher's signature stays valid) or "rewritten" (URLs made
	// relative, or versions and platforms filtered out).
	Mode    string       `json:"mode"`
	Signed  bool         `json:"signed"`
	Changed bool         `json:"changed"` // the index file was written (false: already up to date)
	Version int64        `json:"version,omitempty"`
	Plugins int          `json:"plugins"`
	Files   []MirrorFile `json:"files"`
	Skipped []string     `json:"skipped,omitempty"` // artifacts left out, and why
}

// NeedsKeyError is returned when a signed index has to be rewritten (its
// URLs are absolute, or a filter drops entries) and no key was given to
// re-sign it: written unsigned, its clients would refuse it.
type NeedsKeyError struct {
	Index  string
	Reason string
}

func (e *NeedsKeyError) Error() string {
	return fmt.Sprintf("index %s is signed and mirroring rewrites it (%s), which breaks the publisher's signature: it must be re-signed", e.Index, e.Reason)
}

// MirrorIndexFile is the name of a mirrored index inside its directory.
const MirrorIndexFile = "index.yaml"

// Mirror copies the index src and its artifacts (and gRPC schemas) into
// dir/sub, checking each file's SHA-256 against the index before it is
// moved into place; a file already there with the right hash is kept, so
// a second run fetches only what is new. When every URL is relative (and no
// filter drops anything) the index is copied byte for byte with its
// signature, its artifacts at the same relative paths. Otherwise the index
// is rewritten with relative URLs, every file laid out as
// <plugin>/<version>/<os>_<arch>/<file> (a gRPC schema as
// <plugin>/schema/<file>), and signed with o.Sign. The index
// file is written last, and not at all when any file failed: a mismatch
// leaves no bad file and no index naming a missing one.
//
// Artifacts that deliver a directory (a git repository with bin) are left
// out and listed in Skipped: a mirror holds files.
func Mirror(ctx context.Context, dir, sub string, src MirrorSource, o MirrorOptions) (*MirrorIndex, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	idx, err := index.Parse(src.Raw)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Name, err)
	}
	outDir := filepath.Join(dir, filepath.FromSlash(sub))
	res := &MirrorIndex{Name: src.Name, Source: src.Address, Path: path.Join(sub, MirrorIndexFile), Files: []MirrorFile{}}
	sel, filtered := selectEntries(idx, o.Platforms, o.Latest)
	pl, err := planMirror(src, sel, false)
	if err != nil {
		return nil, err
	}
	rewrite, why := filtered || pl.absolute || len(pl.skipped) > 0, ""
	if rewrite {
		// Every file moves to the layout, so that no file kept at its old
		// relative path (a bare binary named like its plugin) collides
		// with a directory of the layout.
		if pl, err = planMirror(src, sel, true); err != nil {
			return nil, err
		}
	}
	res.Skipped = pl.skipped
	switch {
	case pl.absolute:
		why = "its artifact URLs are not all relative"
	case len(pl.skipped) > 0:
		why = "directory artifacts are left out"
	case filtered:
		why = "--platform or --latest leave entries out"
	}
	if rewrite && o.Sign == nil && src.Signed {
		return nil, &NeedsKeyError{Index: src.Name, Reason: why}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(outDir, ".plugctl-mirror-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	var errs []error
	for i, j := range pl.jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := copyVerified(ctx, o.Fetcher, stage, outDir, i, j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.Path = path.Join(sub, j.dst)
		if o.Report != nil {
			o.Report(f)
		}
		res.Files = append(res.Files, f)
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}

	out := filepath.Join(outDir, MirrorIndexFile)
	sigPath := out + ".minisig"
	old, _ := os.ReadFile(out)
	res.Plugins = len(pl.index.Plugins)
	if !rewrite {
		res.Mode = "copied"
		res.Version = idx.Version
		if err := writeVerbatim(ctx, o.Fetcher, stage, src, out, old, res); err != nil {
			return nil, err
		}
		return res, nil
	}
	res.Mode = "rewritten"
	if o.Sign == nil {
		body := index.Marshal(pl.index, false)
		res.Version = pl.index.Version
		if !bytes.Equal(old, body) {
			if err := store.WriteFileAtomic(out, body, 0o644); err != nil {
				return nil, err
			}
			res.Changed = true
		}
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return res, nil
	}
	// Re-sign only when the content changed or the signature is half way
	// to its expiry: an incremental run leaves a current mirror alone.
	res.Signed = true
	if prev, err := index.Parse(old); err == nil && sameEntries(prev, pl.index) && fileExists(sigPath) &&
		prev.Expires != nil && prev.Expires.After(o.Now.Add(o.Expires/2)) {
		res.Version = prev.Version
		return res, nil
	} else if err == nil && prev.Version >= pl.index.Version {
		// The mirror's clients refuse a version that goes down, or the
		// same version with other content.
		pl.index.Version = prev.Version + 1
	}
	if pl.index.Version < 1 {
		pl.index.Version = 1
	}
	exp := o.Now.Add(o.Expires).UTC().Truncate(time.Second)
	pl.index.Expires = &exp
	if err := index.WriteSigned(out, index.Marshal(pl.index, false), o.Sign); err != nil {
		return nil, err
	}
	res.Version, res.Changed = pl.index.Version, true
	return res, nil
}

// writeVerbatim writes the index's bytes as fetched, with its signature:
// the verified one from the cache, else whatever lies at the signature
// address (an index configured without keys may still be signed for
// others), else none.
func writeVerbatim(ctx context.Context, f *fetch.Fetcher, stage string, src MirrorSource, out string, old []byte, res *MirrorIndex) error {
	sigPath := out + ".minisig"
	same := bytes.Equal(old, src.Raw)
	sig := src.Sig
	keep := false
	if sig == nil {
		if same {
			// Nothing changed since the last run: the signature (or its
			// absence) neither, and an incremental run makes no request.
			keep = fileExists(sigPath)
		} else {
			tmp := filepath.Join(stage, "index.minisig")
			_, err := f.WithMaxBytes(index.MaxSignatureBytes).File(ctx, index.SignatureAddress(src.Address), tmp)
			var he *fetch.HTTPError
			switch {
			case err == nil:
				if sig, err = os.ReadFile(tmp); err != nil {
					return err
				}
			case errors.Is(err, fetch.ErrNotFound), errors.As(err, &he) && he.Status == http.StatusForbidden:
				// No signature (object stores answer 403 for a missing key).
			default:
				return fmt.Errorf("index %s: signature: %w", src.Name, err)
			}
		}
	}
	if !same {
		if err := store.WriteFileAtomic(out, src.Raw, 0o644); err != nil {
			return err
		}
		res.Changed = true
	}
	switch {
	case keep:
		res.Signed = true
	case same && sig == nil:
		// Unchanged and unsigned.
	case sig != nil:
		res.Signed = true
		if oldSig, _ := os.ReadFile(sigPath); !bytes.Equal(oldSig, sig) {
			if err := store.WriteFileAtomic(sigPath, sig, 0o644); err != nil {
				return err
			}
			res.Changed = true
		}
	default:
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// sameEntries reports whether two indexes differ at most in version and
// expiry.
func sameEntries(a, b *index.Index) bool {
	ca, cb := *a, *b
	ca.Version, cb.Version, ca.Expires, cb.Expires = 0, 0, nil, nil
	return bytes.Equal(index.Marshal(&ca, false), index.Marshal(&cb, false))
}

// selectEntries keeps the platforms asked for and then the newest latest
// versions of each plugin; filtered reports whether anything was left out.
func selectEntries(idx *index.Index, platforms []string, latest int) (*index.Index, bool) {
	out := *idx
	out.Plugins = map[string]index.Plugin{}
	filtered := false
	for name, p := range idx.Plugins {
		np := p
		np.Versions = map[string]map[string]index.Artifact{}
		for v, plats := range p.Versions {
			kept := map[string]index.Artifact{}
			for plat, a := range plats {
				if len(platforms) == 0 || slices.Contains(platforms, plat) {
					kept[plat] = a
				} else {
					filtered = true
				}
			}
			if len(kept) > 0 {
				np.Versions[v] = kept
			} else if len(plats) > 0 {
				filtered = true
			}
		}
		if latest > 0 {
			for i, v := range np.SortedVersions() {
				if i >= latest {
					delete(np.Versions, v.Original())
					filtered = true
				}
			}
		}
		if len(np.Versions) == 0 && len(p.Versions) > 0 {
			filtered = true
			continue
		}
		out.Plugins[name] = np
	}
	return &out, filtered
}

// mirrorJob is one file to copy.
type mirrorJob struct {
	dst    string // slash-separated, relative to the mirrored index's directory
	source string // absolute address
	sha256 string
	file   MirrorFile
}

type mirrorPlan struct {
	index    *index.Index // the index as the mirror serves it, URLs relative
	jobs     []*mirrorJob
	absolute bool // some URL had to be made relative: the index is rewritten
	skipped  []string
}

// planMirror lists the files to copy and the index the mirror serves. With
// layout, every file goes to <plugin>/<version>/<os>_<arch>/<file> (a
// schema to <plugin>/schema/<file>); without, a relative URL keeps its path
// and absolute reports whether any URL was not one.
func planMirror(src MirrorSource, sel *index.Index, layout bool) (*mirrorPlan, error) {
	pl := &mirrorPlan{index: &index.Index{APIVersion: sel.APIVersion, Version: sel.Version, Expires: sel.Expires, Plugins: map[string]index.Plugin{}}}
	byDst := map[string]*mirrorJob{}
	bySource := map[string]string{} // source + sha256 → dst: one copy of a file two platforms share
	add := func(rawURL, sum, layoutDir, plugin, version, platform string) (string, error) {
		source, err := fetch.Resolve(src.Address, rawURL)
		if err != nil {
			return "", fmt.Errorf("index %s: %s: %w", src.Name, plugin, err)
		}
		key := source + "\x00" + strings.ToLower(sum)
		dst, ok := bySource[key]
		if !ok {
			rel, inTree := treePath(rawURL)
			switch {
			case inTree && !layout:
				dst = rel
			default:
				pl.absolute = pl.absolute || !inTree
				dst = path.Join(layoutDir, install.SafeFileName(install.ArtifactFileName(source)))
			}
			bySource[key] = dst
		}
		j := byDst[dst]
		switch {
		case j == nil:
			j = &mirrorJob{dst: dst, source: source, sha256: strings.ToLower(sum),
				file: MirrorFile{Index: src.Name, Plugin: plugin, Version: version, Path: dst, Source: source, SHA256: strings.ToLower(sum)}}
			byDst[dst] = j
			pl.jobs = append(pl.jobs, j)
		case j.sha256 != strings.ToLower(sum) || j.source != source:
			return "", fmt.Errorf("index %s: %s and %s@%s %s both map to %s in the mirror", src.Name, j.source, plugin, version, source, dst)
		}
		if platform != "" {
			j.file.Platforms = append(j.file.Platforms, platform)
		}
		return dst, nil
	}
	for _, name := range sel.Names() {
		p := sel.Plugins[name]
		np := p
		if s := p.Protocol.Schema; s != nil && s.URL != "" {
			dst, err := add(s.URL, s.SHA256, path.Join(name, "schema"), name, "", "")
			if err != nil {
				return nil, err
			}
			ns := *s
			ns.URL = dst
			np.Protocol.Schema = &ns
		}
		np.Versions = map[string]map[string]index.Artifact{}
		for _, v := range sortedKeys(p.Versions) {
			for _, plat := range sortedKeys(p.Versions[v]) {
				a := p.Versions[v][plat]
				source, err := fetch.Resolve(src.Address, a.URL)
				if err != nil {
					return nil, fmt.Errorf("index %s: %s@%s %s: %w", src.Name, name, v, plat, err)
				}
				if install.IsDirSource(source, a.Bin) {
					pl.skipped = append(pl.skipped, fmt.Sprintf("%s@%s %s: %s delivers a directory (a git repository with bin), and a mirror holds files", name, v, plat, source))
					continue
				}
				goos, goarch, _ := index.SplitPlatform(plat)
				dst, err := add(a.URL, string(a.SHA256), path.Join(name, v, goos+"_"+goarch), name, v, plat)
				if err != nil {
					return nil, err
				}
				if np.Versions[v] == nil {
					np.Versions[v] = map[string]index.Artifact{}
				}
				a.URL = dst
				np.Versions[v][plat] = a
			}
		}
		if len(np.Versions) == 0 && len(p.Versions) > 0 {
			continue
		}
		pl.index.Plugins[name] = np
	}
	return pl, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		vi, ei := semver.StrictNewVersion(keys[i])
		vj, ej := semver.StrictNewVersion(keys[j])
		if ei == nil && ej == nil {
			return vi.LessThan(vj)
		}
		return keys[i] < keys[j]
	})
	return keys
}

// treePath returns the path a relative URL names inside the index's
// directory, and false for anything else: a URL with a scheme or getter,
// an absolute path, one that climbs out of the directory, or one with a
// query or escapes (which a static file server and a path would read
// differently).
func treePath(ref string) (string, bool) {
	if ref == "" || strings.Contains(ref, "://") || strings.Contains(ref, "::") || strings.ContainsAny(ref, "?#%\\") ||
		strings.HasPrefix(ref, "/") || filepath.IsAbs(ref) || fetch.IsGit(ref) {
		return "", false
	}
	if i := strings.IndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[:i], "/") {
		return "", false // scheme:opaque, or user@host:path
	}
	c := path.Clean(ref)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, ".") {
		return "", false
	}
	return c, true
}

// copyVerified puts one file into the mirror: kept when already there with
// the right hash, else fetched into the staging directory, checked, and
// renamed into place.
func copyVerified(ctx context.Context, f *fetch.Fetcher, stage, outDir string, n int, j *mirrorJob) (MirrorFile, error) {
	file := j.file
	target := filepath.Join(outDir, filepath.FromSlash(j.dst))
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
		if sum, err := verify.FileSHA256(target); err == nil && sum == j.sha256 {
			file.Action, file.Size = "kept", fi.Size()
			return file, nil
		}
	}
	tmp := filepath.Join(stage, fmt.Sprintf("%d-%s", n, path.Base(j.dst)))
	res, err := f.File(ctx, j.source, tmp)
	if err != nil {
		return file, err
	}
	what := file.Plugin
	if file.Version != "" {
		what += "@" + file.Version + " " + strings.Join(file.Platforms, ",")
	} else {
		what += " schema"
	}
	if res.SHA256 != j.sha256 {
		os.Remove(tmp)
		return file, &verify.MismatchError{What: what, Source: j.source, Want: j.sha256, Got: res.SHA256}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return file, err
	}
	if err := os.Rename(tmp, target); err != nil {
		return file, err
	}
	file.Action, file.Size = "copied", res.Size
	return file, nil
}
