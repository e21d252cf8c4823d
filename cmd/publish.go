package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/publish"
)

func newPublishCmd(g *Global) *cobra.Command {
	var o publish.Options
	var proto protocolFlags
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
			o.IndexFile, o.Artifacts = a[0], a[1:]
			return publishRun(cmd.Context(), g, o, proto)
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
	proto.bind(c)
	return c
}

func publishRun(ctx context.Context, g *Global, o publish.Options, flags protocolFlags) error {
	var err error
	if o.Protocol, err = flags.protocol(); err != nil {
		return err
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	o.DefaultPlatform, o.Fetcher, o.Password = Platform(), g.Fetcher(), g.keyPrompt()
	out, err := publish.Publish(ctx, o)
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	for _, p := range out {
		g.Printf("published %s@%s for %s to %s (%s)\n", p.Name, p.Version, p.Platform, p.Index, p.URL)
	}
	return nil
}
