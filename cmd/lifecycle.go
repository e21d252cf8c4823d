//go:build !plugctl_lean

package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// statuses checks the named installed plugins (all of them when names is
// empty) against their indexes. A NAME@CONSTRAINT replaces the recorded
// constraint.
func statuses(ctx context.Context, g *Global, names []string) ([]install.Status, error) {
	p, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return nil, err
	}
	type want struct{ name, constraint string }
	var todo []want
	if len(names) == 0 {
		all, err := p.Names()
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			todo = append(todo, want{name: n})
		}
	}
	for _, s := range names {
		q, err := index.ParseQuery(s)
		if err != nil {
			return nil, err
		}
		if q.Index != "" {
			return nil, usageErrorf("%s: a plugin is checked against the index it was installed from", s)
		}
		todo = append(todo, want{q.Name, q.Constraint})
	}
	var out []install.Status
	for _, w := range todo {
		st, err := install.CheckOne(p, cfg, w.name, w.constraint, Platform())
		if err != nil {
			if len(names) == 0 && errors.Is(err, store.ErrNotInstalled) {
				continue // an empty plugin directory
			}
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

type upgradeJSON struct {
	Name       string `json:"name"`
	From       string `json:"from"`
	To         string `json:"to"`
	Constraint string `json:"constraint,omitempty"`
	Upgraded   bool   `json:"upgraded"` // false with --dry-run or when already newest
	Reason     string `json:"reason,omitempty"`
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
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			sts, err := statuses(ctx, g, a)
			if err != nil {
				return err
			}
			in, err := g.Installer()
			if err != nil {
				return err
			}
			out := []upgradeJSON{}
			var plans []plan
			for _, st := range sts {
				u := upgradeJSON{Name: st.Name, From: st.Active, To: st.Active, Constraint: st.Constraint, Reason: st.Reason}
				if st.Upgradable() {
					u.To = st.Allowed
					plans = append(plans, plan{Req: *st.Request})
				} else if u.Reason == "" {
					u.Reason = "newest allowed version is active"
				}
				out = append(out, u)
			}
			if !dryRun && len(plans) > 0 {
				saver, err := newLockSaver(save)
				if err != nil {
					return err
				}
				if save {
					for i := range plans {
						if plans[i].Lock, err = lockEntryFor(g, plans[i].Req); err != nil {
							return err
						}
					}
				}
				results, err := installAll(ctx, g, in, plans)
				if err != nil {
					return err
				}
				for _, r := range results {
					if _, err := in.Use(ctx, r.Plan.Req.Name, r.Plan.Req.Version); err != nil {
						return err
					}
					for i := range out {
						if out[i].Name == r.Plan.Req.Name {
							out[i].Upgraded = true
						}
					}
				}
				if err := saver.record(results); err != nil {
					return err
				}
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			n := 0
			for _, u := range out {
				switch {
				case u.To != u.From && dryRun:
					g.Printf("would upgrade %s %s -> %s\n", u.Name, u.From, u.To)
					n++
				case u.Upgraded:
					g.Printf("upgraded %s %s -> %s (active; %s stays until plugctl prune)\n", u.Name, u.From, u.To, u.From)
					n++
				case u.Reason != "" && len(a) > 0:
					g.Printf("%s %s: %s\n", u.Name, u.From, u.Reason)
				}
			}
			if n == 0 {
				g.Printf("nothing to upgrade\n")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "upgrade every installed plugin")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be upgraded, change nothing")
	c.Flags().BoolVar(&save, "save", false, "record the upgraded versions in "+install.LockFileName)
	return c
}

// lockEntryFor builds the lock entry of an index request (every platform).
func lockEntryFor(g *Global, req install.Request) (install.LockedPlugin, error) {
	p, err := g.Paths()
	if err != nil {
		return install.LockedPlugin{}, err
	}
	cfg, err := g.Config()
	if err != nil {
		return install.LockedPlugin{}, err
	}
	cands, err := install.Candidates(p, cfg, req.Name)
	if err != nil {
		return install.LockedPlugin{}, err
	}
	for _, c := range cands {
		if c.Index == req.Index {
			return install.Entry(c, req.Version, req.Constraint)
		}
	}
	return lockFromRequest(req), nil
}

// lockSaver records in plugctl.lock what install --save and upgrade --save
// installed. The lock is read before anything is installed, so that an
// unreadable one fails the command before it changes the store.
type lockSaver struct{ lock *install.Lock }

// newLockSaver reads plugctl.lock when save is set; a nil *lockSaver saves
// nothing.
func newLockSaver(save bool) (*lockSaver, error) {
	if !save {
		return nil, nil
	}
	lock, err := install.ReadLockOrNew(install.LockFileName)
	if err != nil {
		return nil, err
	}
	return &lockSaver{lock: lock}, nil
}

// record writes the versions of results that were installed.
func (s *lockSaver) record(results []planResult) error {
	if s == nil || len(results) == 0 {
		return nil
	}
	for _, r := range results {
		if r.Res != nil {
			s.lock.Plugins[r.Plan.Req.Name] = r.Plan.Lock
		}
	}
	return s.lock.Write(install.LockFileName)
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
anything is outdated, so CI can gate on it.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			sts, err := statuses(ctx, g, a)
			if err != nil {
				return err
			}
			out := []outdatedJSON{}
			outdated := 0
			for _, st := range sts {
				o := outdatedJSON{Name: st.Name, Active: st.Active, Constraint: st.Constraint, Allowed: st.Allowed,
					Latest: st.Latest, Index: st.Index, Outdated: st.Outdated(), Upgradable: st.Upgradable(), Reason: st.Reason}
				if o.Outdated {
					outdated++
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
			if exitCode && outdated > 0 {
				return &exitError{code: ExitOutdated}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&exitCode, "exit-code", false, "exit 7 when anything is outdated")
	c.Flags().BoolVar(&all, "all", false, "list up-to-date plugins too")
	return c
}

type pruneJSON struct {
	Name    string   `json:"name"`
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
}

func newPruneCmd(g *Global) *cobra.Command {
	var keep int
	var dryRun, force bool
	c := &cobra.Command{
		Use:   "prune [NAME...]",
		Short: "Remove old versions: keep the N newest and, always, the active one",
		RunE: func(cmd *cobra.Command, a []string) error {
			if keep < 1 {
				return usageErrorf("--keep %d: keep at least 1 version", keep)
			}
			in, err := g.Installer()
			if err != nil {
				return err
			}
			names, err := namesOrAll(in.Paths, a)
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			out := []pruneJSON{}
			for _, n := range names {
				choices, err := in.PruneVersions(n, keep)
				if err != nil {
					return err
				}
				if len(a) > 0 && len(choices) == 0 {
					return fmt.Errorf("%s: %w", n, store.ErrNotInstalled)
				}
				pj := pruneJSON{Name: n, Removed: []string{}, Kept: []string{}}
				for _, c := range choices { // newest first
					v := c.Version
					if c.Keep {
						pj.Kept = append(pj.Kept, v)
						continue
					}
					if running, err := runtime.ReadStarted(in.Paths, n, v); err == nil && running.Alive() {
						if !force {
							pj.Kept = append(pj.Kept, v)
							g.Infof("plugctl: keeping %s@%s: it runs (pid %d); plugctl stop it, or prune --force\n", n, v, running.Pid)
							continue
						}
						if !dryRun {
							if _, err := runtime.Stop(ctx, in.Paths, n, v); err != nil {
								return err
							}
						}
					}
					if !dryRun {
						if _, err := in.Remove(ctx, n, v); err != nil {
							return err
						}
						runtime.RemoveRunFiles(in.Paths, n, v)
					}
					pj.Removed = append(pj.Removed, v)
				}
				if len(pj.Removed) > 0 {
					out = append(out, pj)
				}
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, pj := range out {
				for _, v := range pj.Removed {
					g.Printf("%s %s@%s\n", verb, pj.Name, v)
				}
			}
			if len(out) == 0 {
				g.Printf("nothing to prune\n")
			}
			return nil
		},
	}
	c.Flags().IntVar(&keep, "keep", 1, "versions to keep per plugin, newest first (the active one is always kept)")
	c.Flags().BoolVar(&force, "force", false, "stop started versions that would be removed instead of keeping them")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, change nothing")
	return c
}

type syncJSON struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Installed bool   `json:"installed"` // false: it was already in the store
	Activated bool   `json:"activated"` // it was not the active version before
}

func newSyncCmd(g *Global) *cobra.Command {
	var check bool
	var file string
	c := &cobra.Command{
		Use:   "sync",
		Short: "Install exactly what " + install.LockFileName + " records and make those versions active",
		Long: `Install every plugin version plugctl.lock records, from the URL and with the
SHA-256 the lock gives for this platform (no index is consulted), and make
those versions active. A version already in the store with the locked hash is
not fetched again, so sync works offline once the store holds it. Bytes whose
hash disagrees with the lock are refused (exit 4). With --check (alias
--frozen) nothing is installed: exit 1, listing the differences, when sync
would change the store or the lock is inconsistent (a locked version outside
its recorded constraint); a lock without this platform is exit 3 either way.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			lock, err := install.ReadLock(file)
			if err != nil {
				return err
			}
			in, err := g.Installer()
			if err != nil {
				return err
			}
			ctx, cancel := g.withTimeout(cmd.Context())
			defer cancel()
			steps, drift, err := in.SyncPlan(lock, file, Platform())
			if err != nil {
				return err
			}
			plans := make([]plan, len(steps))
			for i, st := range steps {
				plans[i] = plan{Req: st.Req, Lock: st.Lock}
			}
			var out []syncJSON
			if check {
				if g.JSON() {
					// stdout stays JSON: the differences, [] when the store matches.
					if err := g.PrintJSON(append([]string{}, drift...)); err != nil {
						return err
					}
				}
				if len(drift) > 0 {
					if !g.JSON() {
						for _, d := range drift {
							g.Infof("%s\n", d)
						}
					}
					return &exitError{code: ExitError, msg: fmt.Sprintf("the store does not match %s (%d difference(s))", file, len(drift)), hint: "run plugctl sync"}
				}
				if !g.JSON() {
					g.Printf("the store matches %s\n", file)
				}
				return nil
			}
			results, err := installAll(ctx, g, in, plans)
			if err != nil {
				return err
			}
			for _, r := range results {
				before, _ := in.Paths.Active(r.Plan.Req.Name)
				if _, err := in.Use(ctx, r.Plan.Req.Name, r.Plan.Req.Version); err != nil {
					return err
				}
				out = append(out, syncJSON{Name: r.Plan.Req.Name, Version: r.Plan.Req.Version, Installed: !r.Res.Already, Activated: before != r.Plan.Req.Version})
			}
			if g.JSON() {
				if out == nil {
					out = []syncJSON{}
				}
				return g.PrintJSON(out)
			}
			for _, s := range out {
				state := "already installed"
				if s.Installed {
					state = "installed"
				}
				g.Printf("%s@%s %s, active\n", s.Name, s.Version, state)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&check, "check", false, "install nothing; exit 1 when sync would change the store")
	c.Flags().BoolVar(&check, "frozen", false, "same as --check")
	c.Flags().StringVar(&file, "lock", install.LockFileName, "lock file to read")
	return c
}
