package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Use makes an installed version active.
func (in *Installer) Use(ctx context.Context, name, version string) (*store.Receipt, error) {
	var r *store.Receipt
	err := in.withNameLock(ctx, name, func() error {
		var err error
		if r, err = in.Paths.ReadReceipt(name, version); err != nil {
			return err // names name@version already
		}
		if err := in.Paths.SetActive(name, version); err != nil {
			return fmt.Errorf("%s@%s: %w", name, version, err)
		}
		return nil
	})
	var le *LockError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("use %s@%s: %w", name, version, err)
	}
	if err != nil {
		return nil, fmt.Errorf("use %w", err) // names name@version already
	}
	return r, nil
}

// Removal says what Remove did.
type Removal struct {
	Name      string
	Removed   []string // versions
	WasActive bool
	NewActive string // "" when none remains or the active one was kept
}

// Remove deletes one version of name, or every version when version is "".
// Removing the active version makes the newest remaining one active. It
// holds the name lock throughout: an install of the same plugin commits its
// version before or after, never in between.
func (in *Installer) Remove(ctx context.Context, name, version string) (*Removal, error) {
	if err := store.ValidName(name); err != nil {
		return nil, err
	}
	var rm *Removal
	err := in.withNameLock(ctx, name, func() error {
		var err error
		rm, err = in.remove(name, version)
		return err
	})
	return rm, err
}

func (in *Installer) remove(name, version string) (*Removal, error) {
	installed, err := in.Paths.Versions(name)
	if err != nil {
		return nil, err
	}
	if len(installed) == 0 {
		return nil, fmt.Errorf("remove %s: %w", name, store.ErrNotInstalled)
	}
	active, err := in.Paths.Active(name)
	if err != nil {
		return nil, err
	}
	rm := &Removal{Name: name}
	var remaining []string // newest first
	if version == "" {
		for _, r := range installed {
			rm.Removed = append(rm.Removed, r.Version)
		}
	} else {
		if _, err := in.Paths.ReadReceipt(name, version); err != nil {
			return nil, fmt.Errorf("remove %w", err) // names name@version already
		}
		rm.Removed = []string{version}
		for _, r := range installed {
			if r.Version != version {
				remaining = append(remaining, r.Version)
			}
		}
	}
	rm.WasActive = slices.Contains(rm.Removed, active)
	// current moves before anything is deleted, in one rename (or goes when
	// nothing remains): whenever this is interrupted, it names a version
	// that is installed, or none.
	switch {
	case rm.WasActive && len(remaining) > 0:
		rm.NewActive = remaining[0]
		if err := in.Paths.SetActive(name, rm.NewActive); err != nil {
			return nil, err
		}
	case len(remaining) == 0:
		if err := in.Paths.ClearActive(name); err != nil {
			return nil, err
		}
	}
	in.hook("activated")
	for i, v := range rm.Removed {
		if err := in.discard(in.Paths.VersionDir(name, v), name); err != nil {
			rm.Removed = rm.Removed[:i]
			return rm, fmt.Errorf("remove %s@%s: %w", name, v, err)
		}
		in.removeRunFiles(name, v)
	}
	if len(remaining) == 0 {
		os.RemoveAll(in.Paths.PluginDir(name))
	}
	return rm, nil
}

// ErrTampered is wrapped when installed files no longer match their receipt.
var ErrTampered = errors.New("installed files changed since install")

// LockMismatchError is a version installed from other bytes (or other
// files, for a directory) than the lock file records for it: sync cannot
// fetch it again over what is there. It wraps ErrTampered.
type LockMismatchError struct {
	Name, Version string
	Lock          string // the lock file's name
	Tree          bool   // the hashes are tree hashes (h1:), not SHA-256
	Installed     string // the hash the receipt records
	Locked        string // the hash the lock records
}

func (e *LockMismatchError) Error() string {
	if e.Tree {
		return fmt.Sprintf("%s@%s is installed from other files than %s records (tree hash %s, lock %s): %v", e.Name, e.Version, e.Lock, e.Installed, e.Locked, ErrTampered)
	}
	return fmt.Sprintf("%s@%s is installed from other bytes than %s records (sha256 %s, lock %s): %v", e.Name, e.Version, e.Lock, e.Installed, e.Locked, ErrTampered)
}

func (e *LockMismatchError) Unwrap() error { return ErrTampered }

// Check is the outcome of re-hashing one installed version.
type Check struct {
	Receipt  *store.Receipt
	Problems []string // empty when the version is intact
}

// Verify re-hashes the executable and the whole pkg/ tree of each version
// against its receipt.
func (in *Installer) Verify(r *store.Receipt) Check {
	c := Check{Receipt: r}
	exe := in.Paths.Exe(r)
	got, err := verify.FileSHA256(exe)
	switch {
	case err != nil:
		c.Problems = append(c.Problems, fmt.Sprintf("executable %s: %v", r.Bin, err))
	case !strings.EqualFold(got, r.BinSHA256):
		c.Problems = append(c.Problems, fmt.Sprintf("executable %s: want sha256 %s, got %s", r.Bin, r.BinSHA256, got))
	}
	pkg := in.Paths.PkgDir(r.Name, r.Version)
	tree, err := verify.TreeHash(pkg)
	caches := []string(nil)
	if err == nil && tree != r.TreeHash {
		caches = verify.AppearedCaches(pkg, r.TreeHash)
	}
	switch {
	case err != nil:
		c.Problems = append(c.Problems, fmt.Sprintf("tree: %v", err))
	case len(caches) > 0:
		// Nothing else changed: say what appeared, which a run of the
		// plugin with its own environment (--inherit-env) can write.
		for _, d := range caches {
			c.Problems = append(c.Problems, fmt.Sprintf("pkg/%s appeared (an interpreter's cache, written by running the plugin; remove it, or reinstall)", d))
		}
	case tree != r.TreeHash:
		c.Problems = append(c.Problems, fmt.Sprintf("tree hash of pkg/: want %s, got %s", r.TreeHash, tree))
	}
	return c
}

// PruneChoice is one installed version and whether prune keeps it.
type PruneChoice struct {
	Version string
	Keep    bool // one of the keep newest, or the active one
}

// PruneVersions returns name's installed versions, newest first, each
// marked kept when it is one of the keep newest or the active one. A plugin
// with no version installed has none.
func (in *Installer) PruneVersions(name string, keep int) ([]PruneChoice, error) {
	if err := store.ValidName(name); err != nil {
		return nil, err
	}
	rs, err := in.Paths.Versions(name)
	if err != nil {
		return nil, err
	}
	active, _ := in.Paths.Active(name)
	out := make([]PruneChoice, len(rs))
	for i, r := range rs {
		out[i] = PruneChoice{Version: r.Version, Keep: i < keep || r.Version == active}
	}
	return out, nil
}

// removeRunFiles removes what run/ holds for a removed name@version: its
// log and stdout, its lock and its keeper's socket. While a run record
// says it was started (or a start of it was interrupted) they stay, for its
// process may still run: whoever removes a version stops it first
// (runtime.Stop, which also clears the record of one that died, and
// runtime.CleanStale, which ends what an interrupted start left).
func (in *Installer) removeRunFiles(name, version string) {
	for _, rec := range []string{in.Paths.StartedFile(name, version), in.Paths.SpawnFile(name, version)} {
		if _, err := os.Lstat(rec); !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
	for _, f := range []string{
		in.Paths.LogFile(name, version),
		in.Paths.OutFile(name, version),
		in.Paths.RunLockFile(name, version),
		in.Paths.KeeperSocket(name, version),
	} {
		if f != "" {
			os.Remove(f)
		}
	}
}
