package publish

import (
	"context"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// Options say what Publish adds to an index file.
type Options struct {
	IndexFile   string
	Artifacts   []string // artifact files, or none with Checksums
	Checksums   string   // a goreleaser checksums file
	Name        string
	Version     string
	Platforms   []string // of the one artifact (default: from its name, else DefaultPlatform)
	URL         string   // of the one artifact (default: its path relative to the index)
	URLPrefix   string   // with Checksums: prefix for every file name
	Bin         string
	Description string
	Protocol    store.Protocol
	// DefaultPlatform is the platform of an artifact whose name says none.
	DefaultPlatform string
	// Key, when set, signs the index with this minisign secret key, which
	// then expires Expires (default DefaultSignedTTL) after Now.
	Key      string
	Password PasswordFunc
	Expires  time.Duration
	Now      time.Time
	// Push, when set (oci://REGISTRY/REPOSITORY), pushes each artifact to
	// that repository with Fetcher first and writes its registry address.
	Push    string
	Fetcher *fetch.Fetcher
	// Force changes the protocol although other published versions get it
	// too.
	Force bool
}

// Published is one index entry Publish wrote.
type Published struct {
	Index    string `json:"index"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	URL      string `json:"url"`
	SHA256   string `json:"sha256,omitempty"`
	H1       string `json:"h1,omitempty"`
}

// Publish adds (or replaces) the artifact entries o describes in the
// index file, computing their hashes; it pushes the artifacts first with
// Push and signs the index with Key. Options that do not go together are
// an error wrapping index.ErrUsage, before anything is read or written.
func Publish(ctx context.Context, o Options) ([]Published, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	req := index.PublishRequest{
		IndexFile: o.IndexFile, Name: o.Name, Version: o.Version, Description: o.Description, Bin: o.Bin, Protocol: o.Protocol,
		Artifacts: o.Artifacts, Platforms: o.Platforms, URL: o.URL, DefaultPlatform: o.DefaultPlatform,
		Checksums: o.Checksums, URLPrefix: o.URLPrefix,
		Expires: o.Expires, Now: o.Now, Force: o.Force,
	}
	if req.Expires <= 0 {
		req.Expires = DefaultSignedTTL
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if o.Push != "" {
		v, err := semver.StrictNewVersion(strings.TrimPrefix(o.Version, "v"))
		if err != nil {
			return nil, index.Usagef("--version %q: not a semantic version (want MAJOR.MINOR.PATCH)", o.Version)
		}
		tag := fetch.OCITag(v.String())
		req.Push = func(file string, platforms []string) (map[string]string, string, error) {
			return o.Fetcher.PushPlatforms(ctx, o.Push, file, tag, platforms)
		}
	}
	if o.Key != "" {
		var err error
		if req.Sign, err = Signer(o.Key, o.Password); err != nil {
			return nil, err
		}
	}
	pubs, err := index.Publish(req)
	if err != nil {
		return nil, err
	}
	out := []Published{}
	for _, p := range pubs {
		out = append(out, Published{Index: o.IndexFile, Name: p.Name, Version: strings.TrimPrefix(p.Version, "v"), Platform: p.Platform, URL: p.URL, SHA256: p.SHA256, H1: p.H1})
	}
	return out, nil
}

// check refuses options that do not go together.
func (o Options) check() error {
	switch {
	case o.Name == "" || o.Version == "":
		return index.Usagef("publish needs --name and --version")
	case (len(o.Artifacts) == 0) == (o.Checksums == ""):
		return index.Usagef("publish takes ARTIFACT... or --checksums FILE")
	case len(o.Artifacts) > 1 && (o.URL != "" || len(o.Platforms) > 0):
		return index.Usagef("--url and --platform go with one ARTIFACT (with several, each one's platform comes from its name)")
	case o.Key == "" && o.Expires != 0:
		return index.Usagef("--expires goes with --key")
	case o.Push != "" && (o.URL != "" || o.URLPrefix != ""):
		return index.Usagef("--push writes the registry addresses: it takes no --url or --url-prefix")
	}
	if o.Push != "" {
		if _, err := fetch.OCIRepository(o.Push); err != nil {
			return index.Usagef("--push: %v", err)
		}
	}
	return nil
}
