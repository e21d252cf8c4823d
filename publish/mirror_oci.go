package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/verify"
)

// MirrorOCIIndexRepository is the repository, under a registry mirror's
// prefix, whose tags are the mirrored indexes (one per index name).
const MirrorOCIIndexRepository = "index"

// MirrorOCIIndexAddress is where MirrorOCI pushes the index name under
// prefix (oci://REGISTRY/PREFIX).
func MirrorOCIIndexAddress(prefix, name string) string {
	return strings.TrimSuffix(prefix, "/") + "/" + MirrorOCIIndexRepository + ":" + name
}

// MirrorOCI copies the index src's artifacts (and gRPC schemas) into a
// registry under prefix (oci://REGISTRY/PREFIX): each plugin's files to
// the repository PREFIX/<plugin>, one manifest per platform gathered under
// the version's tag (as publish --push does), a schema as a manifest of
// its own. A file whose blob the repository holds already is not fetched
// again; any other is fetched and checked against the index's SHA-256
// before it is pushed. The index, rewritten with the manifests' addresses,
// is pushed last (not at all when a file failed) to
// MirrorOCIIndexAddress(prefix, src.Name), signed with o.Sign, its version
// above the one pushed there before.
func MirrorOCI(ctx context.Context, tmpRoot, prefix string, src MirrorSource, o MirrorOptions) (*MirrorIndex, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if _, err := fetch.OCIRepository(prefix); err != nil {
		return nil, err
	}
	prefix = strings.TrimSuffix(prefix, "/")
	idx, err := index.Parse(src.Raw)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Name, err)
	}
	target := MirrorOCIIndexAddress(prefix, src.Name)
	res := &MirrorIndex{Name: src.Name, Source: src.Address, Path: target, Mode: "rewritten", Files: []MirrorFile{}}
	sel, _ := selectEntries(idx, o.Platforms, o.Latest)
	pl, err := planMirror(src, sel, true)
	if err != nil {
		return nil, err
	}
	res.Skipped = pl.skipped
	if o.Sign == nil && src.Signed {
		return nil, &NeedsKeyError{Index: src.Name, Reason: "its artifact URLs become registry addresses"}
	}
	stage, err := os.MkdirTemp(tmpRoot, "index-mirror-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	addrs := map[string]string{} // dst + "\x00" + platform → manifest address
	var errs []error
	for i, j := range pl.jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := pushJob(ctx, o.Fetcher, stage, prefix, i, j, addrs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Report != nil {
			o.Report(f)
		}
		res.Files = append(res.Files, f)
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}

	out := pl.index
	for name, p := range out.Plugins {
		if s := p.Protocol.Schema; s != nil && s.URL != "" {
			ns := *s
			ns.URL = addrs[s.URL+"\x00"]
			p.Protocol.Schema = &ns
		}
		for v, plats := range p.Versions {
			for plat, a := range plats {
				a.URL = addrs[a.URL+"\x00"+plat]
				plats[plat] = a
			}
			p.Versions[v] = plats
		}
		out.Plugins[name] = p
	}
	// The mirror's clients refuse a version that goes down, or the same
	// version with other content: go above what was pushed before.
	prevFile := filepath.Join(stage, "previous.yaml")
	if _, err := o.Fetcher.WithMaxBytes(index.MaxIndexBytes).File(ctx, target, prevFile); err == nil {
		if b, err := os.ReadFile(prevFile); err == nil {
			if prev, err := index.Parse(b); err == nil && prev.Version >= out.Version {
				out.Version = prev.Version + 1
			}
		}
	} else if !errors.Is(err, fetch.ErrNotFound) {
		return nil, fmt.Errorf("index %s: read the mirrored index: %w", src.Name, err)
	}
	if o.Sign != nil {
		if out.Version < 1 {
			out.Version = 1
		}
		exp := o.Now.Add(o.Expires).UTC().Truncate(time.Second)
		out.Expires = &exp
	}
	idxFile := filepath.Join(stage, MirrorIndexFile)
	files := []fetch.OCIFile{{Path: idxFile, Title: MirrorIndexFile}}
	body := index.Marshal(out, false)
	if o.Sign == nil {
		if err := os.WriteFile(idxFile, body, 0o644); err != nil {
			return nil, err
		}
	} else {
		if err := index.WriteSigned(idxFile, body, o.Sign); err != nil {
			return nil, err
		}
		sig := index.SignatureAddress(idxFile)
		files = append(files, fetch.OCIFile{Path: sig, Title: filepath.Base(sig)})
		res.Signed = true
	}
	repo, tag, err := fetch.SplitOCITag(target)
	if err != nil {
		return nil, err
	}
	if _, err := o.Fetcher.PushOCI(ctx, fetch.OCIPush{Repository: repo, ArtifactType: fetch.ArtifactTypeIndex, Files: files, Tag: tag}); err != nil {
		return nil, fmt.Errorf("index %s: %w", src.Name, err)
	}
	res.Changed, res.Version, res.Plugins = true, out.Version, len(out.Plugins)
	return res, nil
}

// pushJob puts one file into the registry: the blob is fetched (and
// checked) only when the plugin's repository lacks it; then a manifest per
// platform (or one without platform, for a schema) names it.
func pushJob(ctx context.Context, f *fetch.Fetcher, stage, prefix string, n int, j *mirrorJob, addrs map[string]string) (MirrorFile, error) {
	file := j.file
	repo := prefix + "/" + file.Plugin
	title := path.Base(j.dst)
	of := fetch.OCIFile{Title: title, SHA256: j.sha256}
	has, size, err := f.OCIHasBlob(ctx, repo, j.sha256)
	if err != nil {
		return file, err
	}
	if has {
		file.Action, file.Size, of.Size = "kept", size, size
	} else {
		tmp := filepath.Join(stage, fmt.Sprintf("%d-%s", n, title))
		res, err := f.File(ctx, j.source, tmp)
		if err != nil {
			return file, err
		}
		defer os.Remove(tmp)
		if res.SHA256 != j.sha256 {
			what := file.Plugin + " schema"
			if file.Version != "" {
				what = file.Plugin + "@" + file.Version + " " + strings.Join(file.Platforms, ",")
			}
			return file, &verify.MismatchError{What: what, Source: j.source, Want: j.sha256, Got: res.SHA256}
		}
		of.Path = tmp
		file.Action, file.Size = "copied", res.Size
	}
	if file.Version == "" {
		pushed, err := f.PushOCI(ctx, fetch.OCIPush{Repository: repo, ArtifactType: fetch.ArtifactTypePlugin, Files: []fetch.OCIFile{of}, Tag: "schema-" + j.sha256[:12]})
		if err != nil {
			return file, err
		}
		addrs[j.dst+"\x00"] = pushed.Address
		file.Path = pushed.Address
		return file, nil
	}
	var all []*fetch.OCIPushed
	for _, p := range file.Platforms {
		pushed, err := f.PushOCI(ctx, fetch.OCIPush{Repository: repo, ArtifactType: fetch.ArtifactTypePlugin, Files: []fetch.OCIFile{of}, Platform: p})
		if err != nil {
			return file, err
		}
		addrs[j.dst+"\x00"+p] = pushed.Address
		all = append(all, pushed)
	}
	if _, err := f.TagOCIPlatforms(ctx, repo, fetch.OCITag(file.Version), all); err != nil {
		return file, err
	}
	file.Path = repo + ":" + fetch.OCITag(file.Version)
	return file, nil
}
