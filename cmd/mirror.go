package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/publish"
)

func newMirrorCmd(g *Global) *cobra.Command {
	var r publish.MirrorRequest
	c := &cobra.Command{
		Use:   "mirror DIR|oci://REGISTRY/PREFIX [INDEX-NAME...]",
		Short: "Copy configured indexes and their artifacts into DIR or a registry, for air-gapped use",
		Long: `Copy the named configured indexes (default: all of them) and every artifact and
gRPC schema they list into DIR, checking each file's SHA-256 against the index
while copying (a mismatch is exit 4, and the bad file is not kept). DIR can then
be carried to another machine, served (plugctl serve DIR, or any static web
server or object store), or used as a path index (plugctl index add NAME
DIR/index.yaml). Running it again fetches only what is new.

One index goes to DIR/index.yaml, several to DIR/<index-name>/index.yaml.
An index whose artifact URLs are all relative is copied byte for byte with its
.minisig, its artifacts at the same relative paths, so the publisher's
signature stays valid. Any other index is rewritten with relative URLs (files
laid out as <plugin>/<version>/<os>_<arch>/<file>) and re-signed with --key;
its clients then trust that key. --platform and --latest also make a rewrite.

With oci://REGISTRY/PREFIX instead of DIR, every artifact goes into the
registry (a plugin's files to PREFIX/<plugin>, one manifest per platform under
the version's tag; a blob the registry has already is not fetched again) and
each index, rewritten with those registry addresses and re-signed with --key,
to PREFIX/index:<index-name>, for plugctl index add NAME that address.`,
		Example: `  plugctl mirror /media/usb/plugins
  plugctl mirror ./mirror default --platform linux/amd64 --latest 2 --key mirror.key
  plugctl index add offline /media/usb/plugins/index.yaml --key mirror.pub
  plugctl mirror oci://registry.internal:5000/plugctl default --key mirror.key
  plugctl index add default oci://registry.internal:5000/plugctl/index:default --key mirror.pub`,
		Args: args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			r.Dest, r.Names = a[0], a[1:]
			return mirrorRun(cmd.Context(), g, r)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&r.Options.Platforms, "platform", nil, "mirror only this os/arch (repeatable; default: all)")
	f.IntVar(&r.Options.Latest, "latest", 0, "mirror only the N newest versions of each plugin (default: all)")
	f.StringVar(&r.Key, "key", "", "minisign secret key: sign the rewritten indexes (needed when a signed index is rewritten)")
	f.DurationVar(&r.Options.Expires, "expires", 0, "with --key: a re-signed index expires after this long (default 720h, 30 days)")
	return c
}

func mirrorRun(ctx context.Context, g *Global, r publish.MirrorRequest) error {
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	p, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return err
	}
	r.Options.Fetcher, r.Password = g.Fetcher(), g.keyPrompt()
	if !g.JSON() {
		toRegistry := fetch.IsOCI(r.Dest)
		r.Options.Report = func(f publish.MirrorFile) {
			what := f.Plugin + " schema"
			if f.Version != "" {
				what = f.Plugin + "@" + f.Version + " " + strings.Join(f.Platforms, ",")
			}
			where := f.Path
			if !toRegistry {
				where = filepath.Join(r.Dest, filepath.FromSlash(f.Path))
			}
			g.Printf("%-6s %s → %s\n", f.Action, what, where)
		}
		r.Start = func(name string) { g.Printf("index %s:\n", name) }
	}
	r.Done = func(res *publish.MirrorIndex) {
		for _, sk := range res.Skipped {
			g.Infof("plugctl: warning: skipped %s\n", sk)
		}
		if !g.JSON() {
			g.Printf("%s\n", mirrorSummary(r.Dest, res))
		}
	}
	out, err := publish.MirrorIndexes(ctx, p, cfg, r)
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	return nil
}

func mirrorSummary(dir string, r *publish.MirrorIndex) string {
	copied, kept := 0, 0
	for _, f := range r.Files {
		if f.Action == "copied" {
			copied++
		} else {
			kept++
		}
	}
	how := "copied byte for byte"
	where := filepath.Join(dir, filepath.FromSlash(r.Path))
	switch {
	case fetch.IsOCI(r.Path):
		how, where = "rewritten with registry addresses", r.Path
	case r.Mode == "rewritten":
		how = "rewritten with relative URLs"
	}
	switch {
	case r.Signed && r.Mode == "rewritten":
		how += ", signed with --key"
	case r.Signed:
		how += ", with its signature"
	default:
		how += ", unsigned"
	}
	state := "written"
	if !r.Changed {
		state = "up to date"
	}
	return fmt.Sprintf("index %s → %s (%s; %s): %d plugins, %d files copied, %d kept",
		r.Name, where, how, state, r.Plugins, copied, kept)
}

func newIndexLintCmd(g *Global) *cobra.Command {
	var fetchAll bool
	var keys []string
	c := &cobra.Command{
		Use:   "lint INDEX",
		Short: "Check an index file strictly and list every problem",
		Long: `Check the index file INDEX strictly: unknown fields, duplicate keys, plugin
names, semantic versions (and two versions equal as semver), platforms from
Go's known list, sha256 strings of 64 hex digits, protocol fields, relative
URLs that name no file beside the index, and, when INDEX.minisig exists, the
version and expiry a signed index needs. Every problem is listed with its path
in the file; the exit code is 1 when there is any. --fetch also downloads every
artifact and compares its SHA-256 with the index. --key checks INDEX.minisig
with the public key clients will trust (index add --key), before publishing.`,
		Example: `  plugctl index lint dist/index.yaml
  plugctl index lint dist/index.yaml --key dist-key.pub
  plugctl index lint dist/index.yaml --fetch -o json`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return lintRun(cmd.Context(), g, a[0], keys, fetchAll)
		},
	}
	c.Flags().BoolVar(&fetchAll, "fetch", false, "also download every artifact and check its SHA-256")
	c.Flags().StringArrayVar(&keys, "key", nil, "minisign public key (file or inline) INDEX.minisig must verify with (repeatable)")
	return c
}

func lintRun(ctx context.Context, g *Global, file string, keyFlags []string, fetchAll bool) error {
	keys, err := publicKeys(keyFlags)
	if err != nil {
		return err
	}
	var f *fetch.Fetcher
	if fetchAll {
		f = g.Fetcher()
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	rep, problems, err := publish.Lint(ctx, file, keys, f)
	if err != nil {
		return err
	}
	if g.JSON() {
		if problems == nil {
			problems = []index.Problem{}
		}
		if err := g.PrintJSON(problems); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			loc := file
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", file, p.Line)
			}
			fmt.Fprintf(g.IO.Out, "%s: %s\n", loc, p)
		}
	}
	if len(problems) > 0 {
		return &exitError{code: ExitError, msg: fmt.Sprintf("%s: %d problem%s", file, len(problems), plural(len(problems)))}
	}
	checked := ""
	if fetchAll {
		checked = fmt.Sprintf(", %d artifacts fetched and hashed", len(rep.Artifacts))
	}
	if !g.JSON() {
		g.Printf("%s: ok (%d plugins%s)\n", file, rep.Plugins, checked)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
