package install

import (
	"fmt"
	"maps"
	"slices"

	"github.com/Masterminds/semver/v3"
)

// SyncStep is one plugin of a lock file: the request that installs its
// locked version for the platform, and its lock entry.
type SyncStep struct {
	Req  Request
	Lock LockedPlugin
}

// SyncPlan compares the store with lock (read from file) for platform. It
// returns a step for every locked plugin, in name order, and the
// differences `sync --check` reports: a version not installed, another
// version active, a locked version outside its recorded constraint. A
// locked version installed from other bytes than the lock records is an
// error wrapping ErrTampered; a lock without the platform is an error too.
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
		if r, err := in.Paths.ReadReceipt(name, req.Version); err == nil {
			if r.ArtifactSHA256 != req.SHA256 {
				return nil, nil, fmt.Errorf("%s@%s is installed from other bytes than %s records (sha256 %s, lock %s): plugctl remove %s@%s, then sync: %w",
					name, req.Version, file, r.ArtifactSHA256, req.SHA256, name, req.Version, ErrTampered)
			}
			if req.H1 != "" && r.TreeHash != req.H1 {
				return nil, nil, fmt.Errorf("%s@%s is installed from other files than %s records (tree hash %s, lock %s): plugctl remove %s@%s, then sync: %w",
					name, req.Version, file, r.TreeHash, req.H1, name, req.Version, ErrTampered)
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
		steps = append(steps, SyncStep{Req: req, Lock: lp})
	}
	return steps, drift, nil
}
