package cmd

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// namesOrAll is the plugins named on the command line, or every installed
// one when none is.
func namesOrAll(p store.Paths, args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	return p.Names()
}

func newUseCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:     "use NAME@VERSION",
		Short:   "Make an installed version the active one",
		Example: "  plugctl use greeter@1.2.0",
		Args:    args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			name, version, err := store.ParseRef(a[0], true)
			if err != nil {
				return err
			}
			in, err := g.Installer()
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			r, err := in.Use(ctx, name, version)
			if err != nil {
				return err
			}
			// A started version other than the new active one keeps running:
			// calls of NAME no longer reach it, and it is easily forgotten.
			running, _ := runtime.Started(in.Paths)
			for _, s := range running {
				if s.Name == r.Name && s.Version != r.Version && s.Alive() {
					g.Infof("note: %s@%s still runs (started, pid %d); calls of %s now use %s (plugctl stop %s@%s ends it, plugctl start %s starts the new one)\n",
						s.Name, s.Version, s.Pid, r.Name, r.Version, s.Name, s.Version, r.Name)
				}
			}
			if g.JSON() {
				return g.PrintJSON(map[string]string{"name": r.Name, "active": r.Version})
			}
			g.Printf("%s@%s is now active\n", r.Name, r.Version)
			return nil
		},
	}
}

type removeJSON struct {
	Name      string   `json:"name"`
	Removed   []string `json:"removed"`
	NewActive string   `json:"active,omitempty"`
}

func newRemoveCmd(g *Global) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "remove NAME[@VERSION]...",
		Aliases: []string{"rm", "uninstall"},
		Short:   "Remove one installed version, or every version of a plugin",
		Long: `Remove one installed version, or every version of a plugin. A version that
runs (plugctl start) is refused unless --force, which stops it first.`,
		Args: args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			in, err := g.Installer()
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			var out []removeJSON
			for _, s := range a {
				name, version, err := store.ParseRef(s, false)
				if err != nil {
					return err
				}
				if err := g.stopRunning(ctx, in.Paths, name, version, force, "remove"); err != nil {
					return err
				}
				rm, err := in.Remove(ctx, name, version)
				if err != nil {
					return err
				}
				out = append(out, removeJSON{Name: rm.Name, Removed: rm.Removed, NewActive: rm.NewActive})
				if g.JSON() {
					continue
				}
				for _, v := range rm.Removed {
					g.Printf("removed %s@%s\n", rm.Name, v)
				}
				if rm.NewActive != "" {
					g.Printf("%s@%s is now active\n", rm.Name, rm.NewActive)
				} else if rm.WasActive && version != "" {
					g.Printf("no version of %s remains\n", rm.Name)
				}
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "stop a started version first instead of refusing")
	return c
}

type verifyJSON struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

func newVerifyCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [NAME...]",
		Short: "Re-hash installed files against their receipts",
		Long:  "Re-hash every installed version's executable and pkg/ tree against its receipt,\nand check that no one else can change what would launch it (the same ownership\nand mode checks as call). Exits 4 when anything changed since install or a\nlaunch would be refused.",
		RunE: func(cmd *cobra.Command, a []string) error {
			in, err := g.Installer()
			if err != nil {
				return err
			}
			names, err := namesOrAll(in.Paths, a)
			if err != nil {
				return err
			}
			out := []verifyJSON{}
			bad := 0
			for _, n := range names {
				name, version, err := store.ParseRef(n, false)
				if err != nil {
					return err
				}
				rs, err := in.Paths.Versions(name)
				if err != nil {
					return err
				}
				if len(a) > 0 && len(rs) == 0 {
					return fmt.Errorf("%s: %w", name, store.ErrNotInstalled)
				}
				if version != "" && !slices.ContainsFunc(rs, func(r *store.Receipt) bool { return r.Version == version }) {
					return fmt.Errorf("%s@%s: %w", name, version, store.ErrNotInstalled)
				}
				for _, r := range rs {
					if version != "" && r.Version != version {
						continue
					}
					c := in.Verify(r)
					// What call would refuse to launch is no less a problem.
					if err := runtime.CheckOwnership(runtime.SpecFromReceipt(in.Paths, r)); err != nil {
						c.Problems = append(c.Problems, err.Error())
					}
					out = append(out, verifyJSON{Name: r.Name, Version: r.Version, OK: len(c.Problems) == 0, Problems: c.Problems})
					if len(c.Problems) > 0 {
						bad++
					}
				}
			}
			if g.JSON() {
				if err := g.PrintJSON(out); err != nil {
					return err
				}
			} else {
				for _, v := range out {
					if v.OK {
						g.Printf("ok       %s@%s\n", v.Name, v.Version)
						continue
					}
					for _, p := range v.Problems {
						fmt.Fprintf(g.IO.Out, "CHANGED  %s@%s: %s\n", v.Name, v.Version, p)
					}
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d installed version(s) changed since install: %w", bad, install.ErrTampered)
			}
			return nil
		},
	}
}
