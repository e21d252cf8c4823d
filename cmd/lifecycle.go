package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/runtime"
)

// statuses checks the named installed plugins (all of them when names is
// empty) against freshly loaded indexes.
func statuses(ctx context.Context, g *Global, names []string) ([]install.Status, error) {
	p, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return nil, err
	}
	return install.Statuses(p, cfg, names, Platform())
}

func newUpgradeCmd(g *Global) *cobra.Command {
	var all, dryRun, save bool
	c := &cobra.Command{
		Use:   "upgrade [NAME[@CONSTRAINT]...] | --all",
		Short: "Install the newest allowed version side by side and make it active",
		Long: `Install the newest version allowed by the constraint recorded at install time
(or NAME@CONSTRAINT given now, which is then recorded), beside the installed
ones, and make it active. The old version stays until pruned (plugctl prune).
Nothing to upgrade is not an error.`,
		Example: `  plugctl upgrade --all
  plugctl upgrade greeter
  plugctl upgrade greeter@^2 --dry-run`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) {
				return usageErrorf("upgrade: name plugins or use --all (not both)")
			}
			o := install.UpgradeOptions{Names: a, Platform: Platform(), DryRun: dryRun}
			if save {
				o.LockFile = install.LockFileName
			}
			return upgradeRun(cmd.Context(), g, o)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "upgrade every installed plugin")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be upgraded, change nothing")
	c.Flags().BoolVar(&save, "save", false, "record the upgraded versions in "+install.LockFileName)
	return c
}

func upgradeRun(ctx context.Context, g *Global, o install.UpgradeOptions) error {
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	_, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return err
	}
	in, err := g.Installer()
	if err != nil {
		return err
	}
	wait := g.withProgress(in)
	out, err := in.Upgrade(ctx, cfg, o)
	wait()
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	n := 0
	for _, u := range out {
		switch {
		case u.To != u.From && o.DryRun:
			g.Printf("would upgrade %s %s -> %s\n", u.Name, u.From, u.To)
			n++
		case u.Upgraded:
			g.Printf("upgraded %s %s -> %s (active; %s stays until plugctl prune)\n", u.Name, u.From, u.To, u.From)
			n++
		case u.Reason != "" && len(o.Names) > 0:
			g.Printf("%s %s: %s\n", u.Name, u.From, u.Reason)
		}
	}
	if n == 0 {
		g.Printf("nothing to upgrade\n")
	}
	return nil
}

type outdatedJSON struct {
	Name       string `json:"name"`
	Active     string `json:"active"`
	Constraint string `json:"constraint,omitempty"`
	Allowed    string `json:"allowed,omitempty"` // newest the constraint allows
	Latest     string `json:"latest,omitempty"`  // newest release
	Index      string `json:"index,omitempty"`
	Outdated   bool   `json:"outdated"`
	Upgradable bool   `json:"upgradable"` // plugctl upgrade would change it
	Reason     string `json:"reason,omitempty"`
}

func newOutdatedCmd(g *Global) *cobra.Command {
	var exitCode, all bool
	c := &cobra.Command{
		Use:   "outdated [NAME...]",
		Short: "Show installed plugins with newer versions in their index",
		Long: `For each installed plugin: the active version, the newest the recorded constraint
allows (what plugctl upgrade would install), and the newest release overall.
Only outdated plugins are listed unless --all. With --exit-code, exit 7 when
plugctl upgrade, with the recorded constraints, would install or activate a
newer version (a newer release outside the constraint is listed, not
counted), so CI can gate on it; 0 otherwise.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			sts, err := statuses(ctx, g, a)
			if err != nil {
				return err
			}
			out := []outdatedJSON{}
			upgradable := 0
			for _, st := range sts {
				o := outdatedJSON{Name: st.Name, Active: st.Active, Constraint: st.Constraint, Allowed: st.Allowed,
					Latest: st.Latest, Index: st.Index, Outdated: st.Outdated(), Upgradable: st.Upgradable(), Reason: st.Reason}
				if o.Upgradable {
					upgradable++
				}
				if o.Outdated || all {
					out = append(out, o)
				}
			}
			if g.JSON() {
				if err := g.PrintJSON(out); err != nil {
					return err
				}
			} else if len(out) == 0 {
				g.Printf("everything is up to date\n")
			} else if err := g.printTable("NAME\tACTIVE\tALLOWED\tLATEST\tCONSTRAINT\tINDEX", func(w io.Writer) {
				for _, o := range out {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Name, dash(o.Active), dash(o.Allowed), dash(o.Latest), dash(o.Constraint), dash(o.Index))
				}
			}); err != nil {
				return err
			}
			if exitCode && upgradable > 0 {
				return &exitError{code: ExitOutdated}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&exitCode, "exit-code", false, "exit 7 when plugctl upgrade would install or activate a newer version")
	c.Flags().BoolVar(&all, "all", false, "list up-to-date plugins too")
	return c
}

func newPruneCmd(g *Global) *cobra.Command {
	var keep int
	var dryRun, force bool
	c := &cobra.Command{
		Use:   "prune [NAME...]",
		Short: "Remove old versions: keep the N newest and, always, the active one",
		RunE: func(cmd *cobra.Command, a []string) error {
			return pruneRun(cmd.Context(), g, install.PruneOptions{Names: a, Keep: keep, DryRun: dryRun, Force: force})
		},
	}
	c.Flags().IntVar(&keep, "keep", 1, "versions to keep per plugin, newest first (the active one is always kept)")
	c.Flags().BoolVar(&force, "force", false, "stop started versions that would be removed instead of keeping them")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, change nothing")
	return c
}

func pruneRun(ctx context.Context, g *Global, o install.PruneOptions) error {
	in, err := g.Installer()
	if err != nil {
		return err
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	o.Running = func(st *runtime.StartedPlugin) {
		g.Infof("plugctl: keeping %s@%s: it runs (pid %d); plugctl stop it, or prune --force\n", st.Name, st.Version, st.Pid)
	}
	out, err := in.Prune(ctx, o)
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	verb := "removed"
	if o.DryRun {
		verb = "would remove"
	}
	for _, pr := range out {
		for _, v := range pr.Removed {
			g.Printf("%s %s@%s\n", verb, pr.Name, v)
		}
	}
	if len(out) == 0 {
		g.Printf("nothing to prune\n")
	}
	return nil
}

func newSyncCmd(g *Global) *cobra.Command {
	var check, prune bool
	var file string
	c := &cobra.Command{
		Use:   "sync",
		Short: "Install exactly what " + install.LockFileName + " records and make those versions active",
		Long: `Install every plugin version plugctl.lock records, from the URL and with the
SHA-256 the lock gives for this platform (no index is consulted), and make
those versions active. A version already in the store with the locked hash is
not fetched again, so sync works offline once the store holds it; its
installed executable is checked against the hash installed from the locked
bytes (cheaply, by the file's identity, unless it changed), and fetched again
from the lock's URL when it changed. Bytes whose hash disagrees with the lock
are refused (exit 4).

A gRPC schema given with install --from --proto/--protoset --save is in the
lock entry itself (schemaSet): sync keeps it with the version, and puts it
back when the kept copy changed or is another one. An entry that names a
schema without carrying it or an address for it is exit 4.

Plugins installed but not in the lock are listed and left alone; --prune
removes them (every version; a started one is refused: stop it first).

With --check (alias --frozen) nothing is installed or removed: exit 4 naming
the installed files that changed (a kept schema included), else exit 1,
listing the differences, when sync would change the store or the lock is
inconsistent (a locked version outside its recorded constraint; a kept
schema the lock does not record, which sync leaves alone; with --prune, a
plugin not in the lock);
a lock without this platform is exit 3 either way.`,
		Example: `  plugctl sync
  plugctl sync --check
  plugctl sync --prune -o json`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			o := install.SyncOptions{File: file, Platform: Platform(), Prune: prune}
			if check {
				return syncCheckRun(g, o)
			}
			return syncRun(cmd.Context(), g, o)
		},
	}
	c.Flags().BoolVar(&prune, "prune", false, "remove installed plugins that the lock does not record (with --check: fail on them)")
	c.Flags().BoolVar(&check, "check", false, "install nothing; exit 1 when sync would change the store")
	c.Flags().BoolVar(&check, "frozen", false, "same as --check")
	c.Flags().StringVar(&file, "lock", install.LockFileName, "lock file to read")
	return c
}

func syncCheckRun(g *Global, o install.SyncOptions) error {
	in, err := g.Installer()
	if err != nil {
		return err
	}
	rep, err := in.SyncCheck(o)
	if err != nil {
		return err
	}
	noteUnlocked(g, o, rep.Unlocked)
	diffs := append(append([]string{}, rep.Changed...), rep.Drift...)
	if g.JSON() {
		// stdout stays JSON: the differences, [] when the store matches.
		if err := g.PrintJSON(diffs); err != nil {
			return err
		}
	} else {
		for _, d := range diffs {
			g.Infof("%s\n", d)
		}
	}
	if len(rep.Changed) > 0 {
		return &exitError{code: ExitIntegrity, msg: fmt.Sprintf("%d installed file(s) changed since install: %s", len(rep.Changed), strings.Join(rep.Changed, "; ")), hint: "run plugctl sync to fetch them again from the lock's URLs"}
	}
	if len(rep.Drift) > 0 {
		hint := "run plugctl sync"
		if o.Prune {
			hint += " --prune"
		}
		if n := rep.SchemaUnlocked; n != "" {
			hint = fmt.Sprintf("%s keeps a gRPC schema that %s does not record (sync leaves it): record it with plugctl install --from SOURCE --sha256 HEX --name %s --version V --proto FILE --force --save", n, o.File, n)
		}
		return &exitError{code: ExitError, msg: fmt.Sprintf("the store does not match %s (%d difference(s))", o.File, len(rep.Drift)), hint: hint}
	}
	if !g.JSON() {
		g.Printf("the store matches %s\n", o.File)
	}
	return nil
}

func syncRun(ctx context.Context, g *Global, o install.SyncOptions) error {
	in, err := g.Installer()
	if err != nil {
		return err
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	wait := g.withProgress(in)
	out, unlocked, err := in.Sync(ctx, o)
	wait()
	var re *runner.RunningError
	if errors.As(err, &re) {
		return &exitError{code: ExitError, msg: fmt.Sprintf("%s@%s is not in %s but runs (started, pid %d): --prune removes nothing that runs", re.Name, re.Version, o.File, re.Pid),
			hint: fmt.Sprintf("plugctl stop %s@%s, then plugctl sync --prune", re.Name, re.Version)}
	}
	if err != nil {
		return err
	}
	noteUnlocked(g, o, unlocked)
	if g.JSON() {
		return g.PrintJSON(out)
	}
	for _, s := range out {
		if s.Removed != nil {
			g.Printf("removed %s (not in %s): %s\n", s.Name, o.File, strings.Join(s.Removed, ", "))
			continue
		}
		state := "already installed"
		switch {
		case s.Reinstalled:
			state = "reinstalled (its files had changed)"
		case s.Installed:
			state = "installed"
		}
		g.Printf("%s@%s %s, active\n", s.Name, s.Version, state)
	}
	return nil
}

// noteUnlocked tells, without --prune, of the installed plugins the lock
// does not record.
func noteUnlocked(g *Global, o install.SyncOptions, unlocked []string) {
	if o.Prune {
		return
	}
	for _, n := range unlocked {
		g.Infof("%s is installed but not in %s (plugctl sync --prune removes it)\n", n, o.File)
	}
}
