package fetch

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLocalFile(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "idx"), 0o755)
	os.WriteFile(filepath.Join(src, "idx", "index.yaml"), []byte("local index"), 0o600)
	f := New(Options{Pwd: src})
	for _, addr := range []string{
		"idx/index.yaml",
		"./idx/index.yaml",
		filepath.Join(src, "idx", "index.yaml"),
		"file://" + filepath.Join(src, "idx", "index.yaml"),
		"file::idx/index.yaml",
	} {
		dir, dst := dstIn(t)
		res, err := f.File(context.Background(), addr, dst)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if res.SHA256 != sum([]byte("local index")) || res.Size != 11 {
			t.Fatalf("%s: %+v", addr, res)
		}
		fi, err := os.Lstat(dst)
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: dst is %v, %v; want a regular file, never a symlink", addr, fi.Mode(), err)
		}
		assertEntries(t, dir, "out")
	}

	err := mustFail(t, f, "idx/missing.yaml")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v, want ErrNotFound", err)
	}
	mustFail(t, f, "idx") // a directory
	mustFail(t, New(Options{}), "idx/index.yaml")
	if err := mustFail(t, New(Options{MaxBytes: 5}), filepath.Join(src, "idx", "index.yaml")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	mustFail(t, f, "s3::https://bucket/x")
	mustFail(t, f, "file://otherhost/x")
}

func TestLocalDir(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.MkdirAll(filepath.Join(src, ".git", "objects"), 0o755)
	os.WriteFile(filepath.Join(src, "bin", "tool"), []byte("#!/bin/sh\n"), 0o700)
	os.WriteFile(filepath.Join(src, "README"), []byte("hi"), 0o600)
	os.Symlink("bin/tool", filepath.Join(src, "tool"))
	f := New(Options{Pwd: filepath.Dir(src)})

	parent, dst := dstIn(t)
	if err := f.Dir(context.Background(), filepath.Base(src), dst); err != nil {
		t.Fatal(err)
	}
	assertEntries(t, parent, "out")
	assertEntries(t, dst, "README", "bin", "tool")
	if fi, _ := os.Stat(filepath.Join(dst, "bin", "tool")); fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode %v, want 0755", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "README")); fi.Mode().Perm() != 0o644 {
		t.Errorf("README mode %v, want 0644", fi.Mode())
	}

	os.Symlink("../../etc/passwd", filepath.Join(src, "bin", "escape"))
	parent, dst = dstIn(t)
	err := f.Dir(context.Background(), src, dst)
	if err == nil || !strings.Contains(err.Error(), "bin/escape") {
		t.Fatalf("escaping symlink: %v", err)
	}
	assertEntries(t, parent)

	parent, dst = dstIn(t)
	if err := f.Dir(context.Background(), filepath.Join(src, "nope"), dst); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dir: %v", err)
	}
	if err := f.Dir(context.Background(), "http://127.0.0.1:1/x", dst); err == nil {
		t.Fatal("http Dir succeeded")
	}
	assertEntries(t, parent)
}

// gitRun runs git in dir with a fixed identity and no user configuration.
func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// makeRepo builds root/repo: main holds index.yaml "main index"; tag v1
// sits on a branch that main does not contain, with index.yaml "release
// index"; tag evil adds a symlink out of the tree.
func makeRepo(t *testing.T) (root, repo string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git not installed: plugctl's git sources need it")
	}
	root = t.TempDir()
	repo = filepath.Join(root, "repo")
	os.Mkdir(repo, 0o755)
	gitRun(t, repo, "init", "-q", "-b", "main")
	write(t, filepath.Join(repo, "index.yaml"), "main index\n", 0o644)
	write(t, filepath.Join(repo, "sub", "tool.sh"), "#!/bin/sh\necho main\n", 0o755)
	os.Symlink("tool.sh", filepath.Join(repo, "sub", "alias"))
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "main")
	gitRun(t, repo, "checkout", "-q", "-b", "release")
	write(t, filepath.Join(repo, "index.yaml"), "release index\n", 0o644)
	write(t, filepath.Join(repo, "sub", "extra.txt"), "extra\n", 0o644)
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "release")
	gitRun(t, repo, "tag", "v1")
	gitRun(t, repo, "checkout", "-q", "-b", "evil")
	os.Symlink("../../../outside", filepath.Join(repo, "sub", "escape"))
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "evil")
	gitRun(t, repo, "tag", "evil")
	gitRun(t, repo, "checkout", "-q", "main")
	gitRun(t, repo, "branch", "-q", "-D", "release", "evil")
	return root, repo
}

func TestGitFile(t *testing.T) {
	root, repo := makeRepo(t)
	f := New(Options{Pwd: root})
	for _, tc := range []struct{ addr, want string }{
		{"git::file://" + repo + "//index.yaml?ref=v1", "release index\n"},
		{"git::file://" + repo + "//index.yaml", "main index\n"},
		{"git::" + repo + "//sub/extra.txt?ref=v1", "extra\n"},
		{"git::./repo//index.yaml?ref=v1&depth=1", "release index\n"}, // depth is dropped: v1 is off main
		{"git::file://" + repo + "//sub/alias", "#!/bin/sh\necho main\n"},
	} {
		dir, dst := dstIn(t)
		res, err := f.File(context.Background(), tc.addr, dst)
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if got, _ := os.ReadFile(dst); string(got) != tc.want || res.SHA256 != sum([]byte(tc.want)) {
			t.Fatalf("%s: got %q (%s)", tc.addr, got, res.SHA256)
		}
		assertEntries(t, dir, "out")
	}

	for _, tc := range []struct {
		addr, msg string
		notFound  bool
	}{
		{"git::file://" + repo + "//missing.yaml?ref=v1", "no file missing.yaml in the repository at v1", true},
		{"git::file://" + repo + "//sub/extra.txt", "on its default branch", true},
		{"git::file://" + repo + "//index.yaml?ref=v9", `ref "v9" not found`, true},
		{"git::file://" + repo + "//index.yaml?ref=-x", "must not start with '-'", false},
		{"git::file://" + repo + "//index.yaml?ref=--upload-pack=touch", "must not start with '-'", false},
		{"git::-uhttps://x//index.yaml", "must not start with '-'", false},
		{"git::file://" + repo + "?ref=v1", "add //path/to/file", false},
		{"git::file://" + repo + "//.git/config", "inside .git", false},
		{"git::file://" + repo + "//../x", "climbs out", false},
		{"git::file://" + repo + "//sub?ref=v1", "not a file", false},
		{"git::file://" + root + "/nope//index.yaml", "git:", true},
		{"git::ext::sh -c touch% /tmp/pwned//index.yaml", "unsupported git transport", false},
	} {
		err := mustFail(t, f, tc.addr)
		if !strings.Contains(err.Error(), tc.msg) || errors.Is(err, ErrNotFound) != tc.notFound {
			t.Errorf("%s: %v; want %q, not found %v", tc.addr, err, tc.msg, tc.notFound)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", tc.addr, err)
		}
	}
}

func TestGitDir(t *testing.T) {
	_, repo := makeRepo(t)
	f := New(Options{})

	parent, dst := dstIn(t)
	if err := f.Dir(context.Background(), "git::file://"+repo+"?ref=v1", dst); err != nil {
		t.Fatal(err)
	}
	assertEntries(t, parent, "out")
	assertEntries(t, dst, "index.yaml", "sub")
	assertEntries(t, filepath.Join(dst, "sub"), "alias", "extra.txt", "tool.sh")

	parent, dst = dstIn(t)
	if err := f.Dir(context.Background(), "git::file://"+repo+"//sub?ref=v1", dst); err != nil {
		t.Fatal(err)
	}
	assertEntries(t, parent, "out")
	assertEntries(t, dst, "alias", "extra.txt", "tool.sh")
	if fi, _ := os.Stat(filepath.Join(dst, "tool.sh")); fi.Mode()&0o111 == 0 {
		t.Errorf("tool.sh lost its x bit: %v", fi.Mode())
	}

	for _, tc := range []struct{ addr, msg string }{
		{"git::file://" + repo + "?ref=evil", "symbolic link sub/escape"},
		{"git::file://" + repo + "//nope?ref=v1", "no directory nope"},
		{"git::file://" + repo + "//index.yaml", "not a directory"},
		{"git::file://" + repo + "?ref=-b", "must not start with '-'"},
	} {
		parent, dst := dstIn(t)
		err := f.Dir(context.Background(), tc.addr, dst)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.addr, err, tc.msg)
		}
		assertEntries(t, parent)
	}
}

func TestGitDaemon(t *testing.T) {
	root, _ := makeRepo(t)
	// `git daemon` would run git-daemon as a child that outlives a killed
	// git: start the daemon itself, in its own process group, and kill the
	// group (the daemon forks one child per connection).
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	daemon := filepath.Join(strings.TrimSpace(string(execPath)), "git-daemon")
	if _, err := os.Stat(daemon); err != nil {
		t.Fatalf("git daemon not available at %s", daemon)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(daemon, "--export-all", "--reuseaddr", "--informative-errors",
		"--base-path="+root, "--listen=127.0.0.1", "--port="+port, root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("git daemon did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	f := New(Options{})
	for _, a := range []string{
		"git::git://" + addr + "/repo//index.yaml?ref=v1",
		"git://" + addr + "/repo//index.yaml?ref=v1",
	} {
		if !IsGit(a) {
			t.Errorf("IsGit(%s) = false", a)
		}
		_, dst := dstIn(t)
		res, err := f.File(context.Background(), a, dst)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if res.SHA256 != sum([]byte("release index\n")) {
			t.Fatalf("%s: wrong content", a)
		}
	}
	err = mustFail(t, f, "git::git://"+addr+"/nothere//index.yaml")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing repository: %v, want ErrNotFound", err)
	}
}

func TestIsGit(t *testing.T) {
	for addr, want := range map[string]bool{
		"git::https://host/repo.git//index.yaml?ref=main": true,
		"git::file:///abs/repo//index.yaml?ref=v1":        true,
		"GIT::https://host/repo.git":                      true,
		"git://host/repo.git":                             true,
		"ssh://git@host/repo.git":                         true,
		"git@github.com:o/r.git":                          true,
		"github.com/o/r//idx.yaml?ref=v1":                 true,
		"gitlab.com/o/r":                                  true,
		"https://host/repo.git":                           false,
		"https://github.com/o/r/releases/x.tar.gz":        false,
		"/abs/path/index.yaml":                            false,
		"./rel/index.yaml":                                false,
		"file:///abs/index.yaml":                          false,
		"http::https://host/x":                            false,
	} {
		if got := IsGit(addr); got != want {
			t.Errorf("IsGit(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ base, ref, want string }{
		// Absolute references.
		{"https://h/idx/index.yaml", "https://o/a.tgz", "https://o/a.tgz"},
		{"https://h/idx/index.yaml", "git::https://o/r.git?ref=v1", "git::https://o/r.git?ref=v1"},
		{"/srv/idx/index.yaml", "/opt/a.tgz", "/opt/a.tgz"},
		{"/srv/index.yaml", "git@github.com:o/r.git", "git@github.com:o/r.git"},
		{"/srv/index.yaml", "file:///x/a.tgz", "file:///x/a.tgz"},
		// http(s): URL resolution.
		{"https://h/idx/index.yaml", "a.tgz", "https://h/idx/a.tgz"},
		{"https://h/idx/index.yaml", "../b/a.tgz", "https://h/b/a.tgz"},
		{"https://h/idx/index.yaml", "/dl/a.tgz", "https://h/dl/a.tgz"},
		{"https://h/idx/index.yaml", "//cdn.example.com/a.tgz", "https://cdn.example.com/a.tgz"},
		{"https://h/idx/index.yaml?sig=1", "a.tgz?x=1", "https://h/idx/a.tgz?x=1"},
		{"http://127.0.0.1:8080/index.yaml", "a.tgz", "http://127.0.0.1:8080/a.tgz"},
		// Local paths and file:// URLs: the index's directory.
		{"/srv/idx/index.yaml", "a.tgz", "/srv/idx/a.tgz"},
		{"/srv/idx/index.yaml", "../a.tgz", "/srv/a.tgz"},
		{"idx/index.yaml", "a.tgz", "idx/a.tgz"},
		{"index.yaml", "sub/a.tgz", "sub/a.tgz"},
		{"file:///srv/idx/index.yaml", "sub/a.tgz", "file:///srv/idx/sub/a.tgz"},
		{"file:///srv/idx/index.yaml", "../a.tgz", "file:///srv/a.tgz"},
		// git: same repository and ref.
		{"git::https://h/r.git//dir/index.yaml?ref=main", "a.tgz", "git::https://h/r.git//dir/a.tgz?ref=main"},
		{"git::https://h/r.git//dir/index.yaml?ref=main", "../bin/a.tgz", "git::https://h/r.git//bin/a.tgz?ref=main"},
		{"git::https://h/r.git//dir/index.yaml?ref=main", "..", "git::https://h/r.git?ref=main"},
		{"git::file:///abs/repo//index.yaml?ref=v1", "plugins/greeter", "git::file:///abs/repo//plugins/greeter?ref=v1"},
		{"git::file:///abs/repo//index.yaml", "./a", "git::file:///abs/repo//a"},
		{"github.com/o/r//idx/index.yaml?ref=v1", "a.tgz", "git::github.com/o/r//idx/a.tgz?ref=v1"},
		{"ssh://git@h/r.git//index.yaml?ref=v1", "a", "git::ssh://git@h/r.git//a?ref=v1"},
	} {
		got, err := Resolve(tc.base, tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s, %s) = %q, %v; want %q", tc.base, tc.ref, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ base, ref string }{
		{"git::https://h/r.git//index.yaml?ref=v1", "../a.tgz"},
		{"git::https://h/r.git//dir/index.yaml?ref=v1", "../../a.tgz"},
		{"git::https://h/r.git//dir/index.yaml?ref=v1", "x/../../../a"},
		{"https://h/index.yaml", ""},
		{"", "a.tgz"},
	} {
		if got, err := Resolve(tc.base, tc.ref); err == nil {
			t.Errorf("Resolve(%s, %s) = %q, want an error", tc.base, tc.ref, got)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h/x?ref=1":       "https://h/x?ref=1",
		"git::https://tok@h/r.git//i": "git::https://h/r.git//i",
		"https://h/x@y":               "https://h/x@y",
		"git@github.com:o/r.git":      "git@github.com:o/r.git",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%s) = %s, want %s", in, got, want)
		}
	}
}

// secretsOf finds the same userinfo that redact removes: the password in
// every form a message may quote it, nothing for an address without one.
func TestSecretsOf(t *testing.T) {
	got := secretsOf("git::https://user:s%40cret@h/r.git//i?ref=a@b")
	for _, want := range []string{"user:s%40cret@", "user:s@cret@", "s@cret", "user:***@"} {
		if !slices.Contains(got, want) {
			t.Errorf("secretsOf: %q lacks %q", got, want)
		}
	}
	for _, addr := range []string{"https://h/x@y", "git@github.com:o/r.git", "h/r"} {
		if got := secretsOf(addr); got != nil {
			t.Errorf("secretsOf(%s) = %q, want none", addr, got)
		}
	}
}

// A remote index (http(s) or git) names remote addresses or paths relative
// to itself; anything that reads the local file system is refused. A local
// index may name anything.
func TestResolveRemoteRefusesLocal(t *testing.T) {
	remote := []string{
		"https://h/idx/index.yaml",
		"http://127.0.0.1:8080/index.yaml",
		"http::https://h/index.yaml",
		"git::https://h/r.git//index.yaml?ref=v1",
		"git::file:///abs/repo//index.yaml?ref=v1",
		"github.com/o/r//idx/index.yaml?ref=v1",
	}
	for _, base := range remote {
		for _, ref := range []string{
			"file:///etc/passwd",
			"file://localhost/etc/passwd",
			"FILE:///etc/passwd",
			"file::/etc/passwd",
			"file::./x",
			"git::/home/u/private-repo?ref=main",
			"git::file:///home/u/private-repo",
			"git::./repo",
		} {
			_, err := Resolve(base, ref)
			var le *LocalRefError
			if !errors.As(err, &le) || !errors.Is(err, ErrLocalFromRemote) {
				t.Errorf("Resolve(%s, %s) = %v, want a LocalRefError", base, ref, err)
			}
		}
		for _, ref := range []string{"https://o/a.tgz", "git::https://o/r.git?ref=v1", "git@github.com:o/r.git", "ssh://git@h/r.git", "a.tgz", "sub/a.tgz"} {
			if _, err := Resolve(base, ref); err != nil {
				t.Errorf("Resolve(%s, %s) = %v, want it allowed", base, ref, err)
			}
		}
	}
	// An absolute path: a path on the same host against http, the local
	// file system against git.
	if got, err := Resolve("https://h/idx/index.yaml", "/etc/passwd"); err != nil || got != "https://h/etc/passwd" {
		t.Errorf("http base, /etc/passwd: %q, %v", got, err)
	}
	for _, base := range remote[3:] {
		if _, err := Resolve(base, "/etc/passwd"); !errors.Is(err, ErrLocalFromRemote) {
			t.Errorf("Resolve(%s, /etc/passwd) = %v, want ErrLocalFromRemote", base, err)
		}
	}
	for _, base := range []string{"/srv/idx/index.yaml", "idx/index.yaml", "file:///srv/index.yaml", "file::/srv/index.yaml"} {
		for _, ref := range []string{"/opt/a.tgz", "file:///x/a.tgz", "git::/home/u/repo", "a.tgz", "https://o/a.tgz"} {
			if _, err := Resolve(base, ref); err != nil {
				t.Errorf("local base Resolve(%s, %s) = %v, want it allowed", base, ref, err)
			}
		}
	}
}
