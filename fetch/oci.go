package fetch

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	dockercreds "oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/plugctl/plugctl/verify"
)

// OCI registries. An address oci://REGISTRY/REPOSITORY:TAG or
// oci://REGISTRY/REPOSITORY@sha256:DIGEST names a manifest (or an image
// index, of which the manifest for Options.Platform is taken); the file it
// delivers is one of the manifest's layers (see pickLayer).
const (
	// OCIScheme is the URL scheme of a registry address.
	OCIScheme = "oci"
	// EnvOCIPlainHTTP lists registries (host:port, comma-separated) spoken
	// to over plain HTTP.
	EnvOCIPlainHTTP = "PLUGCTL_OCI_PLAIN_HTTP"
	// TitleAnnotation names a layer's file, as oras push writes it.
	TitleAnnotation = ocispec.AnnotationTitle

	// maxManifestBytes bounds a manifest or image index.
	maxManifestBytes = 4 << 20
	// signatureSuffix ends the title of an index's signature layer.
	signatureSuffix = ".minisig"
)

// RegistryAuthError is a registry that refused the request for want of
// credentials (401) or rights (403).
type RegistryAuthError struct {
	Registry string // host[:port]
	Status   int
	err      error
}

func (e *RegistryAuthError) Error() string {
	what := "refused access"
	if e.Status == http.StatusUnauthorized {
		what = "asks for credentials"
	}
	msg := fmt.Sprintf("registry %s %s (http status %d)", e.Registry, what, e.Status)
	if e.Status == http.StatusUnauthorized && e.err != nil && errors.Is(e.err, auth.ErrBasicCredentialNotFound) {
		msg += ": none found for it"
	}
	return msg
}

func (e *RegistryAuthError) Unwrap() error { return e.err }

// ociRef is a parsed registry address.
type ociRef struct {
	ref registry.Reference
}

// pinned reports whether the address names its manifest by digest.
func (r ociRef) pinned() bool {
	_, err := r.ref.Digest()
	return err == nil
}

func parseOCI(rest string) (*source, error) {
	_, after, _ := strings.Cut(rest, "://")
	if strings.ContainsAny(after, "?#") {
		return nil, fmt.Errorf("oci address %q: a registry reference has no query or fragment", rest)
	}
	ref, err := registry.ParseReference(after)
	if err != nil {
		return nil, fmt.Errorf("oci address: want oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST: %w", err)
	}
	if ref.Reference == "" {
		return nil, fmt.Errorf("oci address %s names no tag or digest (oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST)", after)
	}
	if d, err := ref.Digest(); err == nil && d.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("oci address %s: only sha256 digests are accepted", after)
	}
	return &source{kind: kindOCI, oci: ociRef{ref: ref}}, nil
}

// IsOCI reports whether addr is a registry address (oci://…).
func IsOCI(addr string) bool {
	scheme, ok := hasScheme(addr)
	return ok && scheme == OCIScheme
}

// OCIPinned reports whether addr is a registry address naming its manifest
// by digest: the manifest then pins its layers' digests, which pin their
// bytes, so no separate SHA-256 is needed to trust what it delivers.
func OCIPinned(addr string) bool {
	if !IsOCI(addr) {
		return false
	}
	s, err := parseOCI(addr)
	return err == nil && s.oci.pinned()
}

// OCIRepository checks a push target, oci://REGISTRY/REPOSITORY with no
// tag or digest, and returns it as REGISTRY/REPOSITORY.
func OCIRepository(addr string) (string, error) {
	if !IsOCI(addr) {
		return "", fmt.Errorf("%s is not a registry address (oci://REGISTRY/REPOSITORY)", addr)
	}
	_, after, _ := strings.Cut(addr, "://")
	after = strings.TrimSuffix(after, "/")
	ref, err := registry.ParseReference(after)
	if err != nil {
		return "", fmt.Errorf("registry address %s: %w", addr, err)
	}
	if ref.Reference != "" {
		return "", fmt.Errorf("registry address %s: name a repository, without a tag or digest", addr)
	}
	return ref.Registry + "/" + ref.Repository, nil
}

// OCITag turns a version into a tag: a tag cannot hold semver's '+', so it
// becomes '_', as Helm does.
func OCITag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// isLoopbackHost reports whether host (no port) is this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ociTransport is what every registry request goes through: one client,
// the decision of plain HTTP per registry, and the credentials.
type ociTransport struct {
	f    *Fetcher
	base *http.Client // no credentials; plugctl's redirect policy

	mu    sync.Mutex
	plain map[string]bool // registry → plain HTTP, once decided

	storeOnce sync.Once
	store     dockercreds.Store
	storeErr  error

	client *auth.Client
}

func newOCITransport(f *Fetcher, c *http.Client) *ociTransport {
	t := &ociTransport{f: f, plain: map[string]bool{}}
	base := *c
	base.CheckRedirect = redirectPolicy(c.CheckRedirect)
	t.base = &base
	t.client = &auth.Client{
		Client:     t.base,
		Header:     http.Header{"User-Agent": {"plugctl"}},
		Cache:      auth.NewCache(),
		Credential: t.credential,
	}
	return t
}

// plainListed reports whether the user named registry in EnvOCIPlainHTTP.
func (t *ociTransport) plainListed(reg string) bool {
	for _, h := range strings.Split(t.f.getenv(EnvOCIPlainHTTP), ",") {
		if h = strings.TrimSpace(h); h != "" && strings.EqualFold(h, reg) {
			return true
		}
	}
	return false
}

// usePlainHTTP decides how to speak to reg: plain HTTP when the user says
// so; for a registry on this machine, HTTPS first and plain HTTP when the
// TLS handshake fails (as Docker does); HTTPS otherwise.
func (t *ociTransport) usePlainHTTP(ctx context.Context, reg string) bool {
	t.mu.Lock()
	p, ok := t.plain[reg]
	t.mu.Unlock()
	if ok {
		return p
	}
	p = t.plainListed(reg)
	host := reg
	if h, _, err := net.SplitHostPort(reg); err == nil {
		host = h
	}
	if !p && isLoopbackHost(host) {
		p = t.tlsFails(ctx, reg)
	}
	t.mu.Lock()
	t.plain[reg] = p
	t.mu.Unlock()
	return p
}

// tlsFails probes https://reg/v2/ and reports whether the server answered
// the TLS handshake with plain HTTP.
func (t *ociTransport) tlsFails(ctx context.Context, reg string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := t.base.Do(req)
	if err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return false
	}
	var rh tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &rh)
}

// credential is the registry's credential: a token from the environment
// (the same variable as for an HTTP host) sent as a registry access token,
// else what docker login or oras login stored in Docker's configuration
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json, with its
// credential helpers). Nothing goes to a non-loopback registry over plain
// HTTP.
func (t *ociTransport) credential(ctx context.Context, hostport string) (auth.Credential, error) {
	t.mu.Lock()
	plain := t.plain[hostport]
	t.mu.Unlock()
	scheme := "https"
	if plain {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: hostport}
	if !credentialsAllowed(u) {
		return auth.EmptyCredential, nil
	}
	if tok := strings.TrimSpace(t.f.getenv(TokenEnv(hostKey(u)))); tok != "" {
		return auth.Credential{AccessToken: tok}, nil
	}
	t.storeOnce.Do(func() {
		dir := t.f.getenv("DOCKER_CONFIG")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.store = dockercreds.NewMemoryStore()
				return
			}
			dir = filepath.Join(home, ".docker")
		}
		p := filepath.Join(dir, "config.json")
		s, err := dockercreds.NewStore(p, dockercreds.StoreOptions{})
		if err != nil {
			t.storeErr = fmt.Errorf("read docker credentials %s: %w", p, err)
			return
		}
		t.store = s
	})
	if t.storeErr != nil {
		return auth.EmptyCredential, t.storeErr
	}
	return dockercreds.Credential(t.store)(ctx, hostport)
}

// repository returns the client of one repository.
func (t *ociTransport) repository(ctx context.Context, reg, repo string) *remote.Repository {
	return &remote.Repository{
		Client:          t.client,
		Reference:       registry.Reference{Registry: reg, Repository: repo},
		PlainHTTP:       t.usePlainHTTP(ctx, reg),
		SkipReferrersGC: true,
	}
}

// ociError turns what oras-go returns into plugctl's kinds of error.
func (f *Fetcher) ociError(ctx context.Context, reg string, err error) error {
	if err == nil {
		return nil
	}
	if err := f.idleError(ctx); err != nil {
		return err
	}
	var er *errcode.ErrorResponse
	switch {
	case errors.As(err, &er) && (er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden):
		return &RegistryAuthError{Registry: reg, Status: er.StatusCode, err: err}
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return &RegistryAuthError{Registry: reg, Status: http.StatusUnauthorized, err: err}
	case errors.As(err, &er) && er.StatusCode == http.StatusNotFound, errors.Is(err, errdef.ErrNotFound):
		return &notFoundError{err}
	}
	return err
}

// manifest media types plugctl reads: OCI's and Docker's, which share a
// layout.
var (
	indexTypes    = []string{ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json"}
	manifestTypes = []string{ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json"}
)

// fetchManifest reads the manifest desc names, checked against its digest.
func fetchManifest(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxManifestBytes {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than %d", desc.Digest, desc.Size, maxManifestBytes)
	}
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return b, nil
}

// ociManifest resolves the address to the manifest for this platform.
func (f *Fetcher) ociManifest(ctx context.Context, repo *remote.Repository, r ociRef) (ocispec.Descriptor, *ocispec.Manifest, error) {
	desc, err := repo.Resolve(ctx, r.ref.Reference)
	if err != nil {
		return desc, nil, err
	}
	if d, err := r.ref.Digest(); err == nil && desc.Digest != d {
		return desc, nil, &verify.MismatchError{What: "manifest", Source: "oci://" + r.ref.String(), Want: d.Encoded(), Got: desc.Digest.Encoded()}
	}
	b, err := fetchManifest(ctx, repo, desc)
	if err != nil {
		return desc, nil, err
	}
	if !slices.Contains(indexTypes, desc.MediaType) && !slices.Contains(manifestTypes, desc.MediaType) {
		// Some registries answer with a generic content type: the
		// document says what it is.
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(b, &probe) == nil && (slices.Contains(indexTypes, probe.MediaType) || slices.Contains(manifestTypes, probe.MediaType)) {
			desc.MediaType = probe.MediaType
		}
	}
	if slices.Contains(indexTypes, desc.MediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return desc, nil, fmt.Errorf("image index %s: %w", desc.Digest, err)
		}
		goos, goarch := f.platform()
		var offered []string
		found := false
		for _, m := range idx.Manifests {
			if m.Platform == nil {
				continue
			}
			offered = append(offered, m.Platform.OS+"/"+m.Platform.Architecture)
			if m.Platform.OS == goos && m.Platform.Architecture == goarch && slices.Contains(manifestTypes, m.MediaType) {
				desc, found = m, true
				break
			}
		}
		if !found {
			return desc, nil, &notFoundError{fmt.Errorf("image index %s has no manifest for %s/%s (it offers: %s)", desc.Digest, goos, goarch, strings.Join(offered, ", "))}
		}
		if b, err = fetchManifest(ctx, repo, desc); err != nil {
			return desc, nil, err
		}
	} else if !slices.Contains(manifestTypes, desc.MediaType) {
		return desc, nil, fmt.Errorf("%s is a %q, not an image manifest or index", r.ref.String(), desc.MediaType)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return desc, nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return desc, &m, nil
}

func (f *Fetcher) platform() (string, string) {
	p := f.opts.Platform
	if p == "" {
		return defaultOS, defaultArch
	}
	goos, goarch, _ := strings.Cut(p, "/")
	return goos, goarch
}

// pickLayer chooses the layer the file is: want is the name the caller
// asks for (the base name of its destination). A name ending in .minisig
// asks for the signature layer (an index's, beside it). Otherwise the layer
// titled want, else the only layer, else the only layer that is not a
// signature.
func pickLayer(m *ocispec.Manifest, want string) (ocispec.Descriptor, error) {
	title := func(d ocispec.Descriptor) string { return d.Annotations[TitleAnnotation] }
	var titles []string
	for _, l := range m.Layers {
		titles = append(titles, fmt.Sprintf("%q", title(l)))
	}
	if strings.HasSuffix(want, signatureSuffix) {
		var sigs []ocispec.Descriptor
		for _, l := range m.Layers {
			if strings.HasSuffix(title(l), signatureSuffix) {
				sigs = append(sigs, l)
			}
		}
		if len(sigs) == 1 {
			return sigs[0], nil
		}
		if len(sigs) == 0 {
			return ocispec.Descriptor{}, &notFoundError{errors.New("the manifest has no signature layer (titled *.minisig)")}
		}
		return ocispec.Descriptor{}, fmt.Errorf("the manifest has %d signature layers", len(sigs))
	}
	for _, l := range m.Layers {
		if title(l) == want {
			return l, nil
		}
	}
	if len(m.Layers) == 1 {
		return m.Layers[0], nil
	}
	var files []ocispec.Descriptor
	for _, l := range m.Layers {
		if !strings.HasSuffix(title(l), signatureSuffix) {
			files = append(files, l)
		}
	}
	if len(files) == 1 {
		return files[0], nil
	}
	if len(m.Layers) == 0 {
		return ocispec.Descriptor{}, errors.New("the manifest has no layer")
	}
	return ocispec.Descriptor{}, fmt.Errorf("the manifest has %d layers (%s) and none is titled %q", len(m.Layers), strings.Join(titles, ", "), want)
}

// ociFile fetches the layer s names to dst.
func (f *Fetcher) ociFile(ctx context.Context, s *source, dst string) (res Result, err error) {
	ctx, b, stop := f.watchedBody(ctx)
	defer stop()
	reg := s.oci.ref.Registry
	repo := f.oci.repository(ctx, reg, s.oci.ref.Repository)
	mdesc, m, err := f.ociManifest(ctx, repo, s.oci)
	if err != nil {
		return Result{}, f.ociError(ctx, reg, err)
	}
	if b.onData != nil {
		b.onData()
	}
	layer, err := pickLayer(m, filepath.Base(dst))
	if err != nil {
		return Result{}, fmt.Errorf("manifest %s: %w", mdesc.Digest, err)
	}
	// Validate first: go-digest's Algorithm panics on a digest without ':'.
	if err := layer.Digest.Validate(); err != nil || layer.Digest.Algorithm() != digest.SHA256 {
		return Result{}, fmt.Errorf("manifest %s: layer %q: only sha256 digests are accepted", mdesc.Digest, layer.Digest)
	}
	if b.max >= 0 && layer.Size > b.max {
		return Result{}, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, layer.Size, b.max)
	}
	name := path.Base(layer.Annotations[TitleAnnotation])
	if name == "." || name == "/" {
		name = ""
	}
	if f.opts.Progress != nil {
		label := name
		if label == "" {
			label = s.oci.ref.Repository
		}
		b.progress = f.opts.Progress(label, layer.Size)
	}
	rc, err := repo.Fetch(ctx, layer)
	if err != nil {
		return Result{}, f.ociError(ctx, reg, err)
	}
	defer rc.Close()
	b.rc = rc
	var sum string
	checked := false
	err = writeBeside(dst, b, func() error {
		checked = true
		sum = hex.EncodeToString(b.h.Sum(nil))
		if b.n != layer.Size || sum != layer.Digest.Encoded() {
			return &verify.MismatchError{What: "layer " + layer.Digest.String() + " of manifest " + mdesc.Digest.String(),
				Source: "oci://" + s.oci.ref.String(), Want: layer.Digest.Encoded(), Got: sum}
		}
		return nil
	})
	switch {
	case err == nil:
	case checked: // the layer's check or the rename failed, not the download
		return Result{}, err
	case b.err != nil:
		return Result{}, b.err
	default:
		return Result{}, f.ociError(ctx, reg, err)
	}
	return Result{SHA256: sum, Size: b.n, Name: name, OCIManifest: mdesc.Digest.String(), OCILayer: layer.Digest.String()}, nil
}

// This machine's platform, for an image index.
var defaultOS, defaultArch = runtime.GOOS, runtime.GOARCH
