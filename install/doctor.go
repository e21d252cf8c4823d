package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// Problem is one finding of Doctor.
type Problem struct {
	Kind     string `json:"kind"`    // config, index, receipt, orphan, missing, tampered, active, leftover, run-dir (and stale-run from runtime)
	Subject  string `json:"subject"` // NAME@VERSION, a path, an index name
	Message  string `json:"message"`
	Fix      string `json:"fix"`
	Repaired bool   `json:"repaired"`
	// Name and Version are those of a tampered or missing version, which
	// ReinstallTampered fetches again.
	Name    string `json:"-"`
	Version string `json:"-"`
}

// Doctor checks the store: config.yaml and the index caches, every
// version's receipt, executable and hashes, the active versions, leftovers
// of killed commands in tmp/, and run/'s mode. It repairs what is safe to
// repair (leftovers, version directories without a receipt, an active
// version that is not installed, run/'s mode) unless dryRun, and reports
// the rest with the command that fixes it. Started plugins are runtime's
// business (runtime.CleanStale).
func (in *Installer) Doctor(dryRun bool) ([]Problem, error) {
	p := in.Paths
	if _, err := os.Stat(p.Home); err != nil {
		return nil, fmt.Errorf("home %s: %w", p.Home, err)
	}
	var probs []Problem
	cfg, err := store.LoadConfig(p)
	if err != nil {
		probs = append(probs, Problem{Kind: "config", Subject: p.Config(), Message: err.Error(),
			Fix: "fix the YAML of " + p.Config() + ", or move it aside and add the indexes again with plugctl index add"})
	} else {
		for _, src := range cfg.Indexes {
			if _, err := index.LoadMeta(p, src.Name); err != nil {
				probs = append(probs, Problem{Kind: "index", Subject: src.Name, Message: "not cached: " + err.Error(), Fix: "plugctl index update " + src.Name})
			}
		}
	}
	names, err := p.Names()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		probs = append(probs, in.doctorPlugin(name, dryRun)...)
	}
	for _, l := range in.leftovers(true) {
		pr := Problem{Kind: "leftover", Subject: l.Path, Message: "left in tmp/ by " + l.What, Fix: "plugctl doctor removes it"}
		if !dryRun {
			pr.Fix = "removed"
			if err := os.RemoveAll(l.Path); err != nil {
				pr.Fix = "remove it by hand: rm -rf " + l.Path
			} else {
				pr.Repaired = true
			}
		}
		probs = append(probs, pr)
	}
	if fi, err := os.Stat(p.Run()); err == nil && fi.Mode().Perm() != 0o700 {
		pr := Problem{Kind: "run-dir", Subject: p.Run(), Message: fmt.Sprintf("mode %v: other users may reach plugin sockets", fi.Mode().Perm()), Fix: "chmod 700 " + p.Run()}
		if !dryRun && os.Chmod(p.Run(), 0o700) == nil {
			pr.Repaired, pr.Fix = true, "made 0700"
		}
		probs = append(probs, pr)
	}
	return probs, nil
}

// doctorPlugin checks one plugin's directory: receipts, executables and
// hashes, the active version, directories without a receipt.
func (in *Installer) doctorPlugin(name string, dryRun bool) []Problem {
	p := in.Paths
	var probs []Problem
	entries, err := os.ReadDir(p.PluginDir(name))
	if err != nil {
		return []Problem{{Kind: "receipt", Subject: name, Message: err.Error(), Fix: "check the permissions of " + p.PluginDir(name)}}
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
			pr := Problem{Kind: "orphan", Subject: p.VersionDir(name, v), Message: id + " has no receipt: a leftover, not an install", Fix: "plugctl doctor removes it"}
			if !dryRun {
				pr.Fix = "removed"
				if err := in.discard(p.VersionDir(name, v), "doctor"); err != nil {
					pr.Fix = "remove it by hand: rm -rf " + p.VersionDir(name, v)
				} else {
					pr.Repaired = true
				}
			}
			probs = append(probs, pr)
			continue
		case err != nil:
			probs = append(probs, Problem{Kind: "receipt", Subject: id, Message: err.Error(),
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
		probs = append(probs, Problem{Kind: kind, Subject: id, Message: strings.Join(c.Problems, "; "),
			Fix: "plugctl reinstall " + id, Name: name, Version: v})
	}
	if pr, ok := in.doctorActive(name, installed, dryRun); ok {
		probs = append(probs, pr)
	}
	return probs
}

// ReinstallTampered fetches every tampered or missing version of probs
// again from its receipt (Reinstall) and marks it repaired; a failure is
// kept in the problem's fix. Doctor itself never downloads: this is
// doctor --reinstall.
func (in *Installer) ReinstallTampered(ctx context.Context, probs []Problem) {
	for i := range probs {
		pr := &probs[i]
		if (pr.Kind != "tampered" && pr.Kind != "missing") || pr.Repaired || pr.Name == "" {
			continue
		}
		if _, err := in.Reinstall(ctx, pr.Name, pr.Version); err != nil {
			pr.Fix = "plugctl reinstall " + pr.Subject + " failed: " + err.Error()
			continue
		}
		pr.Repaired, pr.Fix = true, "reinstalled from "+pr.Subject+"'s recorded source"
	}
}

// doctorActive checks that name's active version is installed, and that a
// plugin with versions has one.
func (in *Installer) doctorActive(name string, installed int, dryRun bool) (Problem, bool) {
	p := in.Paths
	b, err := store.ReadFileMax(p.CurrentFile(name), store.MaxRecordBytes)
	rs, _ := p.Versions(name)
	var pr Problem
	switch {
	case err == nil:
		if active, _ := p.Active(name); active != "" {
			return pr, false
		}
		pr = Problem{Kind: "active", Subject: name, Message: fmt.Sprintf("the active version %q is not installed", strings.TrimSpace(string(b)))}
	case installed > 0 && errors.Is(err, fs.ErrNotExist):
		pr = Problem{Kind: "active", Subject: name, Message: "no active version"}
	default:
		return pr, false
	}
	switch {
	case len(rs) > 0:
		pr.Fix = "plugctl use " + name + "@" + rs[0].Version
		if !dryRun && in.repairActive(name, func() error { return p.SetActive(name, rs[0].Version) }) == nil {
			pr.Repaired, pr.Fix = true, "made "+name+"@"+rs[0].Version+" (the newest installed) active; plugctl use NAME@VERSION picks another"
		}
	default:
		pr.Fix = "plugctl doctor forgets it"
		if !dryRun && in.repairActive(name, func() error { return p.ClearActive(name) }) == nil {
			pr.Repaired, pr.Fix = true, "forgot it"
		}
	}
	return pr, true
}

// repairActive runs fix under the name lock, waiting for it at most a few
// seconds: a plugin busy being installed or removed is left for the next
// doctor rather than repaired from a stale look at it.
func (in *Installer) repairActive(name string, fix func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return in.withNameLock(ctx, name, fix)
}
