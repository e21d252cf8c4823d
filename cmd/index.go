package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/publish"
	"github.com/plugctl/plugctl/store"
)

func newIndexCmd(g *Global) *cobra.Command {
	c := &cobra.Command{
		Use:   "index",
		Short: "Configure the indexes plugins are installed from",
		Args:  cobra.NoArgs,
		RunE:  groupRun,
	}
	c.AddCommand(newIndexAddCmd(g), newIndexListCmd(g), newIndexRemoveCmd(g), newIndexUpdateCmd(g),
		newIndexKeygenCmd(g), newIndexSignCmd(g), newIndexLintCmd(g), newIndexPushCmd(g))
	return c
}

type indexAddOptions struct {
	g      *Global
	Name   string
	Source string
	Keys   []string
}

func newIndexAddCmd(g *Global) *cobra.Command {
	o := &indexAddOptions{g: g}
	c := &cobra.Command{
		Use:   "add NAME SOURCE",
		Short: "Add an index (a path, an http(s) URL, a git or a registry address) and fetch it",
		Example: `  plugctl index add default https://plugins.example.com/index.yaml
  plugctl index add fleet oci://ghcr.io/acme/plugins-index:stable --key fleet.pub
  plugctl index add team 'git::https://git.example.com/plugins.git//index.yaml?ref=main'
  plugctl index add local ./index.yaml`,
		Args: args(2, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Name, o.Source = a[0], a[1]
			return indexAddRun(cmd.Context(), o)
		},
	}
	c.Flags().StringArrayVar(&o.Keys, "key", nil, "minisign public key (file or inline) the index must be signed with; repeat to trust several")
	return c
}

// normalizeSource makes a local path absolute, so that the index and its
// relative artifact URLs resolve from anywhere later.
func normalizeSource(src string) (string, error) {
	if fetch.IsGit(src) || strings.Contains(src, "://") {
		return src, nil
	}
	return filepath.Abs(src)
}

func indexAddRun(ctx context.Context, o *indexAddOptions) error {
	g := o.g
	if err := store.ValidName(o.Name); err != nil {
		return usageErrorf("index name: %v", strings.TrimPrefix(err.Error(), "invalid plugin name "))
	}
	keys, err := publicKeys(o.Keys)
	if err != nil {
		return err
	}
	p, err := g.Paths()
	if err != nil {
		return err
	}
	src, err := normalizeSource(o.Source)
	if err != nil {
		return err
	}
	s := store.Source{Name: o.Name, Address: src, Keys: keys}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	idx, err := index.Add(ctx, g.Fetcher(), p, s)
	if errors.Is(err, store.ErrIndexExists) {
		return usageErrorf("index %q is already configured (plugctl index remove %s first)", o.Name, o.Name)
	}
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(indexJSON{Name: s.Name, Source: s.Address, Plugins: len(idx.Plugins)})
	}
	g.Printf("added index %s (%s): %d plugins\n", s.Name, s.Address, len(idx.Plugins))
	return nil
}

type indexJSON struct {
	Name      string     `json:"name"`
	Source    string     `json:"source"`
	Plugins   int        `json:"plugins"`
	FetchedAt *time.Time `json:"fetchedAt,omitempty"`
	Version   int64      `json:"version,omitempty"`
	Signed    bool       `json:"signed"`
}

func newIndexListCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List configured indexes, in the order that decides which wins",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, cfg, err := g.Config()
			if err != nil {
				return err
			}
			out := []indexJSON{}
			for _, s := range cfg.Indexes {
				j := indexJSON{Name: s.Name, Source: s.Address, Signed: len(s.Keys) > 0}
				if m, err := index.LoadMeta(p, s.Name); err == nil {
					j.Plugins, j.FetchedAt, j.Version = len(m.Plugins), &m.FetchedAt, m.Version
				}
				out = append(out, j)
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			if len(out) == 0 {
				g.Infof("no index configured (plugctl index add NAME SOURCE)\n")
				return nil
			}
			return g.printTable("NAME\tPLUGINS\tUPDATED\tSOURCE", func(w io.Writer) {
				for _, j := range out {
					upd := "never"
					if j.FetchedAt != nil {
						upd = j.FetchedAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", j.Name, j.Plugins, upd, j.Source)
				}
			})
		},
	}
}

func newIndexRemoveCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a configured index and its cached copy (installed plugins stay)",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			if err := index.Remove(ctx, p, a[0]); err != nil {
				return err
			}
			if g.JSON() {
				return g.PrintJSON(map[string]string{"removed": a[0]})
			}
			g.Printf("removed index %s\n", a[0])
			return nil
		},
	}
}

func newIndexUpdateCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "update [NAME...]",
		Short: "Fetch configured indexes again (all of them by default)",
		Args:  args(0, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, cfg, err := g.Config()
			if err != nil {
				return err
			}
			todo, err := index.Select(cfg, a)
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			out := []indexJSON{}
			var firstErr error
			f := g.Fetcher()
			for _, s := range todo {
				idx, err := index.Fetch(ctx, f, p, s)
				if err != nil {
					if !g.JSON() {
						fmt.Fprintf(g.IO.ErrOut, "plugctl: %v (the last good copy stays in use)\n", err)
					}
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				out = append(out, indexJSON{Name: s.Name, Source: s.Address, Plugins: len(idx.Plugins), Version: idx.Version, Signed: len(s.Keys) > 0})
				if !g.JSON() {
					g.Printf("updated index %s: %d plugins\n", s.Name, len(idx.Plugins))
				}
			}
			if g.JSON() {
				if err := g.PrintJSON(out); err != nil {
					return err
				}
			}
			if firstErr != nil {
				code, hint := classify(firstErr)
				if g.JSON() {
					// One JSON object on stderr; text mode said it per index.
					return &exitError{code: code, msg: fmt.Sprintf("%v (the last good copy stays in use)", firstErr), hint: hint}
				}
				return &exitError{code: code}
			}
			return nil
		},
	}
}

func newIndexPushCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "push INDEX oci://REGISTRY/REPOSITORY:TAG",
		Short: "Push an index file (and its .minisig) to a registry, for index add",
		Long: `Push the index file INDEX, and INDEX.minisig when it exists, to a registry as
one OCI artifact tagged TAG, each file a layer titled with its name. Clients
add it with plugctl index add NAME oci://REGISTRY/REPOSITORY:TAG (with --key
when it is signed). Its artifact URLs must be absolute: publish --push writes
registry addresses.`,
		Example: `  plugctl index push dist/index.yaml oci://ghcr.io/acme/plugins-index:stable`,
		Args:    args(2, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			return indexPushRun(cmd.Context(), g, a[0], a[1])
		},
	}
}

func indexPushRun(ctx context.Context, g *Global, file, target string) error {
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	out, err := publish.PushIndex(ctx, g.Fetcher(), file, target)
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	how := "unsigned"
	if out.Signed {
		how = "with its signature"
	}
	g.Printf("pushed %s (%s) to %s (%s)\n", out.Index, how, out.Target, out.Manifest)
	return nil
}
