package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/store"
)

type mirrorOptions struct {
	g         *Global
	Dir       string
	Names     []string
	Platforms []string
	Latest    int
	Key       string
	Expires   time.Duration
}

func newMirrorCmd(g *Global) *cobra.Command {
	o := &mirrorOptions{g: g}
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
			o.Dir, o.Names = a[0], a[1:]
			return mirrorRun(cmd, o)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.Platforms, "platform", nil, "mirror only this os/arch (repeatable; default: all)")
	f.IntVar(&o.Latest, "latest", 0, "mirror only the N newest versions of each plugin (default: all)")
	f.StringVar(&o.Key, "key", "", "minisign secret key: sign the rewritten indexes (needed when a signed index is rewritten)")
	f.DurationVar(&o.Expires, "expires", 0, "with --key: a re-signed index expires after this long (default 720h, 30 days)")
	return c
}

type mirrorJSON struct {
	Dir     string                 `json:"dir"`
	Indexes []*install.MirrorIndex `json:"indexes"`
}

func mirrorRun(cmd *cobra.Command, o *mirrorOptions) error {
	g := o.g
	for _, p := range o.Platforms {
		if !index.KnownPlatform(p) {
			return usageErrorf("--platform %q: want os/arch from Go's known list (go tool dist list)", p)
		}
	}
	if o.Latest < 0 {
		return usageErrorf("--latest %d: want a number of versions, 1 or more", o.Latest)
	}
	if o.Expires != 0 && o.Key == "" {
		return usageErrorf("--expires goes with --key")
	}
	if o.Expires <= 0 {
		o.Expires = defaultSignedTTL
	}
	ctx, cancel := g.withTimeout(cmd.Context())
	defer cancel()
	p, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return err
	}
	srcs := cfg.Indexes
	if len(o.Names) > 0 {
		srcs = nil
		for _, n := range o.Names {
			s, ok := cfg.Lookup(n)
			if !ok {
				return &index.NotFoundError{What: "index", Name: n}
			}
			if !containsSource(srcs, n) {
				srcs = append(srcs, s)
			}
		}
	}
	if len(srcs) == 0 {
		return usageErrorf("no index configured to mirror (plugctl index add NAME SOURCE)")
	}
	toRegistry := fetch.IsOCI(o.Dir)
	dir := o.Dir
	if toRegistry {
		if _, err := fetch.OCIRepository(o.Dir); err != nil {
			return usageErrorf("%v", err)
		}
	} else if dir, err = filepath.Abs(o.Dir); err != nil {
		return err
	}
	var sign index.SignFunc
	if o.Key != "" {
		if sign, err = g.indexSigner(o.Key); err != nil {
			return usageErrorf("--key: %v", err)
		}
	}
	opts := install.MirrorOptions{
		Fetcher: g.Fetcher(), Platforms: o.Platforms, Latest: o.Latest,
		Sign: sign, Expires: o.Expires, Now: time.Now(),
	}
	if !g.JSON() {
		opts.Report = func(f install.MirrorFile) {
			what := f.Plugin + " schema"
			if f.Version != "" {
				what = f.Plugin + "@" + f.Version + " " + strings.Join(f.Platforms, ",")
			}
			where := f.Path
			if !toRegistry {
				where = filepath.Join(o.Dir, filepath.FromSlash(f.Path))
			}
			g.Printf("%-6s %s → %s\n", f.Action, what, where)
		}
	}
	out := mirrorJSON{Dir: dir, Indexes: []*install.MirrorIndex{}}
	for _, s := range srcs {
		c, err := index.LoadCached(p, s, opts.Now)
		if err != nil {
			return err
		}
		sub := ""
		if len(srcs) > 1 {
			sub = s.Name
		}
		if opts.Report != nil && sub != "" {
			g.Printf("index %s:\n", s.Name)
		}
		msrc := install.MirrorSource{Name: s.Name, Address: c.Meta.Source, Raw: c.Raw, Sig: c.Sig, Signed: len(s.Keys) > 0}
		var res *install.MirrorIndex
		if toRegistry {
			tmpRoot, terr := p.EnsureTmp()
			if terr != nil {
				return terr
			}
			res, err = install.MirrorOCI(ctx, tmpRoot, o.Dir, msrc, opts)
		} else {
			res, err = install.Mirror(ctx, dir, sub, msrc, opts)
		}
		if err != nil {
			return err
		}
		for _, sk := range res.Skipped {
			g.Infof("plugctl: warning: skipped %s\n", sk)
		}
		out.Indexes = append(out.Indexes, res)
		if !g.JSON() {
			g.Printf("%s\n", mirrorSummary(o.Dir, res))
		}
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	return nil
}

func containsSource(list []store.Source, name string) bool {
	for _, s := range list {
		if s.Name == name {
			return true
		}
	}
	return false
}

func mirrorSummary(dir string, r *install.MirrorIndex) string {
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

type lintOptions struct {
	g     *Global
	Index string
	Fetch bool
	Keys  []string
}

func newIndexLintCmd(g *Global) *cobra.Command {
	o := &lintOptions{g: g}
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
			o.Index = a[0]
			return lintRun(cmd, o)
		},
	}
	c.Flags().BoolVar(&o.Fetch, "fetch", false, "also download every artifact and check its SHA-256")
	c.Flags().StringArrayVar(&o.Keys, "key", nil, "minisign public key (file or inline) INDEX.minisig must verify with (repeatable)")
	return c
}

func lintRun(cmd *cobra.Command, o *lintOptions) error {
	g := o.g
	keys, err := publicKeys(o.Keys)
	if err != nil {
		return err
	}
	rep, err := index.LintFile(o.Index, index.LintOptions{Keys: keys})
	if err != nil {
		return err
	}
	problems := rep.Problems
	if o.Fetch {
		ctx, cancel := g.withTimeout(cmd.Context())
		defer cancel()
		tmp, err := os.MkdirTemp("", "plugctl-lint-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		f := g.Fetcher()
		hash := func(ctx context.Context, src, bin string) (string, string, error) {
			return install.ArtifactHashes(ctx, f, tmp, src, bin)
		}
		base, err := filepath.Abs(o.Index)
		if err != nil {
			return err
		}
		problems = append(problems, index.CheckArtifacts(ctx, rep, base, hash)...)
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
			loc := o.Index
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", o.Index, p.Line)
			}
			fmt.Fprintf(g.IO.Out, "%s: %s\n", loc, p)
		}
	}
	if len(problems) > 0 {
		return &exitError{code: ExitError, msg: fmt.Sprintf("%s: %d problem%s", o.Index, len(problems), plural(len(problems)))}
	}
	checked := ""
	if o.Fetch {
		checked = fmt.Sprintf(", %d artifacts fetched and hashed", len(rep.Artifacts))
	}
	if !g.JSON() {
		g.Printf("%s: ok (%d plugins%s)\n", o.Index, rep.Plugins, checked)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
