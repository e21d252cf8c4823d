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

// checkOwnership applies StrictModes to what launching spec trusts: the
// executable, its identity record, and every directory from the
// executable's up to spec.Root (the home) inclusive; with no Root, the
// executable's directory only. Directories above the home are not checked
// (ssh stops at the user's home too).
func checkOwnership(spec Spec) error {
	// The executable itself must be a file, not a link to one.
	if err := checkOwner(spec.Name, spec.Exe); err != nil {
		return err
	}
	paths := []string{}
	if spec.RecordPath != "" {
		if _, err := os.Lstat(spec.RecordPath); err == nil {
			paths = append(paths, spec.RecordPath)
		}
	}
	// Directories are checked where they really are: a home reached
	// through a symbolic link (~/.plugins -> /data/plugins) is fine, what
	// matters is who can change the directories it leads to.
	dir := realPath(filepath.Dir(spec.Exe))
	if spec.Root == "" {
		paths = append(paths, dir)
	} else {
		root := realPath(spec.Root)
		rel, err := filepath.Rel(root, dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("plugin %s: executable %s is outside %s", spec.Name, spec.Exe, spec.Root)
		}
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
		if err := checkOwner(spec.Name, p); err != nil {
			return err
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

func checkOwner(name, path string) error {
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
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &UnsafePathError{Name: name, Path: path, Reason: "a symbolic link", Fix: "fetch this version of the plugin again (reinstall it)"}
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return &UnsafePathError{Name: name, Path: path, Reason: "not a regular file (" + fi.Mode().Type().String() + ")", Fix: "fetch this version of the plugin again (reinstall it)"}
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
