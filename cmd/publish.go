package cmd

import (
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
)

type publishOptions struct {
	g           *Global
	Index       string
	Artifacts   []string
	Checksums   string
	Name        string
	Version     string
	Platforms   []string
	URL         string
	URLPrefix   string
	Bin         string
	Description string
	Key         string
	Expires     time.Duration
	Push        string
	Protocol    protocolFlags
	Force       bool
}

func newPublishCmd(g *Global) *cobra.Command {
	o := &publishOptions{g: g}
	c := &cobra.Command{
		Use:   "publish INDEX [ARTIFACT...] --name N --version V",
		Short: "Add artifacts (or a goreleaser checksums.txt) to an index file",
		Long: `Add or replace an artifact entry in the index file INDEX (created when missing),
with the SHA-256 computed from the artifact. The URL defaults to the artifact's
path relative to the index; the platform to the one in a goreleaser-style name
(name_1.2.0_linux_amd64.tar.gz) or this machine's. Entries are written in a
stable order, so a publish changes only the new entry's lines. The index's
"version" is raised when it has one. Artifacts are never copied, except with
--push oci://REGISTRY/REPOSITORY, which pushes each artifact to that registry
repository first (an OCI artifact, one manifest per platform, all under the
version's tag, '+' written '_') and writes its manifest address
(oci://REGISTRY/REPOSITORY@sha256:…) as the URL.

The protocol flags (--kind, --cookie-value, …) set the plugin's protocol,
which applies to every version of it in the index: a publish whose flags
would change it for versions already published is refused (exit 2, naming
them) unless --force.`,
		Example: `  plugctl publish dist/index.yaml dist/greeter_1.2.0_linux_amd64.tar.gz --name greeter --version 1.2.0 --bin greeter
  plugctl publish dist/index.yaml --checksums dist/checksums.txt --name greeter --version 1.2.0 --bin greeter
  plugctl publish dist/index.yaml --checksums dist/checksums.txt --name greeter --version 1.2.0 --bin greeter --push oci://ghcr.io/acme/greeter`,
		Args: args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Index, o.Artifacts = a[0], a[1:]
			return publishRun(cmd, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Name, "name", "", "plugin name (required)")
	f.StringVar(&o.Version, "version", "", "version, semver (required)")
	f.StringArrayVar(&o.Platforms, "platform", nil, "os/arch of the artifact (default: from its file name, else this machine's); repeatable")
	f.StringVar(&o.URL, "url", "", "artifact URL written to the index (default: its path relative to the index)")
	f.StringVar(&o.URLPrefix, "url-prefix", "", "with --checksums: prefix for every file name (default: relative to the index)")
	f.StringVar(&o.Bin, "bin", "", "the executable's path inside an archive")
	f.StringVar(&o.Description, "description", "", "plugin description")
	f.StringVar(&o.Checksums, "checksums", "", "add every os/arch artifact listed in a goreleaser checksums file")
	f.StringVar(&o.Key, "key", "", "minisign secret key: sign the index after publishing (writes INDEX.minisig)")
	f.DurationVar(&o.Expires, "expires", 0, "with --key: the signed index expires after this long (default 720h, 30 days)")
	f.StringVar(&o.Push, "push", "", "push the artifacts to this registry repository (oci://REGISTRY/REPOSITORY) and write their registry addresses")
	f.BoolVar(&o.Force, "force", false, "change the protocol although other published versions get it too")
	o.Protocol.bind(c)
	return c
}

// defaultSignedTTL is how long an index signed by publish or mirror stays
// valid unless --expires says otherwise.
const defaultSignedTTL = 30 * 24 * time.Hour

type publishJSON struct {
	Index    string `json:"index"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	URL      string `json:"url"`
	SHA256   string `json:"sha256,omitempty"`
	H1       string `json:"h1,omitempty"`
}

func publishRun(cmd *cobra.Command, o *publishOptions) error {
	g := o.g
	if o.Name == "" || o.Version == "" {
		return usageErrorf("publish needs --name and --version")
	}
	if (len(o.Artifacts) == 0) == (o.Checksums == "") {
		return usageErrorf("publish takes ARTIFACT... or --checksums FILE")
	}
	if len(o.Artifacts) > 1 && (o.URL != "" || len(o.Platforms) > 0) {
		return usageErrorf("--url and --platform go with one ARTIFACT (with several, each one's platform comes from its name)")
	}
	proto, err := o.Protocol.protocol()
	if err != nil {
		return err
	}
	if o.Key == "" && o.Expires != 0 {
		return usageErrorf("--expires goes with --key")
	}
	ttl := o.Expires
	if ttl <= 0 {
		ttl = defaultSignedTTL
	}
	var push func(string, []string) (map[string]string, string, error)
	if o.Push != "" {
		if o.URL != "" || o.URLPrefix != "" {
			return usageErrorf("--push writes the registry addresses: it takes no --url or --url-prefix")
		}
		if _, err := fetch.OCIRepository(o.Push); err != nil {
			return usageErrorf("--push: %v", err)
		}
		v, err := semver.StrictNewVersion(strings.TrimPrefix(o.Version, "v"))
		if err != nil {
			return usageErrorf("--version %q: not a semantic version (want MAJOR.MINOR.PATCH)", o.Version)
		}
		ctx, cancel := g.withTimeout(cmd.Context())
		defer cancel()
		f := g.Fetcher()
		tag := fetch.OCITag(v.String())
		push = func(file string, platforms []string) (map[string]string, string, error) {
			return f.PushPlatforms(ctx, o.Push, file, tag, platforms)
		}
	}
	var sign index.SignFunc
	if o.Key != "" {
		if sign, err = g.indexSigner(o.Key); err != nil {
			return err
		}
	}
	pubs, err := index.Publish(index.PublishRequest{
		Push:      push,
		IndexFile: o.Index, Name: o.Name, Version: o.Version, Description: o.Description, Bin: o.Bin, Protocol: proto,
		Artifacts: o.Artifacts, Platforms: o.Platforms, URL: o.URL, DefaultPlatform: Platform(),
		Checksums: o.Checksums, URLPrefix: o.URLPrefix,
		Sign: sign, Expires: ttl, Now: time.Now(), Force: o.Force,
	})
	if err != nil {
		return err
	}
	out := []publishJSON{}
	for _, p := range pubs {
		out = append(out, publishJSON{Index: o.Index, Name: p.Name, Version: strings.TrimPrefix(p.Version, "v"), Platform: p.Platform, URL: p.URL, SHA256: p.SHA256, H1: p.H1})
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	for _, p := range out {
		g.Printf("published %s@%s for %s to %s (%s)\n", p.Name, p.Version, p.Platform, p.Index, p.URL)
	}
	return nil
}
