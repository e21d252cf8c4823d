package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// doctorProblem is one finding of plugctl doctor.
type doctorProblem struct {
	Kind     string `json:"kind"`    // config, index, receipt, orphan, missing, tampered, active, leftover, stale-run, run-dir
	Subject  string `json:"subject"` // what it is about: NAME@VERSION, a path, an index name
	Message  string `json:"message"`
	Fix      string `json:"fix"`
	Repaired bool   `json:"repaired"`
}

type doctorJSON struct {
	OK       bool            `json:"ok"`
	Problems []doctorProblem `json:"problems"`
}

// leftoverAge is how old a remove-* or index-* directory in tmp/ must be
// before doctor takes it for the leftover of a killed command.
const leftoverAge = 5 * time.Minute

type doctorOptions struct {
	g      *Global
	DryRun bool
}

func newDoctorCmd(g *Global) *cobra.Command {
	o := &doctorOptions{g: g}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the home, repair what is safe to repair, and say how to fix the rest",
		Long: `Check the plugctl home: config.yaml readable; every configured index cached;
every receipt readable, its executable present and matching its hash (and the
whole pkg/ tree its tree hash); the active version of each plugin installed;
no leftovers of interrupted installs, removals or index updates in tmp/; no
version directory without a receipt; no run files of started plugins whose
process died; run/ private (0700).

Leftovers, stale run files, directories without a receipt, an active version
that is gone and run/'s mode are repaired at once (--dry-run only reports).
What cannot be repaired safely (a changed binary, an unreadable config or
receipt, an index never fetched) is printed with the command that fixes it,
and doctor exits 1. It exits 0 when nothing is wrong or everything found was
repaired.`,
		Example: "  plugctl doctor\n  plugctl doctor --dry-run -o json",
		Args:    args(0, 0),
		RunE:    func(cmd *cobra.Command, a []string) error { return doctorRun(o) },
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "report only; repair nothing")
	return c
}

func doctorRun(o *doctorOptions) error {
	g := o.g
	in, err := g.Installer()
	if err != nil {
		return err
	}
	p := in.Paths
	if _, err := os.Stat(p.Home); err != nil {
		return fmt.Errorf("home %s: %w", p.Home, err)
	}
	var probs []doctorProblem
	add := func(pr doctorProblem) { probs = append(probs, pr) }

	// config.yaml and the index caches.
	cfg, err := index.LoadConfig(p)
	if err != nil {
		add(doctorProblem{Kind: "config", Subject: p.Config(), Message: err.Error(),
			Fix: "fix the YAML of " + p.Config() + ", or move it aside and add the indexes again with plugctl index add"})
	} else {
		for _, src := range cfg.Indexes {
			if _, err := index.LoadMeta(p, src.Name); err != nil {
				add(doctorProblem{Kind: "index", Subject: src.Name, Message: "not cached: " + err.Error(),
					Fix: "plugctl index update " + src.Name})
			}
		}
	}

	// Installed plugins.
	names, err := p.Names()
	if err != nil {
		return err
	}
	for _, name := range names {
		probs = append(probs, doctorPlugin(in, name, o.DryRun)...)
	}

	// tmp/: staging directories of killed installs (no live lock), and old
	// remove-* and index-* directories.
	if o.DryRun {
		entries, _ := os.ReadDir(p.Tmp())
		for _, e := range entries {
			if stageFree(p, e.Name()) {
				add(doctorProblem{Kind: "leftover", Subject: filepath.Join(p.Tmp(), e.Name()), Message: "staging directory of an interrupted install", Fix: "plugctl doctor removes it"})
				continue
			}
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > leftoverAge && (strings.HasPrefix(e.Name(), "remove-") || strings.HasPrefix(e.Name(), "index-")) {
				add(doctorProblem{Kind: "leftover", Subject: filepath.Join(p.Tmp(), e.Name()), Message: "left in tmp/ by an interrupted command", Fix: "plugctl doctor removes it"})
			}
		}
	} else {
		for _, n := range in.CleanLeftovers() {
			add(doctorProblem{Kind: "leftover", Subject: filepath.Join(p.Tmp(), n), Message: "staging directory of an interrupted install", Fix: "removed", Repaired: true})
		}
		entries, _ := os.ReadDir(p.Tmp())
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "remove-") && !strings.HasPrefix(e.Name(), "index-") {
				continue
			}
			fi, err := e.Info()
			if err != nil || time.Since(fi.ModTime()) < leftoverAge {
				continue
			}
			path := filepath.Join(p.Tmp(), e.Name())
			what := "an interrupted removal"
			if strings.HasPrefix(e.Name(), "index-") {
				what = "an interrupted index update"
			}
			pr := doctorProblem{Kind: "leftover", Subject: path, Message: "left in tmp/ by " + what, Fix: "removed"}
			if err := os.RemoveAll(path); err != nil {
				pr.Fix = "remove it by hand: rm -rf " + path
			} else {
				pr.Repaired = true
			}
			add(pr)
		}
	}

	// run/: private, and no records of started plugins that died.
	if fi, err := os.Stat(p.Run()); err == nil && fi.Mode().Perm() != 0o700 {
		pr := doctorProblem{Kind: "run-dir", Subject: p.Run(), Message: fmt.Sprintf("mode %v: other users may reach plugin sockets", fi.Mode().Perm()), Fix: "chmod 700 " + p.Run()}
		if !o.DryRun && os.Chmod(p.Run(), 0o700) == nil {
			pr.Repaired, pr.Fix = true, "made 0700"
		}
		add(pr)
	}
	stale, err := runtime.CleanStale(p, o.DryRun)
	if err != nil {
		return err
	}
	for _, s := range stale {
		pr := doctorProblem{Kind: "stale-run", Subject: s.Path, Repaired: !o.DryRun}
		if s.Name != "" {
			pr.Subject = s.Name + "@" + s.Version
			pr.Message = fmt.Sprintf("started plugin no longer runs (pid %d): run files left in %s", s.Pid, p.Run())
		} else {
			pr.Message = "unreadable run file " + s.Path
		}
		pr.Fix = "removed"
		if o.DryRun {
			pr.Fix = "plugctl doctor removes it"
		}
		add(pr)
	}

	return doctorReport(g, probs)
}

// doctorPlugin checks one plugin's directory: receipts, executables and
// hashes, the active version, directories without a receipt.
func doctorPlugin(in *install.Installer, name string, dryRun bool) []doctorProblem {
	p := in.Paths
	var probs []doctorProblem
	entries, err := os.ReadDir(p.PluginDir(name))
	if err != nil {
		return []doctorProblem{{Kind: "receipt", Subject: name, Message: err.Error(), Fix: "check the permissions of " + p.PluginDir(name)}}
	}
	installed := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v := e.Name()
		id := name + "@" + v
		_, statErr := os.Stat(p.ReceiptFile(name, v))
		r, err := p.ReadReceipt(name, v)
		switch {
		case errors.Is(statErr, fs.ErrNotExist):
			pr := doctorProblem{Kind: "orphan", Subject: p.VersionDir(name, v), Message: id + " has no receipt: a leftover, not an install", Fix: "removed"}
			if dryRun {
				pr.Fix = "plugctl doctor removes it"
			} else if err := removeDir(p, p.VersionDir(name, v)); err != nil {
				pr.Fix = "remove it by hand: rm -rf " + p.VersionDir(name, v)
			} else {
				pr.Repaired = true
			}
			probs = append(probs, pr)
			continue
		case err != nil:
			probs = append(probs, doctorProblem{Kind: "receipt", Subject: id, Message: err.Error(),
				Fix: fmt.Sprintf("reinstall it: rm -rf %s && plugctl install %s", p.VersionDir(name, v), id)})
			continue
		}
		installed++
		c := in.Verify(r)
		if len(c.Problems) == 0 {
			continue
		}
		kind := "tampered"
		if _, err := os.Stat(p.Exe(r)); err != nil {
			kind = "missing"
		}
		probs = append(probs, doctorProblem{Kind: kind, Subject: id, Message: strings.Join(c.Problems, "; "),
			Fix: fmt.Sprintf("reinstall it: plugctl remove %s && plugctl install %s", id, id)})
	}
	// The active version.
	b, err := os.ReadFile(p.CurrentFile(name))
	if err == nil {
		want := strings.TrimSpace(string(b))
		if active, _ := p.Active(name); active == "" {
			pr := doctorProblem{Kind: "active", Subject: name, Message: fmt.Sprintf("the active version %q is not installed", want)}
			rs, _ := p.Versions(name)
			switch {
			case dryRun && len(rs) > 0:
				pr.Fix = "plugctl use " + name + "@" + rs[0].Version
			case dryRun:
				pr.Fix = "plugctl doctor forgets it"
			case len(rs) > 0:
				if p.SetActive(name, rs[0].Version) == nil {
					pr.Repaired, pr.Fix = true, "made "+name+"@"+rs[0].Version+" (the newest installed) active; plugctl use NAME@VERSION picks another"
				}
			default:
				if p.ClearActive(name) == nil {
					pr.Repaired, pr.Fix = true, "forgot it"
				}
			}
			if pr.Fix == "" {
				pr.Fix = "plugctl use NAME@VERSION"
			}
			probs = append(probs, pr)
		}
	} else if installed > 0 && errors.Is(err, fs.ErrNotExist) {
		rs, _ := p.Versions(name)
		pr := doctorProblem{Kind: "active", Subject: name, Message: "no active version", Fix: "plugctl use " + name + "@" + rs[0].Version}
		if !dryRun && p.SetActive(name, rs[0].Version) == nil {
			pr.Repaired, pr.Fix = true, "made "+name+"@"+rs[0].Version+" (the newest installed) active"
		}
		probs = append(probs, pr)
	}
	return probs
}

// removeDir moves dir out of plugins/ into tmp/ (one rename, so it
// disappears at once) and deletes it there.
func removeDir(p store.Paths, dir string) error {
	tmp, err := p.EnsureTmp()
	if err != nil {
		return err
	}
	trash, err := os.MkdirTemp(tmp, "remove-doctor.")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(trash, "v")); err != nil {
		os.Remove(trash)
		return err
	}
	return os.RemoveAll(trash)
}

func doctorReport(g *Global, probs []doctorProblem) error {
	left := 0
	for _, pr := range probs {
		if !pr.Repaired {
			left++
		}
	}
	if g.JSON() {
		if probs == nil {
			probs = []doctorProblem{}
		}
		if err := g.PrintJSON(doctorJSON{OK: left == 0, Problems: probs}); err != nil {
			return err
		}
		if left > 0 {
			return &exitError{code: ExitError}
		}
		return nil
	}
	for _, pr := range probs {
		if pr.Repaired {
			g.Printf("repaired  %s: %s (%s)\n", pr.Subject, pr.Message, pr.Fix)
		} else {
			fmt.Fprintf(g.IO.Out, "PROBLEM   %s: %s; fix: %s\n", pr.Subject, pr.Message, pr.Fix)
		}
	}
	switch {
	case len(probs) == 0:
		g.Printf("no problems found\n")
	case left == 0:
		g.Printf("%d problem(s) found, all repaired\n", len(probs))
	default:
		return &exitError{code: ExitError, msg: fmt.Sprintf("%d problem(s) need attention (see the fix on each line)", left)}
	}
	return nil
}

// stageFree reports whether tmp/<entry> is an install's staging directory
// (name@version.RANDOM) whose version lock no live process holds, which is
// what install.Installer.CleanLeftovers removes.
func stageFree(p store.Paths, entry string) bool {
	name, rest, ok := strings.Cut(entry, "@")
	if !ok || store.ValidName(name) != nil || strings.HasPrefix(entry, "remove-") || strings.HasPrefix(entry, "index-") {
		return false
	}
	fl := flock.New(p.LockFile(name, strings.TrimSuffix(rest, filepath.Ext(rest))))
	locked, err := fl.TryLock()
	if err != nil || !locked {
		return false
	}
	fl.Unlock()
	return true
}
