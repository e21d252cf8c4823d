package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// Artifact types plugctl pushes.
const (
	ArtifactTypePlugin = "application/vnd.plugctl.plugin.v1"
	ArtifactTypeIndex  = "application/vnd.plugctl.index.v1"
	// layerMediaType is every pushed file's: plugctl and oras pull take
	// the bytes as they are.
	layerMediaType = "application/octet-stream"
)

// OCIFile is one file of an artifact to push: a layer titled Title, read
// from Path, or with Path empty a blob the registry holds already (see
// OCIHasBlob) with this SHA256 and Size.
type OCIFile struct {
	Path   string
	Title  string
	SHA256 string
	Size   int64
}

// OCIPush is one artifact to push: one manifest of ArtifactType whose
// layers are Files, with Platform (os/arch) in its config when set, tagged
// Tag when set.
type OCIPush struct {
	Repository   string // oci://REGISTRY/REPOSITORY
	ArtifactType string
	Files        []OCIFile
	Platform     string
	Tag          string
}

// OCIPushed says what PushOCI pushed.
type OCIPushed struct {
	// Address names the manifest by digest:
	// oci://REGISTRY/REPOSITORY@sha256:HEX.
	Address  string
	Platform string
	Manifest ocispec.Descriptor
	Files    []PushedFile
}

// PushedFile is one layer pushed, or found in the registry already.
type PushedFile struct {
	Title    string
	SHA256   string
	Size     int64
	Uploaded bool // false: the registry had the blob
}

func (f *Fetcher) pushTarget(ctx context.Context, addr string) (*remote.Repository, string, context.Context, context.CancelFunc, error) {
	repoName, err := OCIRepository(addr)
	if err != nil {
		return nil, "", nil, nil, err
	}
	reg, repo, _ := strings.Cut(repoName, "/")
	tctx, cancel := f.withTimeout(ctx)
	return f.oci.repository(tctx, reg, repo), reg, tctx, cancel, nil
}

// PushOCI pushes p's files (each blob only when the registry lacks it),
// their config and manifest, and tags it when p says so.
func (f *Fetcher) PushOCI(ctx context.Context, p OCIPush) (*OCIPushed, error) {
	repo, reg, tctx, cancel, err := f.pushTarget(ctx, p.Repository)
	if err != nil {
		return nil, err
	}
	defer cancel()
	out, err := f.pushOCI(tctx, repo, p)
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", p.Repository, f.timeoutError(ctx, tctx, f.ociError(tctx, reg, err)))
	}
	return out, nil
}

func (f *Fetcher) pushOCI(ctx context.Context, repo *remote.Repository, p OCIPush) (*OCIPushed, error) {
	out := &OCIPushed{Platform: p.Platform}
	var err error
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: p.ArtifactType,
	}
	for _, file := range p.Files {
		var desc ocispec.Descriptor
		uploaded := false
		if file.Path == "" {
			desc = ocispec.Descriptor{MediaType: layerMediaType, Digest: digest.NewDigestFromEncoded(digest.SHA256, strings.ToLower(file.SHA256)), Size: file.Size}
		} else if desc, uploaded, err = pushFileBlob(ctx, repo, file.Path, f.opts.MaxBytes); err != nil {
			return nil, err
		}
		desc.Annotations = map[string]string{TitleAnnotation: file.Title}
		m.Layers = append(m.Layers, desc)
		out.Files = append(out.Files, PushedFile{Title: file.Title, SHA256: desc.Digest.Encoded(), Size: desc.Size, Uploaded: uploaded})
	}
	cfg := ocispec.DescriptorEmptyJSON
	cfgBytes := ocispec.DescriptorEmptyJSON.Data
	if p.Platform != "" {
		goos, goarch, _ := strings.Cut(p.Platform, "/")
		cfgBytes, _ = json.Marshal(ocispec.Platform{Architecture: goarch, OS: goos})
		cfg = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBytes), Size: int64(len(cfgBytes))}
	}
	cfg.Data = nil
	if err := pushBytes(ctx, repo, cfg, cfgBytes); err != nil {
		return nil, err
	}
	m.Config = cfg
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mdesc := ocispec.Descriptor{MediaType: m.MediaType, ArtifactType: m.ArtifactType, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
	if p.Tag != "" {
		err = repo.PushReference(ctx, mdesc, bytes.NewReader(mb), p.Tag)
	} else {
		err = pushBytes(ctx, repo, mdesc, mb)
	}
	if err != nil {
		return nil, err
	}
	out.Manifest = mdesc
	out.Address = "oci://" + repo.Reference.Registry + "/" + repo.Reference.Repository + "@" + mdesc.Digest.String()
	return out, nil
}

// pushBytes pushes b unless the registry has it.
func pushBytes(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, b []byte) error {
	if ok, err := repo.Exists(ctx, desc); err == nil && ok {
		return nil
	}
	err := repo.Push(ctx, desc, bytes.NewReader(b))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

// pushFileBlob pushes the file at p as a blob unless the registry has it.
func pushFileBlob(ctx context.Context, repo *remote.Repository, p string, max int64) (ocispec.Descriptor, bool, error) {
	fh, err := os.Open(p)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	if !fi.Mode().IsRegular() {
		return ocispec.Descriptor{}, false, fmt.Errorf("%s is not a regular file", p)
	}
	if max >= 0 && fi.Size() > max {
		return ocispec.Descriptor{}, false, fmt.Errorf("%s: %w: %d bytes, limit %d", p, ErrTooLarge, fi.Size(), max)
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	desc := ocispec.Descriptor{MediaType: layerMediaType, Digest: digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))), Size: n}
	if ok, err := repo.Exists(ctx, desc); err == nil && ok {
		return desc, false, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return ocispec.Descriptor{}, false, err
	}
	err = repo.Push(ctx, desc, io.LimitReader(fh, n))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return desc, false, nil
	}
	return desc, err == nil, err
}

// TagOCIPlatforms makes tag in repository (oci://REGISTRY/REPOSITORY) an
// image index holding the manifests pushed, each under its platform, and
// the platforms it held before that these do not replace: publishing one
// platform after another builds the multi-platform tag.
func (f *Fetcher) TagOCIPlatforms(ctx context.Context, repository, tag string, pushed []*OCIPushed) (string, error) {
	repo, reg, tctx, cancel, err := f.pushTarget(ctx, repository)
	if err != nil {
		return "", err
	}
	defer cancel()
	d, err := f.tagPlatforms(tctx, repo, tag, pushed)
	if err != nil {
		return "", fmt.Errorf("tag %s:%s: %w", repository, tag, f.timeoutError(ctx, tctx, f.ociError(tctx, reg, err)))
	}
	return d, nil
}

func (f *Fetcher) tagPlatforms(ctx context.Context, repo *remote.Repository, tag string, pushed []*OCIPushed) (string, error) {
	if err := (registry.Reference{Registry: repo.Reference.Registry, Repository: repo.Reference.Repository, Reference: tag}).ValidateReferenceAsTag(); err != nil {
		return "", err
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, ArtifactType: ArtifactTypePlugin}
	old, err := repo.Resolve(ctx, tag)
	switch {
	case err == nil && slices.Contains(indexTypes, old.MediaType):
		b, err := fetchManifest(ctx, repo, old)
		if err != nil {
			return "", err
		}
		var prev ocispec.Index
		if err := json.Unmarshal(b, &prev); err != nil {
			return "", fmt.Errorf("image index at %s: %w", tag, err)
		}
		for _, m := range prev.Manifests {
			replaced := false
			for _, p := range pushed {
				if m.Platform != nil && m.Platform.OS+"/"+m.Platform.Architecture == p.Platform {
					replaced = true
				}
			}
			if !replaced {
				idx.Manifests = append(idx.Manifests, m)
			}
		}
	case err == nil, errors.Is(err, errdef.ErrNotFound):
		// No tag yet, or one naming a single manifest: start afresh.
	default:
		return "", err
	}
	for _, p := range pushed {
		d := p.Manifest
		if p.Platform != "" {
			goos, goarch, _ := strings.Cut(p.Platform, "/")
			d.Platform = &ocispec.Platform{OS: goos, Architecture: goarch}
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return platformKey(idx.Manifests[i]) < platformKey(idx.Manifests[j])
	})
	b, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	desc := ocispec.Descriptor{MediaType: idx.MediaType, ArtifactType: idx.ArtifactType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(b), tag); err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

func platformKey(d ocispec.Descriptor) string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}

// OCIHasBlob reports whether repository (oci://REGISTRY/REPOSITORY) holds
// the blob with this SHA-256, so that a mirror need not fetch it again.
func (f *Fetcher) OCIHasBlob(ctx context.Context, repository, sum string) (bool, int64, error) {
	repo, reg, tctx, cancel, err := f.pushTarget(ctx, repository)
	if err != nil {
		return false, 0, err
	}
	defer cancel()
	d, err := repo.Blobs().Resolve(tctx, "sha256:"+strings.ToLower(sum))
	if errors.Is(err, errdef.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, f.ociError(tctx, reg, err)
	}
	return true, d.Size, nil
}

// PushPlatforms publishes one plugin file to repository
// (oci://REGISTRY/REPOSITORY): a manifest per platform (artifact type
// ArtifactTypePlugin, the file its one layer titled with its base name, the
// platform in its config), all added to the image index tagged tag. It
// returns each platform's manifest address (…@sha256:…) and the file's
// SHA-256.
func (f *Fetcher) PushPlatforms(ctx context.Context, repository, file, tag string, platforms []string) (map[string]string, string, error) {
	urls := map[string]string{}
	var pushed []*OCIPushed
	sum := ""
	for _, p := range platforms {
		res, err := f.PushOCI(ctx, OCIPush{
			Repository: repository, ArtifactType: ArtifactTypePlugin, Platform: p,
			Files: []OCIFile{{Path: file, Title: filepath.Base(file)}},
		})
		if err != nil {
			return nil, "", err
		}
		urls[p] = res.Address
		sum = res.Files[0].SHA256
		pushed = append(pushed, res)
	}
	if tag != "" && len(pushed) > 0 {
		if _, err := f.TagOCIPlatforms(ctx, repository, tag, pushed); err != nil {
			return nil, "", err
		}
	}
	return urls, sum, nil
}

// SplitOCITag checks a tagged registry address, oci://REGISTRY/REPOSITORY:TAG,
// and returns oci://REGISTRY/REPOSITORY and TAG.
func SplitOCITag(addr string) (string, string, error) {
	s, err := parse(addr, "")
	if err != nil {
		return "", "", err
	}
	if s.kind != kindOCI || s.oci.pinned() {
		return "", "", fmt.Errorf("%s: want a tagged registry address, oci://REGISTRY/REPOSITORY:TAG", addr)
	}
	return "oci://" + s.oci.ref.Registry + "/" + s.oci.ref.Repository, s.oci.ref.Reference, nil
}
