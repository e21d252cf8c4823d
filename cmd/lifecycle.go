package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

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
	return install.RequestEntry(req), nil
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
		if r.Res != nil && !r.Plan.Reinstall {
			lp := r.Plan.Lock
			// An install pinned by a registry digest names no sha256: the
			// lock file records the one the bytes had.
			if a, ok := lp.Platforms[r.Plan.Req.Platform]; ok && a.SHA256 == "" {
				a.SHA256 = r.Res.Receipt.ArtifactSHA256
				lp.Platforms = maps.Clone(lp.Platforms)
				lp.Platforms[r.Plan.Req.Platform] = a
			}
			s.lock.Plugins[r.Plan.Req.Name] = lp
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
						clearDead(ctx, in.Paths, n, v)
						if _, err := in.Remove(ctx, n, v); err != nil {
							return err
						}
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
	Version   string `json:"version,omitempty"`
	Installed bool   `json:"installed"` // false: it was already in the store
	Activated bool   `json:"activated"` // it was not the active version before
	// Reinstalled: its installed files had changed, and it was fetched
	// again from the lock's URL.
	Reinstalled bool `json:"reinstalled,omitempty"`
	// Removed: not in the lock, removed by --prune (every version).
	Removed []string `json:"removed,omitempty"`
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
			unlocked, err := in.Unlocked(lock)
			if err != nil {
				return err
			}
			var changed []string
			plans := make([]plan, len(steps))
			before := map[string]string{}
			unlockedSchema := ""
			for i, st := range steps {
				plans[i] = plan{Req: st.Req, Lock: st.Lock, Replace: len(st.Changed) > 0 || st.Stale}
				if st.SchemaUnlocked {
					unlockedSchema = st.Req.Name
				}
				for _, f := range st.Changed {
					changed = append(changed, fmt.Sprintf("%s@%s: %s changed since install", st.Req.Name, st.Req.Version, f))
				}
				before[st.Req.Name], _ = in.Paths.Active(st.Req.Name)
			}
			if check {
				for _, n := range unlocked {
					if prune {
						drift = append(drift, fmt.Sprintf("%s is installed but not in %s", n, file))
					} else {
						g.Infof("%s is installed but not in %s (plugctl sync --prune removes it)\n", n, file)
					}
				}
				if g.JSON() {
					// stdout stays JSON: the differences, [] when the store matches.
					if err := g.PrintJSON(append(append([]string{}, changed...), drift...)); err != nil {
						return err
					}
				} else {
					for _, d := range append(changed, drift...) {
						g.Infof("%s\n", d)
					}
				}
				if len(changed) > 0 {
					return &exitError{code: ExitIntegrity, msg: fmt.Sprintf("%d installed file(s) changed since install: %s", len(changed), strings.Join(changed, "; ")), hint: "run plugctl sync to fetch them again from the lock's URLs"}
				}
				if len(drift) > 0 {
					hint := "run plugctl sync" + map[bool]string{true: " --prune", false: ""}[prune]
					if unlockedSchema != "" {
						hint = fmt.Sprintf("%s keeps a gRPC schema that %s does not record (sync leaves it): record it with plugctl install --from SOURCE --sha256 HEX --name %s --version V --proto FILE --force --save", unlockedSchema, file, unlockedSchema)
					}
					return &exitError{code: ExitError, msg: fmt.Sprintf("the store does not match %s (%d difference(s))", file, len(drift)), hint: hint}
				}
				if !g.JSON() {
					g.Printf("the store matches %s\n", file)
				}
				return nil
			}
			if prune {
				running, err := runtime.Started(in.Paths)
				if err != nil {
					return err
				}
				for _, s := range running {
					if slices.Contains(unlocked, s.Name) {
						return &exitError{code: ExitError, msg: fmt.Sprintf("%s@%s is not in %s but runs (started, pid %d): --prune removes nothing that runs", s.Name, s.Version, file, s.Pid),
							hint: fmt.Sprintf("plugctl stop %s@%s, then plugctl sync --prune", s.Name, s.Version)}
					}
				}
			}
			results, err := installAll(ctx, g, in, plans)
			if err != nil {
				return err
			}
			out := []syncJSON{}
			for _, r := range results {
				name, version := r.Plan.Req.Name, r.Plan.Req.Version
				if _, err := in.Use(ctx, name, version); err != nil {
					return err
				}
				out = append(out, syncJSON{Name: name, Version: version, Installed: !r.Res.Already, Activated: before[name] != version, Reinstalled: r.Res.Replaced})
			}
			if prune {
				for _, n := range unlocked {
					rm, err := in.Remove(ctx, n, "")
					if err != nil {
						return err
					}
					out = append(out, syncJSON{Name: n, Removed: rm.Removed})
				}
			} else {
				for _, n := range unlocked {
					g.Infof("%s is installed but not in %s (plugctl sync --prune removes it)\n", n, file)
				}
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			for _, s := range out {
				if s.Removed != nil {
					g.Printf("removed %s (not in %s): %s\n", s.Name, file, strings.Join(s.Removed, ", "))
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
		},
	}
	c.Flags().BoolVar(&prune, "prune", false, "remove installed plugins that the lock does not record (with --check: fail on them)")
	c.Flags().BoolVar(&check, "check", false, "install nothing; exit 1 when sync would change the store")
	c.Flags().BoolVar(&check, "frozen", false, "same as --check")
	c.Flags().StringVar(&file, "lock", install.LockFileName, "lock file to read")
	return c
}
