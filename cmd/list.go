package cmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/store"
)

// listJSON is one installed version in `list -o json`. Fields are only ever
// added.
type listJSON struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Active      bool      `json:"active"`
	Path        string    `json:"path"`
	SHA256      string    `json:"sha256"`
	Index       string    `json:"index,omitempty"`
	Constraint  string    `json:"constraint,omitempty"`
	Source      string    `json:"source"`
	Protocol    string    `json:"protocol"`
	Profile     string    `json:"profile,omitempty"` // install --profile, the index's protocol.profile
	InstalledAt time.Time `json:"installedAt"`
}

func newListCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "list [NAME]",
		Short: "List installed plugins and versions",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			names, err := p.Names()
			if err != nil {
				return err
			}
			if len(a) == 1 {
				if err := store.ValidName(a[0]); err != nil {
					return err
				}
				names = []string{a[0]}
			}
			vs, err := install.Installed(p, names, len(a) == 1)
			if err != nil {
				return err
			}
			out := listRows(vs)
			if g.JSON() {
				return g.PrintJSON(out)
			}
			if len(out) == 0 {
				g.Infof("no plugins installed (plugctl search, then plugctl install NAME)\n")
				return nil
			}
			return g.printTable("NAME\tVERSION\tACTIVE\tINDEX\tINSTALLED", func(w io.Writer) {
				for _, l := range out {
					act := ""
					if l.Active {
						act = "*"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.Name, l.Version, act, dash(l.Index), l.InstalledAt.Local().Format(time.DateTime))
				}
			})
		},
	}
}

// listRows maps the installed versions to list's JSON.
func listRows(vs []install.InstalledVersion) []listJSON {
	out := make([]listJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, listJSON{
			Name: v.Name, Version: v.Version, Active: v.Active, Path: v.Path,
			SHA256: v.SHA256, Index: v.Index, Constraint: v.Constraint, Source: v.Source,
			Protocol: v.Protocol, Profile: v.Profile, InstalledAt: v.InstalledAt,
		})
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// infoJSON is `info -o json`.
type infoJSON struct {
	Name      string      `json:"name"`
	Installed []listJSON  `json:"installed"`
	Active    string      `json:"active,omitempty"`
	Indexes   []offerJSON `json:"indexes"`
}

type offerJSON struct {
	Index       string                         `json:"index"`
	Description string                         `json:"description,omitempty"`
	Protocol    store.Protocol                 `json:"protocol"`
	Versions    []string                       `json:"versions"` // newest first
	Platforms   map[string][]string            `json:"platforms"`
	Artifacts   map[string]map[string]artifact `json:"artifacts"` // version → os/arch → artifact
}

type artifact struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Bin    string `json:"bin,omitempty"`
}

func toOfferJSON(o index.OfferInfo) offerJSON {
	oj := offerJSON{Index: o.Index, Description: o.Description, Protocol: o.Protocol, Versions: o.Versions,
		Platforms: o.Platforms, Artifacts: map[string]map[string]artifact{}}
	for v, arts := range o.Artifacts {
		oj.Artifacts[v] = map[string]artifact{}
		for plat, a := range arts {
			oj.Artifacts[v][plat] = artifact{URL: a.URL, SHA256: a.SHA256, Bin: a.Bin}
		}
	}
	return oj
}

func newInfoCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show what is installed of a plugin and every index that offers it",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			name := a[0]
			if err := store.ValidName(name); err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			p, cfg, err := g.freshConfig(ctx)
			if err != nil {
				return err
			}
			info := infoJSON{Name: name, Indexes: []offerJSON{}}
			vs, err := install.Installed(p, []string{name}, false)
			if err != nil {
				return err
			}
			info.Installed = listRows(vs)
			info.Active, _ = p.Active(name)
			offers, err := index.Find(p, cfg, name)
			if err != nil {
				return err
			}
			for _, o := range offers {
				info.Indexes = append(info.Indexes, toOfferJSON(o.Info(name)))
			}
			if len(vs) == 0 && len(offers) == 0 {
				return &index.NotFoundError{What: "plugin", Name: name, Where: "the store or any configured index"}
			}
			if g.JSON() {
				return g.PrintJSON(info)
			}
			g.Printf("%s\n", name)
			if len(info.Installed) == 0 {
				g.Printf("  installed: none\n")
			}
			for _, l := range info.Installed {
				act := ""
				if l.Active {
					act = " (active)"
				}
				if l.Profile != "" {
					act += " (profile " + l.Profile + ")"
				}
				g.Printf("  installed: %s%s  %s\n", l.Version, act, l.Path)
			}
			for _, o := range info.Indexes {
				g.Printf("  index %s: %s\n", o.Index, o.Description)
				g.Printf("    protocol: %s, version %s, cookie %s=%s, dispense %s, mtls %s\n", o.Protocol.Kind, o.Protocol.Versions, o.Protocol.CookieKey, o.Protocol.CookieValue, o.Protocol.Dispense, o.Protocol.MTLS)
				for _, v := range o.Versions {
					g.Printf("    %s  %s\n", v, strings.Join(o.Platforms[v], " "))
				}
			}
			return nil
		},
	}
}

type searchJSON struct {
	Name        string `json:"name"`
	Index       string `json:"index"`
	Description string `json:"description,omitempty"`
	Latest      string `json:"latest,omitempty"`
	Installed   string `json:"installed,omitempty"` // active version
}

func newSearchCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "search [TERM]",
		Short: "Search the configured indexes by name and description",
		Args:  args(0, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			p, cfg, err := g.freshConfig(ctx)
			if err != nil {
				return err
			}
			entries, err := index.All(p, cfg)
			if err != nil {
				return err
			}
			term := ""
			if len(a) == 1 {
				term = a[0]
			}
			out := []searchJSON{}
			for _, m := range index.Search(entries, term) {
				installed, _ := p.Active(m.Name)
				out = append(out, searchJSON{Name: m.Name, Index: m.Index, Description: m.Description, Latest: m.Latest, Installed: installed})
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			if len(out) == 0 {
				g.Infof("nothing found\n")
				return nil
			}
			return g.printTable("NAME\tINDEX\tLATEST\tINSTALLED\tDESCRIPTION", func(w io.Writer) {
				for _, s := range out {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Index, dash(s.Latest), dash(s.Installed), s.Description)
				}
			})
		},
	}
}
