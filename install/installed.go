package install

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugctl/plugctl/store"
)

// InstalledVersion is one installed version as list and info show it.
type InstalledVersion struct {
	Name        string
	Version     string
	Active      bool
	Path        string // the executable
	SHA256      string // of the executable
	Index       string
	Constraint  string
	Source      string
	Protocol    string // the protocol kind, defaults applied
	Profile     string // install --profile, the index's protocol.profile
	InstalledAt time.Time
}

// installedFrom is r as an InstalledVersion, active when its version is
// active.
func installedFrom(p store.Paths, r *store.Receipt, active string) InstalledVersion {
	return InstalledVersion{
		Name: r.Name, Version: r.Version, Active: r.Version == active, Path: p.Exe(r),
		SHA256: r.BinSHA256, Index: r.Index, Constraint: r.Constraint, Source: r.Source,
		Protocol: r.Protocol.WithDefaults(r.Name).Kind, Profile: r.Protocol.Profile, InstalledAt: r.InstalledAt,
	}
}

// Installed reads the receipts of names (in that order), each plugin's
// versions oldest first. The store is read by a few goroutines at once:
// with hundreds of plugins, this is a few syscalls and a JSON decode per
// plugin, and the reads of one plugin do not depend on those of another.
// The active version is taken from the plugin's current file and matched
// against the receipts just read, which saves Active's stat of a receipt
// already known to exist. With requireEach, a name with no installed
// version is an error wrapping store.ErrNotInstalled; without, it adds
// nothing.
func Installed(p store.Paths, names []string, requireEach bool) ([]InstalledVersion, error) {
	type result struct {
		rows []InstalledVersion
		err  error
	}
	res := make([]result, len(names))
	work := func(i int) {
		n := names[i]
		rs, err := p.Versions(n)
		if err != nil {
			res[i].err = err
			return
		}
		if requireEach && len(rs) == 0 {
			res[i].err = fmt.Errorf("%s: %w", n, store.ErrNotInstalled)
			return
		}
		active := ""
		if len(rs) > 0 {
			active = p.CurrentVersion(n)
		}
		rows := make([]InstalledVersion, 0, len(rs))
		for _, r := range rs {
			rows = append(rows, installedFrom(p, r, active))
		}
		res[i].rows = rows
	}
	workers := min(goruntime.GOMAXPROCS(0), 4, len(names)/16)
	if workers <= 1 {
		for i := range names {
			work(i)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
					work(i)
				}
			})
		}
		wg.Wait()
	}
	out := []InstalledVersion{}
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, r.rows...)
	}
	return out, nil
}
