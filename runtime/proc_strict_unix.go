//go:build unix

package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/plugctl/plugctl/store"
)

// UnsafePathError says that a file or directory that a plugin is launched
// from can be changed by someone other than the user running plugctl (or
// root): it is owned by another user, or writable by other users. Like
// ssh's StrictModes, plugctl then refuses to run anything from it, since the
// hash checked at launch would prove nothing. The CLI maps it to exit code 4.
type UnsafePathError struct {
	Name   string // the plugin
	Path   string
	Reason string // "owned by uid 1001", "writable by other users (mode drwxrwxrwx)"
	Fix    string // the command that repairs it
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("plugin %s: refusing to run: %s is %s; fix: %s", e.Name, e.Path, e.Reason, e.Fix)
}

// checkOwnership applies StrictModes to everything launching spec trusts
// (the one rule: strictModes): the executable, its identity record, the
// files that steer the launch (spec.Steering: the receipt, config.yaml,
// the schema…, when they exist), and every directory from each of them up
// to spec.Root (the home) inclusive; with no Root, their own directories
// only. Directories above the home are not checked (ssh stops at the
// user's home too).
func checkOwnership(spec Spec) error {
	// The executable itself must be a file, not a link to one.
	// The files share their directories (the version's, the name's, the
	// home): each directory is checked once per launch, not once per file.
	seen := map[string]bool{}
	if err := checkTreeSeen(spec.Name, spec.Root, spec.Exe, 0, true, seen); err != nil {
		return err
	}
	for _, p := range append([]string{spec.RecordPath}, spec.Steering...) {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			continue // a missing one steers nothing
		}
		if err := checkTreeSeen(spec.Name, spec.Root, p, 0, false, seen); err != nil {
			return err
		}
	}
	return nil
}

// CheckOwnership reports what launching spec would refuse under StrictModes
// (an *UnsafePathError), without launching: doctor and verify say what a
// call would refuse.
func CheckOwnership(spec Spec) error { return checkOwnership(spec) }

// UnsafeVersion is an installed version that a launch would refuse.
type UnsafeVersion struct {
	Name, Version string
	Err           error // an *UnsafePathError, mostly
}

// UnsafeVersions applies to every installed version of home the check that
// launching it makes (CheckOwnership), and returns those it would refuse.
// Unreadable receipts are doctor's and verify's own business.
func UnsafeVersions(home store.Paths) []UnsafeVersion {
	names, _ := home.Names()
	var out []UnsafeVersion
	for _, n := range names {
		rs, _ := home.Versions(n)
		for _, r := range rs {
			if err := checkOwnership(SpecFromReceipt(home, r)); err != nil {
				out = append(out, UnsafeVersion{Name: r.Name, Version: r.Version, Err: err})
			}
		}
	}
	return out
}

// checkTree applies strictModes to path (of kind, as strictModes takes it) and to every directory from its
// own up to root inclusive (its own directory only when root is empty, or
// when path lies outside root and !mustBeInside). Directories are checked
// where they really are: a home reached through a symbolic link
// (~/.plugins -> /data/plugins) is fine, what matters is who can change
// the directories it leads to.
func checkTree(name, root, path string, kind fs.FileMode, mustBeInside bool) error {
	return checkTreeSeen(name, root, path, kind, mustBeInside, nil)
}

// checkTreeSeen is checkTree skipping the directories in seen (nil: none),
// which were checked already, and adding those it checks.
func checkTreeSeen(name, root, path string, kind fs.FileMode, mustBeInside bool, seen map[string]bool) error {
	if err := strictModes(name, path, kind); err != nil {
		return err
	}
	dir := realPath(filepath.Dir(path))
	paths := []string{}
	inside := false
	if root != "" {
		r := realPath(root)
		rel, err := filepath.Rel(r, dir)
		inside = err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
		if !inside && mustBeInside {
			return fmt.Errorf("plugin %s: executable %s is outside %s", name, path, root)
		}
		root = r
	}
	if !inside {
		paths = append(paths, dir)
	} else {
		for {
			paths = append(paths, dir)
			if dir == root {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		if err := strictModes(name, p, 0); err != nil {
			return err
		}
		if seen != nil {
			seen[p] = true
		}
	}
	return nil
}

// realPath is p with symbolic links resolved, or p when that fails (a
// missing path is reported by whoever opens it).
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// strictModes is plugctl's one StrictModes rule, for everything it
// trusts to run a plugin: path must be owned by the user or root, not
// writable by other users nor by a group other than the user's private
// one, and be what is expected: a regular file or a directory (kind 0), or
// a unix socket (kind fs.ModeSocket); never a symbolic link. A missing
// path passes (whoever opens it reports it).
func strictModes(name, path string, kind fs.FileMode) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // CheckExecutable reports a missing executable
		}
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	fix := "fetch this version of the plugin again (reinstall it)"
	if kind == fs.ModeSocket {
		fix = "stop " + name + " and start it again"
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &UnsafePathError{Name: name, Path: path, Reason: "a symbolic link", Fix: fix}
	}
	if kind != 0 && fi.Mode().Type() != kind || kind == 0 && !fi.IsDir() && !fi.Mode().IsRegular() {
		return &UnsafePathError{Name: name, Path: path, Reason: "not a regular file (" + fi.Mode().Type().String() + ")", Fix: fix}
	}
	uid := uint32(os.Geteuid())
	if st.Uid != uid && st.Uid != 0 {
		return &UnsafePathError{Name: name, Path: path, Reason: fmt.Sprintf("owned by uid %d, not by you (uid %d) or root", st.Uid, uid),
			Fix: fmt.Sprintf("chown %d %s", uid, path)}
	}
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return &UnsafePathError{Name: name, Path: path, Reason: fmt.Sprintf("writable by other users (mode %s)", fi.Mode()),
			Fix: "chmod go-w " + path}
	case perm&0o020 != 0 && !privateGroup(st.Gid):
		return &UnsafePathError{Name: name, Path: path, Reason: fmt.Sprintf("writable by group %d (mode %s)", st.Gid, fi.Mode()),
			Fix: "chmod g-w " + path}
	}
	return nil
}

// privateGroup reports whether gid is the user's private group (the
// primary group named like the user, as systems whose default umask is 002
// make them): group write is then no one else's write.
func privateGroup(gid uint32) bool {
	privateGroupOnce.Do(func() {
		u, err := user.Current()
		if err != nil || u.Gid != strconv.Itoa(os.Getegid()) {
			return
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil || g.Name != u.Username {
			return
		}
		privateGID = int64(os.Getegid())
	})
	return privateGID >= 0 && int64(gid) == privateGID
}

var (
	privateGroupOnce sync.Once
	privateGID       int64 = -1
)

// checkSocketDir applies strictModes to the directory of a started
// plugin's socket, and to those above it up to the home when it lies in
// the home: the socket itself has the plugin's umask; the directory is
// what keeps others from reaching or replacing it.
func checkSocketDir(name string, home store.Paths, sock string) error {
	dir := filepath.Dir(sock)
	if home.Home != "" {
		if rel, err := filepath.Rel(realPath(home.Home), realPath(dir)); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return checkTree(name, home.Home, filepath.Join(dir, "."), 0, true)
		}
	}
	return strictModes(name, dir, 0)
}

// checkSocket applies the rule that launching applies to what it runs to a
// unix socket that a call is about to dial (a keeper's, or a started
// plugin's): the socket (owned by the user or root, nobody else's to
// replace) and the directories from its own up to the home (run/, or the
// private directory made for it when run/ is too deep).
func checkSocket(name string, home store.Paths, sock string) error {
	return checkTree(name, home.Home, sock, fs.ModeSocket, false)
}
