package install

import (
	"context"
	"maps"
	"sync"

	"github.com/plugctl/plugctl/fetch"
)

// Plan is one version to install and the lock entry that reproduces it.
type Plan struct {
	Req  Request
	Lock LockedPlugin
	// Replace installs Req over an installed version (install --from
	// --force, sync of a version whose files changed); Reinstall fetches
	// Req.Name@Req.Version again from its receipt (reinstall, install
	// NAME@VERSION --force).
	Replace, Reinstall bool
}

// PlanResult is a Plan that was carried out, and what it did.
type PlanResult struct {
	Plan Plan
	Res  *Result
}

// maxParallelInstalls bounds the downloads one command runs at once.
const maxParallelInstalls = 4

// InstallPlans installs every plan, several at once, and returns the
// results in plan order. On failure it returns the results that succeeded
// and the first error (in plan order); installs that succeeded stay
// installed.
func (in *Installer) InstallPlans(ctx context.Context, plans []Plan) ([]PlanResult, error) {
	results := make([]PlanResult, len(plans))
	errs := make([]error, len(plans))
	sem := make(chan struct{}, maxParallelInstalls)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			inst := *in
			if in.FetcherFor != nil {
				f, done := in.FetcherFor(p.Req.Name + "@" + p.Req.Version)
				defer done()
				if f != nil {
					inst.Fetcher = f
				}
			}
			var res *Result
			var err error
			switch {
			case p.Reinstall:
				res, err = inst.Reinstall(ctx, p.Req.Name, p.Req.Version)
			case p.Replace:
				res, err = inst.Replace(ctx, p.Req)
			default:
				res, err = inst.Install(ctx, p.Req)
			}
			results[i] = PlanResult{Plan: p, Res: res}
			errs[i] = err
		}()
	}
	wg.Wait()
	var ok []PlanResult
	for i := range plans {
		if errs[i] != nil {
			return ok, errs[i]
		}
		ok = append(ok, results[i])
	}
	return ok, nil
}

// FetcherFunc gives the downloads of one artifact, labelled name@version,
// a fetcher of their own (one that reports progress), and the function to
// call when its install ends. A nil fetcher means the installer's.
type FetcherFunc func(label string) (*fetch.Fetcher, func())

// LockSaver records in a lock file what install --save and upgrade --save
// installed: the one way a command writes a lock. The lock is read when
// the saver is made, before anything is installed, so that an unreadable
// one fails the command before it changes the store.
type LockSaver struct {
	file string
	lock *Lock
}

// NewLockSaver reads the lock file (an empty lock when there is none). A
// nil *LockSaver saves nothing: pass save false for that.
func NewLockSaver(file string, save bool) (*LockSaver, error) {
	if !save {
		return nil, nil
	}
	lock, err := ReadLockOrNew(file)
	if err != nil {
		return nil, err
	}
	return &LockSaver{file: file, lock: lock}, nil
}

// Record writes the lock entries of the results that installed a version
// (a reinstall changes nothing the lock records). It writes nothing when
// s is nil or there is nothing to record.
func (s *LockSaver) Record(results []PlanResult) error {
	if s == nil || len(results) == 0 {
		return nil
	}
	for _, r := range results {
		if r.Res == nil || r.Plan.Reinstall {
			continue
		}
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
	return s.lock.Write(s.file)
}
