package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	getter "github.com/hashicorp/go-getter/v2"

	"github.com/plugctl/plugctl/internal/regfile"
)

// checkout clones s's repository, checked out at s.ref, into a new
// directory under scratch (which the caller removes). go-getter's git getter
// runs the commands; it always works in directory mode, so single files
// are picked from the clone by the callers.
//
// A clone cache would go here: keyed by repository and ref, cloned once
// under a lock, handed out read-only, with release dropping a reference.
func (f *Fetcher) checkout(ctx context.Context, s *source, scratch string) (dir string, release func(), err error) {
	dir = filepath.Join(scratch, "repo")
	gg := &getter.GitGetter{
		// Turns git@host:path into ssh://; other shorthands are expanded by parse.
		Detectors: []getter.Detector{new(getter.GitDetector)},
		Timeout:   DefaultGitTimeout,
	}
	c := &getter.Client{
		Getters:         []getter.Getter{gg},
		Decompressors:   map[string]getter.Decompressor{},
		DisableSymlinks: true,
	}
	req := &getter.Request{Src: "git::" + s.repo, Dst: dir, GetMode: getter.ModeDir, Pwd: f.opts.Pwd}
	if _, err := c.Get(ctx, req); err != nil {
		return "", func() {}, gitError(err, s)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// gitError keeps git's fatal and error lines, on one line, and marks a
// missing repository or ref as ErrNotFound (recognised by git's English
// messages; anything else stays a plain error).
func gitError(err error, s *source) error {
	msg := err.Error()
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		for _, tag := range []string{"fatal:", "error:"} {
			if i := strings.Index(l, tag); i >= 0 {
				lines = append(lines, strings.TrimSpace(l[i:]))
				break
			}
		}
	}
	one := strings.Join(lines, "; ")
	if one == "" {
		one = strings.Join(strings.Fields(msg), " ")
	}
	var out error = &scrubbedError{msg: "git: " + one, err: err}
	switch {
	case strings.Contains(msg, "did not match any file(s) known to git"):
		out = &notFoundError{fmt.Errorf("ref %q not found in the repository: %w", s.ref, out)}
	case strings.Contains(msg, "does not appear to be a git repository"),
		strings.Contains(msg, "no such repository"),
		strings.Contains(msg, "not found") && strings.Contains(msg, "repository"):
		out = &notFoundError{out}
	}
	return out
}

func atRef(s *source) string {
	if s.ref == "" {
		return " on its default branch"
	}
	return " at " + s.ref
}

// inGitDir reports whether the slash-separated sub lies in a .git directory.
func inGitDir(sub string) bool {
	for _, el := range strings.Split(sub, "/") {
		if strings.EqualFold(el, ".git") {
			return true
		}
	}
	return false
}

func (f *Fetcher) gitFile(ctx context.Context, s *source, dst string) (Result, error) {
	if s.sub == "" {
		return Result{}, errors.New("a git address names a repository: add //path/to/file to name a file in it")
	}
	if inGitDir(s.sub) {
		return Result{}, fmt.Errorf("%s is inside .git", s.sub)
	}
	scratch, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".git-*")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(scratch)
	repo, release, err := f.checkout(ctx, s, scratch)
	defer release()
	if err != nil {
		return Result{}, err
	}
	// os.Root follows symbolic links only while they stay in the checkout.
	root, err := os.OpenRoot(repo)
	if err != nil {
		return Result{}, err
	}
	defer root.Close()
	r, err := root.Open(filepath.FromSlash(s.sub))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Result{}, &notFoundError{fmt.Errorf("no file %s in the repository%s", s.sub, atRef(s))}
		}
		return Result{}, err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return Result{}, err
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%s is not a file in the repository%s", s.sub, atRef(s))
	}
	return f.copyFile(ctx, r, path.Base(s.sub), fi.Size(), dst)
}

func (f *Fetcher) gitDir(ctx context.Context, s *source, dst string) error {
	if inGitDir(s.sub) {
		return fmt.Errorf("%s is inside .git", s.sub)
	}
	scratch, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".git-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	repo, release, err := f.checkout(ctx, s, scratch)
	defer release()
	if err != nil {
		return err
	}
	tree := repo
	if s.sub != "" {
		realRepo, err := filepath.EvalSymlinks(repo)
		if err != nil {
			return err
		}
		tree, err = filepath.EvalSymlinks(filepath.Join(repo, filepath.FromSlash(s.sub)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return &notFoundError{fmt.Errorf("no directory %s in the repository%s", s.sub, atRef(s))}
			}
			return err
		}
		if !within(realRepo, tree) || tree == realRepo {
			return fmt.Errorf("%s leads outside the repository", s.sub)
		}
		fi, err := os.Stat(tree)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory in the repository%s (File fetches a file)", s.sub, atRef(s))
		}
	}
	if err := removeGitDirs(tree); err != nil {
		return err
	}
	if err := checkLinks(tree); err != nil {
		return err
	}
	return os.Rename(tree, dst)
}

// removeGitDirs removes every .git directory or file (submodules have
// one) under tree.
func removeGitDirs(tree string) error {
	return filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == tree || !strings.EqualFold(d.Name(), ".git") {
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

// checkLinks refuses a symbolic link under tree that is absolute, does not
// resolve, or resolves outside tree: what is installed must be all there is.
func checkLinks(tree string) error {
	realTree, err := filepath.EvalSymlinks(tree)
	if err != nil {
		return err
	}
	return filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink == 0 {
			return nil
		}
		rel, _ := filepath.Rel(tree, p)
		rel = filepath.ToSlash(rel)
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if filepath.IsAbs(target) {
			return fmt.Errorf("symbolic link %s has an absolute target", rel)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("symbolic link %s does not resolve", rel)
		}
		if !within(realTree, real) {
			return fmt.Errorf("symbolic link %s points outside the tree", rel)
		}
		return nil
	})
}

// within reports whether p is root or below it (both cleaned, absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// localDir copies a local directory: go-getter's file getter would
// symlink it into place.
func (f *Fetcher) localDir(ctx context.Context, p, dst string) (err error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &notFoundError{err}
		}
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	var total int64
	err = filepath.WalkDir(real, func(sp string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if sp == real {
			return nil
		}
		rel, _ := filepath.Rel(real, sp)
		if strings.EqualFold(d.Name(), ".git") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		out := filepath.Join(tmp, rel)
		switch t := d.Type(); {
		case t.IsDir():
			return os.Mkdir(out, 0o755)
		case t&os.ModeSymlink != 0:
			target, err := os.Readlink(sp)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			if f.opts.MaxBytes >= 0 && total > f.opts.MaxBytes {
				return fmt.Errorf("%w: the directory holds more than %d bytes", ErrTooLarge, f.opts.MaxBytes)
			}
			return copyPlain(sp, out, info.Mode())
		default:
			return fmt.Errorf("%s is not a file, directory or symbolic link", filepath.ToSlash(rel))
		}
	})
	if err != nil {
		return err
	}
	if err := checkLinks(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// copyPlain copies a regular file with mode 0755 if it was executable by
// anyone, else 0644.
func copyPlain(src, dst string, m os.FileMode) error {
	perm := os.FileMode(0o644)
	if m&0o111 != 0 {
		perm = 0o755
	}
	// The walk saw a regular file, but it may have been replaced since.
	in, err := regfile.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := out.ReadFrom(in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm) // the umask must not decide
}
