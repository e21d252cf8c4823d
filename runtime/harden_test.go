package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugctl/plugctl/verify"
)

func TestHostEnv(t *testing.T) {
	t.Parallel()
	environ := []string{"PATH=/bin", "HOME=/h", "TMPDIR=/t", "LANG=C", "LC_ALL=C", "TZ=UTC",
		"AWS_SECRET_ACCESS_KEY=s3cret", "GITHUB_TOKEN=x", "USER=me", "MY_A=1", "MY_B=2", "MYC=3"}
	tests := []struct {
		name string
		opt  Options
		want []string
	}{
		{"clean", Options{}, []string{"PATH=/bin", "HOME=/h", "TMPDIR=/t", "LANG=C", "LC_ALL=C", "TZ=UTC"}},
		{"allowed", Options{AllowEnv: []string{"GITHUB_TOKEN", "MY_*"}},
			[]string{"PATH=/bin", "HOME=/h", "TMPDIR=/t", "LANG=C", "LC_ALL=C", "TZ=UTC", "GITHUB_TOKEN=x", "MY_A=1", "MY_B=2"}},
		{"inherit", Options{InheritEnv: true}, environ},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostEnv(environ, tt.opt); !slices.Equal(got, tt.want) {
				t.Errorf("hostEnv = %q, want %q", got, tt.want)
			}
		})
	}
	for _, s := range []string{"A", "A_1", "_x", "AWS_*"} {
		if !ValidEnvName(s) {
			t.Errorf("ValidEnvName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "*", "1A", "A-B", "A=B", "A*B"} {
		if ValidEnvName(s) {
			t.Errorf("ValidEnvName(%q) = true", s)
		}
	}
}

func TestEnvAllowed(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, "LC_ALL": true, "LC_": true, "TZ": true,
		"SECRET": false, "PLUGIN_X": false, "PATHX": false, "LC": false, "path": false, "": false,
	} {
		if got := envAllowed(name, CleanEnv()); got != want {
			t.Errorf("envAllowed(%q, CleanEnv()) = %v, want %v", name, got, want)
		}
	}
	if !envAllowed("GIT_DIR", []string{"GIT_*"}) || envAllowed("GIT_DIR", nil) {
		t.Error("envAllowed with other patterns")
	}
}

func TestFilterEnv(t *testing.T) {
	t.Parallel()
	in := []string{"PATH=/bin", "MY_COOKIE=x", "PLUGIN_MIN_PORT=1", "PLUGCTL_PLUGIN=plugctl", "=odd", "PLUGINS=keep", "TZ=UTC"}
	want := []string{"PATH=/bin", "PLUGCTL_PLUGIN=plugctl", "PLUGINS=keep", "TZ=UTC"}
	if got := filterEnv(in, "MY_COOKIE"); !slices.Equal(got, want) {
		t.Errorf("filterEnv = %q, want %q", got, want)
	}
}

// CleanEnv's result is the caller's: changing it changes no rule.
func TestCleanEnvIsACopy(t *testing.T) {
	t.Parallel()
	a := CleanEnv()
	want := slices.Clone(a)
	a[0] = "SECRET"
	_ = append(a[:1], "SECRET_*")
	if got := CleanEnv(); !slices.Equal(got, want) {
		t.Errorf("CleanEnv() after changing an earlier result = %q, want %q", got, want)
	}
	if got := hostEnv([]string{"SECRET=x", "SECRET_B=y", "PATH=/bin"}, Options{}); !slices.Equal(got, []string{"PATH=/bin"}) {
		t.Errorf("hostEnv after changing CleanEnv's result = %q", got)
	}
}

// A secret in the host's environment does not reach the plugin; a variable
// set with Options.Env and go-plugin's own do.
func TestCleanEnvironment(t *testing.T) {
	// Not parallel: it sets the process environment.
	t.Setenv("PLUGCTL_TEST_SECRET", "s3cret")
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		opt     func(*Options)
		visible bool
	}{
		{"clean", func(*Options) {}, false},
		{"allowed", func(o *Options) { o.AllowEnv = []string{"PLUGCTL_TEST_*"} }, true},
		{"inherit", func(o *Options) { o.InheritEnv = true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(dir, tc.name)
			opt, _ := optsFor(t)
			tc.opt(&opt)
			// The plugin's own environment is read from /proc.
			opt.Env = []string{"TESTPLUGIN_MARKER=" + marker}
			p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("Options.Env did not reach the plugin: %v", err)
			}
			env := processEnv(t, p.Pid())
			if env == nil {
				return
			}
			if got := slices.Contains(env, "PLUGCTL_TEST_SECRET=s3cret"); got != tc.visible {
				t.Errorf("secret visible = %v, want %v; environment: %q", got, tc.visible, env)
			}
			if !slices.Contains(env, "PLUGCTL_PLUGIN=plugctl") {
				t.Errorf("the magic cookie is missing: %q", env)
			}
			// The interpreters' no-cache switches are set, whatever else is.
			for _, kv := range noCacheEnv {
				if !slices.Contains(env, kv) {
					t.Errorf("%s is missing: %q", kv, env)
				}
			}
			if tc.name == "clean" {
				for _, kv := range env {
					k, _, _ := strings.Cut(kv, "=")
					if !envAllowed(k, CleanEnv()) && k != "PLUGCTL_PLUGIN" && k != "TESTPLUGIN_MARKER" && !strings.HasPrefix(k, "PLUGIN_") && !slices.Contains(noCacheEnv[:], kv) {
						t.Errorf("unexpected variable %s in a clean environment", k)
					}
				}
			}
		})
	}
}

// processEnv reads a process's environment from /proc (Linux only; nil
// elsewhere).
func processEnv(t *testing.T, pid int) []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatalf("read environment: %v", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// A file swapped in at the executable's path after the check and before the
// exec never runs: the verified, already-open file is what starts.
func TestSwapBetweenCheckAndExec(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("executing the open file needs /proc/self/fd")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "plugin")
	copyFile(t, goodBin, exe)
	ranSwapped := filepath.Join(dir, "swapped-ran")
	script := filepath.Join(dir, "evil")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho ran > "+ranSwapped+"\nexec sleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, goodBin)
	spec.Exe = exe
	afterCheckHook = func() {
		if err := os.Rename(script, exe); err != nil {
			t.Errorf("swap: %v", err)
		}
	}
	t.Cleanup(func() { afterCheckHook = nil })
	marker := filepath.Join(dir, "verified-ran")
	opt, _ := optsFor(t, "TESTPLUGIN_MARKER="+marker)
	p := launch(t, ctxT(t, 30*time.Second), spec, opt)
	if p.Protocol() != ProtocolGRPC {
		t.Errorf("protocol %q", p.Protocol())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the verified binary did not run: %v", err)
	}
	if _, err := os.Stat(ranSwapped); err == nil {
		t.Fatal("the file swapped in after the check ran")
	}
	// The next launch checks the new file and refuses it.
	afterCheckHook = nil
	_, err := Launch(ctxT(t, 30*time.Second), spec, opt)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("relaunch of the swapped file: %v", err)
	}
}

// StrictModes: nothing runs from a tree that others can change.
func TestUnsafeStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		break_ func(home, vdir, exe string) string // returns the path that must be named
		reason string
	}{
		{"world-writable exe", func(_, _, exe string) string { os.Chmod(exe, 0o757); return exe }, "writable by other users"},
		{"world-writable pkg dir", func(_, vdir, _ string) string {
			d := filepath.Join(vdir, "pkg")
			os.Chmod(d, 0o777)
			return d
		}, "writable by other users"},
		{"world-writable home", func(home, _, _ string) string { os.Chmod(home, 0o777); return home }, "writable by other users"},
		{"world-writable record", func(_, vdir, _ string) string {
			r := filepath.Join(vdir, verify.RecordFile)
			os.WriteFile(r, []byte("{}"), 0o644)
			os.Chmod(r, 0o666)
			return r
		}, "writable by other users"},
		{"sticky world-writable plugins dir", func(home, _, _ string) string {
			d := filepath.Join(home, "plugins")
			os.Chmod(d, 0o1777)
			return d
		}, "writable by other users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			vdir := filepath.Join(home, "plugins", "test", "1.0.0")
			exe := filepath.Join(vdir, "pkg", "test")
			if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
				t.Fatal(err)
			}
			copyFile(t, goodBin, exe)
			spec := specFor(t, goodBin)
			spec.Exe, spec.Root, spec.RecordPath = exe, home, filepath.Join(vdir, verify.RecordFile)
			marker := filepath.Join(t.TempDir(), "ran")
			opt, _ := optsFor(t, "TESTPLUGIN_MARKER="+marker)
			// Sound: it runs.
			p := launch(t, ctxT(t, 30*time.Second), spec, opt)
			p.Close()
			os.Remove(marker)
			bad := tc.break_(home, vdir, exe)
			_, err := Launch(ctxT(t, 30*time.Second), spec, opt)
			var up *UnsafePathError
			if !errors.As(err, &up) {
				t.Fatalf("want *UnsafePathError, got %v", err)
			}
			if up.Path != bad || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "chmod go-w "+bad) {
				t.Errorf("error %q: want path %s, %q and the fix", err, bad, tc.reason)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
			time.Sleep(50 * time.Millisecond)
			if _, err := os.Stat(marker); err == nil {
				t.Error("the plugin ran")
			}
		})
	}
}

// An executable outside the Root it claims is refused.
func TestExecutableOutsideRoot(t *testing.T) {
	t.Parallel()
	spec := specFor(t, goodBin)
	spec.Root = t.TempDir()
	opt, _ := optsFor(t)
	_, err := Launch(ctxT(t, 10*time.Second), spec, opt)
	if err == nil || !strings.Contains(err.Error(), "is outside") {
		t.Fatalf("got %v", err)
	}
}

// A home reached through a symbolic link is judged by where it leads.
func TestSymlinkedHome(t *testing.T) {
	t.Parallel()
	real := t.TempDir()
	vdir := filepath.Join(real, "plugins", "test", "1.0.0")
	exe := filepath.Join(vdir, "pkg", "test")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, goodBin, exe)
	link := filepath.Join(t.TempDir(), "home")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, goodBin)
	spec.Root = link
	spec.Exe = filepath.Join(link, "plugins", "test", "1.0.0", "pkg", "test")
	spec.RecordPath = filepath.Join(link, "plugins", "test", "1.0.0", verify.RecordFile)
	opt, _ := optsFor(t)
	launch(t, ctxT(t, 30*time.Second), spec, opt).Close()

	// A symbolic link in place of the executable is refused.
	if err := os.Rename(exe, exe+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe+".real", exe); err != nil {
		t.Fatal(err)
	}
	_, err := Launch(ctxT(t, 10*time.Second), spec, opt)
	var up *UnsafePathError
	if !errors.As(err, &up) || !strings.Contains(err.Error(), "a symbolic link") {
		t.Fatalf("got %v", err)
	}
}
