//go:build !plugctl_lean

package cmd

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
)

type publishOptions struct {
	g           *Global
	Index       string
	Artifact    string
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
	Protocol    protocolFlags
}

func newPublishCmd(g *Global) *cobra.Command {
	o := &publishOptions{g: g}
	c := &cobra.Command{
		Use:   "publish INDEX [ARTIFACT] --name N --version V",
		Short: "Add an artifact (or a goreleaser checksums.txt) to an index file",
		Long: `Add or replace an artifact entry in the index file INDEX (created when missing),
with the SHA-256 computed from the artifact. The URL defaults to the artifact's
path relative to the index; the platform to the one in a goreleaser-style name
(name_1.2.0_linux_amd64.tar.gz) or this machine's. Entries are written in a
stable order, so a publish changes only the new entry's lines. The index's
"version" is raised when it has one. Artifacts are never copied.`,
		Example: `  plugctl publish dist/index.yaml dist/greeter_1.2.0_linux_amd64.tar.gz --name greeter --version 1.2.0 --bin greeter
  plugctl publish dist/index.yaml --checksums dist/checksums.txt --name greeter --version 1.2.0 --bin greeter`,
		Args: args(1, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Index = a[0]
			if len(a) == 2 {
				o.Artifact = a[1]
			}
			return publishRun(o)
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

func publishRun(o *publishOptions) error {
	g := o.g
	if o.Name == "" || o.Version == "" {
		return usageErrorf("publish needs --name and --version")
	}
	if (o.Artifact == "") == (o.Checksums == "") {
		return usageErrorf("publish takes one ARTIFACT or --checksums FILE")
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
	var sign index.SignFunc
	if o.Key != "" {
		if sign, err = g.indexSigner(o.Key); err != nil {
			return err
		}
	}
	pubs, err := index.Publish(index.PublishRequest{
		IndexFile: o.Index, Name: o.Name, Version: o.Version, Description: o.Description, Bin: o.Bin, Protocol: proto,
		Artifact: o.Artifact, Platforms: o.Platforms, URL: o.URL, DefaultPlatform: Platform(),
		Checksums: o.Checksums, URLPrefix: o.URLPrefix,
		Sign: sign, Expires: ttl, Now: time.Now(),
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
