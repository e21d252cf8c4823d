package install

import (
	"context"
	"fmt"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// PruneOptions configure Prune.
type PruneOptions struct {
	Names  []string // plugins to prune; none: every installed plugin
	Keep   int      // versions kept per plugin, newest first (the active one always is)
	DryRun bool     // say what would be removed, change nothing
	// Force stops a started version that would be removed; without it the
	// version is kept, and Running is told.
	Force   bool
	Running func(st *runtime.StartedPlugin)
}

// Pruned says what Prune did with one plugin's versions, newest first.
type Pruned struct {
	Name    string   `json:"name"`
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
}

// Prune removes the old versions of each plugin: it keeps the o.Keep newest
// and, always, the active one. A started version to remove is stopped
// first with o.Force, else kept; the run record of one that died is
// cleared with it. It returns the plugins that lost (or, with DryRun, would
// lose) a version. A named plugin that is not installed is an error
// wrapping store.ErrNotInstalled.
func (in *Installer) Prune(ctx context.Context, o PruneOptions) ([]Pruned, error) {
	if o.Keep < 1 {
		return nil, index.Usagef("--keep %d: keep at least 1 version", o.Keep)
	}
	names := o.Names
	if len(names) == 0 {
		var err error
		if names, err = in.Paths.Names(); err != nil {
			return nil, err
		}
	}
	out := []Pruned{}
	for _, n := range names {
		choices, err := in.PruneVersions(n, o.Keep)
		if err != nil {
			return nil, err
		}
		if len(o.Names) > 0 && len(choices) == 0 {
			return nil, fmt.Errorf("%s: %w", n, store.ErrNotInstalled)
		}
		pr := Pruned{Name: n, Removed: []string{}, Kept: []string{}}
		for _, c := range choices { // newest first
			v := c.Version
			if c.Keep {
				pr.Kept = append(pr.Kept, v)
				continue
			}
			if st, err := runtime.ReadStarted(in.Paths, n, v); err == nil && st.Alive() && !o.Force {
				pr.Kept = append(pr.Kept, v)
				if o.Running != nil {
					o.Running(st)
				}
				continue
			}
			if !o.DryRun {
				// A live one is stopped, the record of one that died
				// cleared, so that its run files go with the version.
				if _, err := (&runner.Runner{Home: in.Paths}).StopRunning(ctx, n, v, true); err != nil {
					return nil, err
				}
				if _, err := in.Remove(ctx, n, v); err != nil {
					return nil, err
				}
			}
			pr.Removed = append(pr.Removed, v)
		}
		if len(pr.Removed) > 0 {
			out = append(out, pr)
		}
	}
	return out, nil
}
