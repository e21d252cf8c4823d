package install

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/verify"
)

// SyncStep is one plugin of a lock file: the request that installs its
// locked version for the platform, and its lock entry.
type SyncStep struct {
	Req  Request
	Lock LockedPlugin
	// Changed names the installed files of the locked version that no
	// longer hash to what was installed from the locked bytes: sync
	// fetches the version again, sync --check fails with ErrTampered. A
	// kept gRPC schema that is missing or no longer hashes to its
	// receipt's SHA-256 is among them.
	Changed []string
	// Stale: the installed version keeps another gRPC schema than the
	// lock records, or none where it records one: sync installs it again
	// with the lock's.
	Stale bool
	// SchemaUnlocked: the installed version keeps a gRPC schema where the
	// lock records none (a lock written before lock entries carried
	// schemas): sync leaves it, sync --check reports it.
	SchemaUnlocked bool
}

// SyncPlan compares the store with lock (read from file) for platform. It
// returns a step for every locked plugin, in name order, and the
// differences `sync --check` reports: a version not installed, another
// version active, a locked version outside its recorded constraint. A
// locked version installed from other bytes than the lock records is an
// error wrapping ErrTampered; a lock without the platform is an error too.
// The executable of an installed locked version is checked against its
// receipt's hash, which the lock's vouches for, through its identity record
// (a full hash only when the file's identity changed): a changed one is in
// the step's Changed. So is a kept gRPC schema that is missing or changed;
// one other than the lock records is a difference.
func (in *Installer) SyncPlan(lock *Lock, file, platform string) ([]SyncStep, []string, error) {
	var steps []SyncStep
	var drift []string
	for _, name := range slices.Sorted(maps.Keys(lock.Plugins)) {
		lp := lock.Plugins[name]
		req, err := lp.Request(name, platform)
		if err != nil {
			return nil, nil, err
		}
		v, err := semver.StrictNewVersion(req.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: bad version %q", file, name, req.Version)
		}
		if lp.Constraint != "" {
			if c, err := semver.NewConstraint(lp.Constraint); err != nil || !c.Check(v) {
				drift = append(drift, fmt.Sprintf("%s: locked version %s does not satisfy its constraint %q", name, req.Version, lp.Constraint))
			}
		}
		var changed []string
		stale, unlocked := false, false
		if r, err := in.Paths.ReadReceipt(name, req.Version); err == nil {
			if !strings.EqualFold(r.ArtifactSHA256, req.SHA256) {
				return nil, nil, &LockMismatchError{Name: name, Version: req.Version, Lock: file, Installed: r.ArtifactSHA256, Locked: req.SHA256}
			}
			if req.H1 != "" && r.TreeHash != req.H1 {
				return nil, nil, &LockMismatchError{Name: name, Version: req.Version, Lock: file, Tree: true, Installed: r.TreeHash, Locked: req.H1}
			}
			exe := in.Paths.Exe(r)
			if err := verify.CheckExecutable(exe, r.BinSHA256, filepath.Join(in.Paths.VersionDir(name, req.Version), verify.RecordFile)); err != nil {
				changed = append(changed, exe)
			}
			locked, kept := protocolSchemaSum(lp.Protocol), protocolSchemaSum(r.Protocol)
			switch {
			case !strings.EqualFold(locked, kept):
				drift = append(drift, fmt.Sprintf("%s@%s: schema %s, lock says %s", name, req.Version, orNone(kept), orNone(locked)))
				stale, unlocked = locked != "", locked == ""
			case kept != "":
				if _, ok := in.keptSchema(r); !ok {
					changed = append(changed, filepath.Join(in.Paths.VersionDir(name, req.Version), SchemaFile))
				}
			}
		} else {
			drift = append(drift, fmt.Sprintf("%s@%s is not installed", name, req.Version))
		}
		active, _ := in.Paths.Active(name)
		if active != req.Version {
			if active == "" {
				active = "-"
			}
			drift = append(drift, fmt.Sprintf("%s: active is %s, lock says %s", name, active, req.Version))
		}
		steps = append(steps, SyncStep{Req: req, Lock: lp, Changed: changed, Stale: stale, SchemaUnlocked: unlocked})
	}
	return steps, drift, nil
}

// Unlocked returns the installed plugins that lock does not record, sorted:
// sync --check lists them, sync --prune removes them.
func (in *Installer) Unlocked(lock *Lock) ([]string, error) {
	names, err := in.Paths.Names()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if _, ok := lock.Plugins[n]; ok {
			continue
		}
		if rs, err := in.Paths.Versions(n); err == nil && len(rs) > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

// SyncOptions configure Sync and SyncCheck.
type SyncOptions struct {
	File     string // the lock file
	Platform string
	// Prune removes the installed plugins the lock does not record (every
	// version); SyncCheck counts them as differences.
	Prune bool
}

// SyncReport is what SyncCheck found.
type SyncReport struct {
	// Changed names the installed files of locked versions that changed
	// since install, one "NAME@VERSION: FILE changed since install" each.
	Changed []string
	// Drift lists what sync would change and what is inconsistent in the
	// lock (SyncPlan), and, with Prune, each plugin the lock does not
	// record.
	Drift []string
	// Unlocked are the installed plugins the lock does not record.
	Unlocked []string
	// SchemaUnlocked names a plugin whose installed locked version keeps
	// a gRPC schema the lock does not record (sync leaves it alone).
	SchemaUnlocked string
}

// SyncCheck compares the store with the lock file and changes nothing.
func (in *Installer) SyncCheck(o SyncOptions) (*SyncReport, error) {
	steps, drift, unlocked, err := in.syncPlan(o)
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{Drift: drift, Unlocked: unlocked}
	for _, st := range steps {
		if st.SchemaUnlocked {
			rep.SchemaUnlocked = st.Req.Name
		}
		for _, f := range st.Changed {
			rep.Changed = append(rep.Changed, fmt.Sprintf("%s@%s: %s changed since install", st.Req.Name, st.Req.Version, f))
		}
	}
	if o.Prune {
		for _, n := range unlocked {
			rep.Drift = append(rep.Drift, fmt.Sprintf("%s is installed but not in %s", n, o.File))
		}
	}
	return rep, nil
}

func (in *Installer) syncPlan(o SyncOptions) ([]SyncStep, []string, []string, error) {
	lock, err := ReadLock(o.File)
	if err != nil {
		return nil, nil, nil, err
	}
	steps, drift, err := in.SyncPlan(lock, o.File, o.Platform)
	if err != nil {
		return nil, nil, nil, err
	}
	unlocked, err := in.Unlocked(lock)
	if err != nil {
		return nil, nil, nil, err
	}
	return steps, drift, unlocked, nil
}

// Synced says what Sync did with one plugin.
type Synced struct {
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	Installed bool   `json:"installed"` // false: it was already in the store
	Activated bool   `json:"activated"` // it was not the active version before
	// Reinstalled: its installed files had changed, and it was fetched
	// again from the lock's URL.
	Reinstalled bool `json:"reinstalled,omitempty"`
	// Removed: not in the lock, removed by Prune (every version).
	Removed []string `json:"removed,omitempty"`
}

// Sync installs every version the lock file records for the platform, from
// the lock's URL and with its hashes, fetching again the ones whose
// installed files changed, and makes them active. With Prune it then
// removes the plugins the lock does not record, after checking that none
// of them runs (a *runner.RunningError). It returns what it did, locked plugins first, and the
// installed plugins the lock does not record (removed with Prune).
func (in *Installer) Sync(ctx context.Context, o SyncOptions) ([]Synced, []string, error) {
	steps, _, unlocked, err := in.syncPlan(o)
	if err != nil {
		return nil, nil, err
	}
	plans := make([]Plan, len(steps))
	before := map[string]string{}
	for i, st := range steps {
		plans[i] = Plan{Req: st.Req, Lock: st.Lock, Replace: len(st.Changed) > 0 || st.Stale}
		before[st.Req.Name], _ = in.Paths.Active(st.Req.Name)
	}
	if o.Prune {
		// Nothing that runs is removed: a *runner.RunningError before
		// anything changes.
		r := &runner.Runner{Home: in.Paths}
		for _, n := range unlocked {
			if _, err := r.StopRunning(ctx, n, "", false); err != nil {
				return nil, nil, err
			}
		}
	}
	results, err := in.InstallPlans(ctx, plans)
	if err != nil {
		return nil, nil, err
	}
	out := []Synced{}
	for _, r := range results {
		name, version := r.Plan.Req.Name, r.Plan.Req.Version
		if _, err := in.Use(ctx, name, version); err != nil {
			return nil, nil, err
		}
		out = append(out, Synced{Name: name, Version: version, Installed: !r.Res.Already, Activated: before[name] != version, Reinstalled: r.Res.Replaced})
	}
	if o.Prune {
		for _, n := range unlocked {
			rm, err := in.Remove(ctx, n, "")
			if err != nil {
				return nil, nil, err
			}
			out = append(out, Synced{Name: n, Removed: rm.Removed})
		}
	}
	return out, unlocked, nil
}
