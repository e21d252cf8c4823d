package prestart

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/plugctl/plugctl/internal/exerecord"
	"github.com/plugctl/plugctl/store/layout"
)

const (
	testName    = "demo"
	testVersion = "1.0.0"
	testBin     = "plugin"
	// testELF is the plugin: a real ELF that, with no arguments (prestart
	// runs it with argv[0] only), runs until it is killed, blocked on its
	// stdout pipe once that is full. So Kill is seen to end a live process.
	testELF = "/usr/bin/yes"
)

// testHome is a plugctl home with testName@testVersion installed.
type testHome struct {
	home, vdir, pkg, exe, record, receipt, run string
	rec                                        layout.Receipt
}

// newHome builds a home at dir (under t.TempDir() when ""): the plugin's
// executable (a copy of testELF), its receipt and identity record, and
// run/, every directory from the home down mode 0755 and run/ 0700.
func newHome(t *testing.T, dir string) *testHome {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "home")
	}
	h := &testHome{
		home:    dir,
		vdir:    layout.VersionDir(dir, testName, testVersion),
		receipt: layout.ReceiptFile(dir, testName, testVersion),
		run:     layout.Run(dir),
	}
	h.pkg = filepath.Join(h.vdir, "pkg")
	h.exe = filepath.Join(h.pkg, testBin)
	h.record = filepath.Join(h.vdir, exerecord.File)
	if err := os.MkdirAll(h.pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{h.home, layout.Join(h.home, "plugins"), layout.PluginDir(h.home, testName), h.vdir, h.pkg} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	elf, err := os.ReadFile(testELF)
	if err != nil {
		t.Skipf("no ELF to run: %v", err)
	}
	h.writeExe(t, elf)
	h.rec = layout.Receipt{Schema: layout.ReceiptSchema, Name: testName, Version: testVersion, Bin: testBin}
	h.seal(t)
	if err := os.Mkdir(h.run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.run, 0o700); err != nil {
		t.Fatal(err)
	}
	return h
}

// writeExe replaces the executable's content, mode 0755.
func (h *testHome) writeExe(t *testing.T, content []byte) {
	t.Helper()
	if err := os.WriteFile(h.exe, content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.exe, 0o755); err != nil {
		t.Fatal(err)
	}
}

// seal writes the receipt with the executable's SHA-256 and the identity
// record of the executable as it is now.
func (h *testHome) seal(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(h.exe)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	h.rec.BinSHA256 = sum
	h.writeReceipt(t)
	fi, err := os.Stat(h.exe)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := exerecord.Of(fi)
	if !ok {
		t.Fatal("exerecord.Of: no identity on this platform")
	}
	h.writeRecord(t, exerecord.Record{Identity: id, SHA256: sum})
}

func (h *testHome) writeReceipt(t *testing.T) {
	t.Helper()
	writeJSON(t, h.receipt, h.rec)
}

func (h *testHome) writeRecord(t *testing.T, rec exerecord.Record) {
	t.Helper()
	writeJSON(t, h.record, rec)
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// socketDirs lists the socket directories left in run/.
func socketDirs(t *testing.T, run string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(run, "plugin-dir*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// requireSIGINT skips off Linux, where start declines everything by
// design (no /proc/self/fd to execute).
func requireSIGINT(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("prestart runs plugins on Linux only")
	}
}

// TestMain handles SIGINT (by dropping it) when the test binary was started
// with it ignored, as a shell's background job is: start would decline
// everything, by design, and the tests would test nothing.
func TestMain(m *testing.M) {
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	if home := os.Getenv("PRESTART_TEST_HOME"); home != "" {
		// TestSignalBeforeHandled's plugctl: started a plugin, and not
		// yet handling signals itself.
		os.Stdout.WriteString(Start(home, testName, testVersion) + "\n")
		time.Sleep(time.Minute)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// procState is the state letter of /proc/PID/stat ("" when gone).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// checkStarted asserts that p is testName@testVersion of h running as start
// promised, then kills it and asserts it is reaped and cleaned up.
func checkStarted(t *testing.T, h *testHome, p *Proc) {
	t.Helper()
	if p.Pid <= 0 {
		t.Fatalf("pid %d", p.Pid)
	}
	if p.Name != testName || p.Version != testVersion || p.Exe != h.exe {
		t.Errorf("proc is %s@%s %s, want %s@%s %s", p.Name, p.Version, p.Exe, testName, testVersion, h.exe)
	}
	fi, err := os.Stat(h.exe)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := exerecord.Of(fi); id != p.ID {
		t.Errorf("proc ID %+v, the file's %+v", p.ID, id)
	}

	// The environment: CleanEnv's variables of ours, then go-plugin's.
	var socketDir string
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, envSocketDir+"="); ok {
			socketDir = v
		}
	}
	if socketDir == "" || socketDir != p.SocketDir {
		t.Fatalf("%s=%q, SocketDir %q", envSocketDir, socketDir, p.SocketDir)
	}
	if filepath.Dir(socketDir) != h.run || !strings.HasPrefix(filepath.Base(socketDir), "plugin-dir") {
		t.Errorf("socket directory %s is not a plugin-dir* in %s", socketDir, h.run)
	}
	if fi, err := os.Lstat(socketDir); err != nil || !fi.IsDir() {
		t.Errorf("socket directory %s: %v", socketDir, err)
	}
	host, why := hostEnv(os.Environ())
	if why != "" {
		t.Fatal(why)
	}
	want := append(FilterEnv(host, layout.DefaultCookieKey),
		"PLUGCTL_PLUGIN=plugctl",
		"PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000",
		"PLUGIN_PROTOCOL_VERSIONS=1",
		envSocketDir+"="+socketDir,
		"PLUGIN_CLIENT_CERT=",
	)
	if !slices.Equal(p.Env, want) {
		t.Errorf("env\n got %q\nwant %q", p.Env, want)
	}
	for _, kv := range p.Env {
		if strings.HasPrefix(kv, "PRESTART_TEST_SECRET=") {
			t.Errorf("env passes %s", kv)
		}
	}

	// The process: the verified file, argv[0] the store path, its own
	// process group, running.
	pid := strconv.Itoa(p.Pid)
	if got, err := os.Readlink("/proc/" + pid + "/exe"); err != nil || got != h.exe {
		t.Errorf("/proc/%s/exe = %q, %v; want %s", pid, got, err, h.exe)
	}
	// ForkExec returns once execve closed the close-on-exec fds, before the
	// kernel sets up the new argv: /proc/PID/cmdline is briefly empty.
	var cmdline []byte
	for deadline := time.Now().Add(5 * time.Second); len(cmdline) == 0 && time.Now().Before(deadline); {
		if cmdline, err = os.ReadFile("/proc/" + pid + "/cmdline"); err != nil {
			break
		}
		if len(cmdline) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err != nil || string(cmdline) != h.exe+"\x00" {
		t.Errorf("/proc/%s/cmdline = %q, %v; want %q", pid, cmdline, err, h.exe+"\x00")
	}
	if pgid, err := syscall.Getpgid(p.Pid); err != nil || pgid != p.Pid {
		t.Errorf("pgid %d, %v; want %d", pgid, err, p.Pid)
	}
	if s := procState(p.Pid); s == "" || s == "Z" {
		t.Errorf("process state %q before Kill, want running", s)
	}

	p.Kill("test")
	if err := syscall.Kill(p.Pid, 0); err != syscall.ESRCH {
		t.Errorf("after Kill, kill(%d, 0) = %v, want ESRCH", p.Pid, err)
	}
	if _, err := os.Lstat(socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Kill, socket directory: %v", err)
	}
	if p.stdout != -1 || p.stderr != -1 {
		t.Errorf("after Kill, pipes %d, %d not closed", p.stdout, p.stderr)
	}
	p.Kill("again") // harmless
	if p.outcome != "not adopted (test), killed" {
		t.Errorf("outcome %q", p.outcome)
	}
	if so, se := p.Pipes(); so != nil || se != nil {
		t.Errorf("Pipes after Kill: %v, %v", so, se)
	}
}

// TestStart mutates a fresh home per case and checks that start declines
// for the expected reason without leaving a socket directory, or (want
// "") starts the plugin as promised.
func TestStart(t *testing.T) {
	requireSIGINT(t)
	t.Setenv("PRESTART_TEST_SECRET", "hunter2")

	deep := func(extra int) func(t *testing.T) string {
		return func(t *testing.T) string {
			base := t.TempDir()
			// len(home/run) + len(socketRest) = 104 + extra
			n := 104 + extra - len(socketRest) - len("/run") - len(base) - 1
			if n < 1 || n > 255 {
				t.Skipf("TMPDIR %s is too long to build the home", base)
			}
			return filepath.Join(base, strings.Repeat("d", n))
		}
	}
	move := func(t *testing.T, from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, from); err != nil {
			t.Fatal(err)
		}
	}
	chmod := func(t *testing.T, path string, mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		dir    func(t *testing.T) string // the home's path ("" default)
		mutate func(t *testing.T, h *testHome)
		want   string // in why; "" = starts
	}{
		{name: "good"},
		{
			name: "run missing",
			mutate: func(t *testing.T, h *testHome) {
				if err := os.Remove(h.run); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:   "run 0755",
			mutate: func(t *testing.T, h *testHome) { chmod(t, h.run, 0o755) },
		},
		{
			name:   "config without plugins",
			mutate: func(t *testing.T, h *testHome) { writeFile(t, layout.ConfigFile(h.home), "indexes: []\n") },
		},
		{
			name: "socket path just fits",
			dir:  deep(-1),
		},
		{
			name:   "started",
			mutate: func(t *testing.T, h *testHome) { writeFile(t, layout.StartedFile(h.home, testName, testVersion), "{}") },
			want:   "started",
		},
		{
			name:   "config plugins",
			mutate: func(t *testing.T, h *testHome) { writeFile(t, layout.ConfigFile(h.home), "plugins:\n  x: {}\n") },
			want:   "config.yaml",
		},
		{
			name:   "config Plugins",
			mutate: func(t *testing.T, h *testHome) { writeFile(t, layout.ConfigFile(h.home), "Plugins: {}") },
			want:   "config.yaml",
		},
		{
			name: "config with a tag",
			mutate: func(t *testing.T, h *testHome) {
				// go-yaml decodes the base64 key to "plugins".
				writeFile(t, layout.ConfigFile(h.home), "? !!binary cGx1Z2lucw==\n: {demo: {env: [X=1]}}\n")
			},
			want: "config.yaml",
		},
		{
			name:   "config backslash",
			mutate: func(t *testing.T, h *testHome) { writeFile(t, layout.ConfigFile(h.home), "\"\\x70lugins\": {}\n") },
			want:   "config.yaml",
		},
		// store.LoadConfig (sigs.k8s.io/yaml, then encoding/json's case
		// folding, which is bytes.EqualFold's) reads a key "plugin\u017f"
		// (LATIN SMALL LETTER LONG S) as plugins, and go-yaml decodes
		// UTF-16 with a BOM: both are declined (any byte that is not ASCII).
		{
			name: "config plugins with a long s",
			mutate: func(t *testing.T, h *testHome) {
				writeFile(t, layout.ConfigFile(h.home), "plugin\u017f:\n  demo:\n    env: [SECRET=1]\n")
			},
			want: "config.yaml",
		},
		{
			name: "config plugins in UTF-16",
			mutate: func(t *testing.T, h *testHome) {
				b := []byte{0xff, 0xfe} // UTF-16LE byte order mark
				for _, r := range utf16.Encode([]rune("plugins:\n  demo:\n    env: [SECRET=1]\n")) {
					b = append(b, byte(r), byte(r>>8))
				}
				writeFile(t, layout.ConfigFile(h.home), string(b))
			},
			want: "config.yaml",
		},
		{
			name: "mtls true",
			mutate: func(t *testing.T, h *testHome) {
				h.rec.Protocol.MTLS = layout.MTLSTrue
				h.writeReceipt(t)
			},
			want: "mtls is true",
		},
		{
			name:   "version dir 0777",
			mutate: func(t *testing.T, h *testHome) { chmod(t, h.vdir, 0o777) },
			want:   "writable by group or others",
		},
		{
			name:   "home 0775",
			mutate: func(t *testing.T, h *testHome) { chmod(t, h.home, 0o775) },
			want:   "writable by group or others",
		},
		{
			name:   "exe 0775",
			mutate: func(t *testing.T, h *testHome) { chmod(t, h.exe, 0o775) },
			want:   "writable by group or others",
		},
		{
			name:   "record 0666",
			mutate: func(t *testing.T, h *testHome) { chmod(t, h.record, 0o666) },
			want:   "writable by group or others",
		},
		{
			name:   "pkg a symlink",
			mutate: func(t *testing.T, h *testHome) { move(t, h.pkg, h.pkg+".real") },
			want:   "not a plain file or directory",
		},
		{
			name:   "exe a symlink",
			mutate: func(t *testing.T, h *testHome) { move(t, h.exe, h.exe+".real") },
			want:   "not a plain file or directory",
		},
		{
			name: "no record",
			mutate: func(t *testing.T, h *testHome) {
				if err := os.Remove(h.record); err != nil {
					t.Fatal(err)
				}
			},
			want: "no such file",
		},
		{
			name: "exe touched",
			mutate: func(t *testing.T, h *testHome) {
				mtime := time.Now().Add(-time.Hour)
				if err := os.Chtimes(h.exe, mtime, mtime); err != nil {
					t.Fatal(err)
				}
			},
			want: "identity record does not match",
		},
		{
			name: "record of another sha256",
			mutate: func(t *testing.T, h *testHome) {
				fi, err := os.Stat(h.exe)
				if err != nil {
					t.Fatal(err)
				}
				id, _ := exerecord.Of(fi)
				h.writeRecord(t, exerecord.Record{Identity: id, SHA256: strings.Repeat("0", 64)})
			},
			want: "identity record does not match",
		},
		{
			name: "script",
			mutate: func(t *testing.T, h *testHome) {
				h.writeExe(t, []byte("#!/bin/sh\n"))
				h.seal(t)
			},
			want: "not an ELF",
		},
		{
			// Passes every check, and execve fails: the socket directory
			// made for it must go too.
			name: "ELF that does not exec",
			mutate: func(t *testing.T, h *testHome) {
				h.writeExe(t, append([]byte("\x7fELF"), make([]byte, 60)...))
				h.seal(t)
			},
			want: "start: exec format error",
		},
		{
			name: "bin dot-dot",
			mutate: func(t *testing.T, h *testHome) {
				h.rec.Bin = "../x"
				h.writeReceipt(t)
			},
			want: "bin",
		},
		{
			name: "bin empty element",
			mutate: func(t *testing.T, h *testHome) {
				h.rec.Bin = "a//b"
				h.writeReceipt(t)
			},
			want: "bin",
		},
		{
			name: "no binSha256",
			mutate: func(t *testing.T, h *testHome) {
				h.rec.BinSHA256 = ""
				h.writeReceipt(t)
			},
			want: "binSha256",
		},
		{
			name: "no receipt",
			mutate: func(t *testing.T, h *testHome) {
				if err := os.Remove(h.receipt); err != nil {
					t.Fatal(err)
				}
			},
			want: "receipt",
		},
		{
			name: "receipt of another name",
			mutate: func(t *testing.T, h *testHome) {
				h.rec.Name = "other"
				h.writeReceipt(t)
			},
			want: "receipt",
		},
		{
			name: "socket path too long",
			dir:  deep(0),
			want: "too deep",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := ""
			if tt.dir != nil {
				dir = tt.dir(t)
			}
			h := newHome(t, dir)
			if tt.mutate != nil {
				tt.mutate(t, h)
			}
			p, why := start(h.home, testName, testVersion)
			if p != nil {
				t.Cleanup(func() { p.Kill("cleanup") })
			}
			if tt.want == "" {
				if p == nil || why != "" {
					t.Fatalf("start declined: %s", why)
				}
				fi, err := os.Lstat(h.run)
				if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Errorf("run/ after start: %v, %v; want a directory, mode 0700", fi, err)
				}
				checkStarted(t, h, p)
			} else {
				if p != nil {
					t.Fatalf("start started pid %d, want %q", p.Pid, tt.want)
				}
				if !strings.Contains(why, tt.want) {
					t.Errorf("why = %q, want it to contain %q", why, tt.want)
				}
			}
			if left := socketDirs(t, h.run); len(left) != 0 {
				t.Errorf("left in run/: %q", left)
			}
		})
	}
}

// TestPipes reads the plugin's stdout through Pipes, which gives the pipes
// once.
func TestPipes(t *testing.T) {
	requireSIGINT(t)
	h := newHome(t, "")
	p, why := start(h.home, testName, testVersion)
	if p == nil {
		t.Fatalf("start declined: %s", why)
	}
	t.Cleanup(func() { p.Kill("cleanup") })
	stdout, stderr := p.Pipes()
	if stdout == nil || stderr == nil {
		t.Fatalf("Pipes: %v, %v", stdout, stderr)
	}
	defer stdout.Close()
	defer stderr.Close()
	if so, se := p.Pipes(); so != nil || se != nil {
		t.Errorf("second Pipes: %v, %v; want nils", so, se)
	}
	if err := stdout.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("stdout is not pollable: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := stdout.Read(buf[:2]); err != nil {
		t.Fatal(err)
	}
	if n, err := stdout.Read(buf[2:]); err != nil || n == 0 {
		t.Fatal(n, err)
	}
	if !strings.HasPrefix(string(buf), "y\ny") {
		t.Errorf("stdout %q, want y lines", buf)
	}
	p.Kill("test")
	if err := syscall.Kill(p.Pid, 0); err != syscall.ESRCH {
		t.Errorf("after Kill, kill(%d, 0) = %v, want ESRCH", p.Pid, err)
	}
	// Kill leaves the taken pipes to their owner: they are still open.
	if err := stderr.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := stderr.Read(buf); n != 0 || err == nil || errors.Is(err, os.ErrClosed) {
		t.Errorf("stderr after Kill: %d, %v; want EOF", n, err)
	}
}

func TestHostEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
		refused bool
	}{
		{name: "empty"},
		{
			name:    "clean",
			environ: []string{"PATH=/bin", "SECRET=x", "HOME=/root", "TMPDIR=/tmp", "PLUGIN_X=1", "LANG=C", "LC_ALL=C", "LC_CTYPE=C.UTF-8", "TZ=UTC", "PATHX=1", "AWS_SECRET_ACCESS_KEY=k", "PLUGCTL_PLUGIN=plugctl"},
			want:    []string{"PATH=/bin", "HOME=/root", "TMPDIR=/tmp", "LANG=C", "LC_ALL=C", "LC_CTYPE=C.UTF-8", "TZ=UTC"},
		},
		{name: "empty value", environ: []string{"PATH=", "TZ=a=b"}, want: []string{"PATH=", "TZ=a=b"}},
		{name: "only others", environ: []string{"SECRET=x", "PLUGIN_X=1"}},
		{name: "duplicate", environ: []string{"PATH=/bin", "HOME=/", "PATH=/usr/bin"}, refused: true},
		{name: "duplicate other", environ: []string{"SECRET=1", "SECRET=2"}, refused: true},
		{name: "no =", environ: []string{"PATH=/bin", "JUSTANAME"}, refused: true},
		{name: "empty name", environ: []string{"=C:=C:\\"}, refused: true},
		{name: "NUL", environ: []string{"PATH=/bin\x00/usr/bin"}, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := hostEnv(tt.environ)
			if tt.refused {
				if why == "" || got != nil {
					t.Errorf("hostEnv(%q) = %q, %q; want refused", tt.environ, got, why)
				}
				return
			}
			if why != "" || !slices.Equal(got, tt.want) {
				t.Errorf("hostEnv(%q) = %q, %q; want %q", tt.environ, got, why, tt.want)
			}
		})
	}
}

func TestEnvAllowed(t *testing.T) {
	for name, want := range map[string]bool{
		"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, "LC_ALL": true, "LC_": true, "TZ": true,
		"SECRET": false, "PLUGIN_X": false, "PATHX": false, "LC": false, "path": false, "": false,
	} {
		if got := EnvAllowed(name, CleanEnv); got != want {
			t.Errorf("EnvAllowed(%q) = %v, want %v", name, got, want)
		}
	}
	if !EnvAllowed("GIT_DIR", []string{"GIT_*"}) || EnvAllowed("GIT_DIR", nil) {
		t.Error("EnvAllowed with other patterns")
	}
}

func TestFilterEnv(t *testing.T) {
	in := []string{"PATH=/bin", "MY_COOKIE=x", "PLUGIN_MIN_PORT=1", "PLUGCTL_PLUGIN=plugctl", "=odd", "PLUGINS=keep", "TZ=UTC"}
	want := []string{"PATH=/bin", "PLUGCTL_PLUGIN=plugctl", "PLUGINS=keep", "TZ=UTC"}
	if got := FilterEnv(in, "MY_COOKIE"); !slices.Equal(got, want) {
		t.Errorf("FilterEnv = %q, want %q", got, want)
	}
}

func TestSameEnv(t *testing.T) {
	base := []string{"PATH=/bin", "PLUGCTL_PLUGIN=plugctl", "PLUGIN_PROTOCOL_VERSIONS=1,2", "PLUGIN_UNIX_SOCKET_DIR=/run/a", "PLUGIN_CLIENT_CERT="}
	with := func(i int, kv string) []string {
		e := slices.Clone(base)
		e[i] = kv
		return e
	}
	tests := []struct {
		name string
		a, b []string
		want bool
	}{
		{"equal", base, slices.Clone(base), true},
		{"both empty", nil, []string{}, true},
		{"another socket dir", base, with(3, "PLUGIN_UNIX_SOCKET_DIR=/run/b"), true},
		{"versions reordered", base, with(2, "PLUGIN_PROTOCOL_VERSIONS=2,1"), true},
		{"fewer versions", base, with(2, "PLUGIN_PROTOCOL_VERSIONS=1"), false},
		{"fewer versions, reversed", with(2, "PLUGIN_PROTOCOL_VERSIONS=1"), base, false},
		{"other versions", base, with(2, "PLUGIN_PROTOCOL_VERSIONS=1,3"), false},
		{"another value", base, with(0, "PATH=/usr/bin"), false},
		{"another cookie", base, with(1, "PLUGCTL_PLUGIN=x"), false},
		{"another cert", base, with(4, "PLUGIN_CLIENT_CERT=x"), false},
		{"another key", base, with(0, "HOME=/bin"), false},
		{"reordered", base, []string{base[1], base[0], base[2], base[3], base[4]}, false},
		{"longer", base, append(slices.Clone(base), "TZ=UTC"), false},
		{"shorter", base, base[:4], false},
		// exec.Cmd passes one copy of a variable set twice, ForkExec both.
		{"a name twice, both sides", append(slices.Clone(base), "PATH=/x"), append(slices.Clone(base), "PATH=/x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameEnv(tt.a, tt.b); got != tt.want {
				t.Errorf("sameEnv(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	id := exerecord.Identity{Dev: 1, Ino: 2, Size: 3, Mtime: 4, Ctime: 5}
	env := []string{"PATH=/bin", "PLUGIN_PROTOCOL_VERSIONS=1,2", "PLUGIN_UNIX_SOCKET_DIR=/run/a"}
	p := &Proc{Exe: "/home/plugins/x/1.0.0/pkg/x", ID: id, Env: env, stdout: -1, stderr: -1}
	otherID := id
	otherID.Ctime++
	tests := []struct {
		name string
		exe  string
		id   exerecord.Identity
		env  []string
		want string // in the reason; "" = matches
	}{
		{"same", p.Exe, id, slices.Clone(env), ""},
		{"loosely same env", p.Exe, id, []string{"PATH=/bin", "PLUGIN_PROTOCOL_VERSIONS=2,1", "PLUGIN_UNIX_SOCKET_DIR=/run/b"}, ""},
		{"another exe", "/home/plugins/x/1.0.0/pkg/y", id, env, "/pkg/y"},
		{"another file", p.Exe, otherID, env, "file"},
		{"no file", p.Exe, exerecord.Identity{}, env, "file"},
		{"another env", p.Exe, id, []string{"PATH=/usr/bin", "PLUGIN_PROTOCOL_VERSIONS=1,2", "PLUGIN_UNIX_SOCKET_DIR=/run/a"}, "environment"},
		{"longer env", p.Exe, id, append(slices.Clone(env), "TZ=UTC"), "environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Matches(tt.exe, tt.id, tt.env)
			if tt.want == "" && got != "" || tt.want != "" && (got == "" || !strings.Contains(got, tt.want)) {
				t.Errorf("Matches = %q, want %q", got, tt.want)
			}
		})
	}
}

// resetState restores the package's state after a test that uses Start.
func resetState(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		Discard()
		mu.Lock()
		pending, last = nil, nil
		mu.Unlock()
	})
}

func TestTakeDiscardReport(t *testing.T) {
	requireSIGINT(t)
	resetState(t)
	h := newHome(t, "")
	started := regexp.MustCompile(`^started ` + regexp.QuoteMeta(testName+"@"+testVersion) + ` early \(pid ([1-9][0-9]*)\)$`)

	if r := Report(); r != "" {
		t.Fatalf("Report before Start: %q", r)
	}
	if p := Take(); p != nil {
		t.Fatalf("Take before Start: %+v", p)
	}
	Discard() // nothing to discard: harmless

	// A Start that declines leaves nothing to take.
	bad := newHome(t, "")
	writeFile(t, layout.StartedFile(bad.home, testName, testVersion), "{}")
	if s := Start(bad.home, testName, testVersion); !strings.HasPrefix(s, "no prestart: ") || !strings.Contains(s, "started") {
		t.Errorf("Start on a started plugin: %q", s)
	}
	if p := Take(); p != nil {
		t.Fatalf("Take after a declined Start: pid %d", p.Pid)
	}
	if r := Report(); r != "" {
		t.Errorf("Report after a declined Start: %q", r)
	}

	// Start, Take, Kill.
	s := Start(h.home, testName, testVersion)
	m := started.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("Start: %q", s)
	}
	if r := Report(); r != s+": pending" {
		t.Errorf("Report = %q, want %q", r, s+": pending")
	}
	p := Take()
	if p == nil {
		t.Fatal("Take after Start: nil")
	}
	t.Cleanup(func() { p.Kill("cleanup") })
	if strconv.Itoa(p.Pid) != m[1] {
		t.Errorf("Take gave pid %d, Start said %s", p.Pid, m[1])
	}
	if q := Take(); q != nil {
		t.Errorf("second Take: pid %d", q.Pid)
	}
	if r := Report(); !strings.HasSuffix(r, ": pending") {
		t.Errorf("Report after Take = %q, want pending", r)
	}
	Discard() // taken: not Discard's to kill
	if s := procState(p.Pid); s == "" || s == "Z" {
		t.Errorf("Discard after Take ended the taken process (state %q)", s)
	}
	p.Kill("test")
	if r := Report(); r != s+": not adopted (test), killed" {
		t.Errorf("Report after Kill = %q", r)
	}

	// Start, Discard.
	s = Start(h.home, testName, testVersion)
	m = started.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("second Start: %q", s)
	}
	pid, _ := strconv.Atoi(m[1])
	Discard()
	if r := Report(); r != s+": not adopted (not launched), killed" {
		t.Errorf("Report after Discard = %q", r)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("after Discard, kill(%d, 0) = %v, want ESRCH", pid, err)
	}
	if q := Take(); q != nil {
		t.Errorf("Take after Discard: pid %d", q.Pid)
	}
	if left := socketDirs(t, h.run); len(left) != 0 {
		t.Errorf("left in run/: %q", left)
	}
}

// TestAdopted: an adopted process is the adopter's; Kill leaves it alone.
func TestAdopted(t *testing.T) {
	requireSIGINT(t)
	resetState(t)
	h := newHome(t, "")
	if s := Start(h.home, testName, testVersion); !strings.HasPrefix(s, "started ") {
		t.Fatalf("Start: %q", s)
	}
	p := Take()
	if p == nil {
		t.Fatal("Take: nil")
	}
	p.Adopted()
	p.Kill("late")
	alive := procState(p.Pid)
	// Clean up as an adopter would.
	syscall.Kill(-p.Pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	syscall.Wait4(p.Pid, &ws, 0, nil)
	stdout, stderr := p.Pipes()
	if stdout != nil {
		stdout.Close()
	}
	if stderr != nil {
		stderr.Close()
	}
	os.RemoveAll(p.SocketDir)

	if alive == "" || alive == "Z" {
		t.Errorf("Kill after Adopted ended the process (state %q)", alive)
	}
	if stdout == nil || stderr == nil {
		t.Errorf("Kill after Adopted closed the pipes")
	}
	if r := Report(); !strings.HasSuffix(r, ": adopted") {
		t.Errorf("Report = %q, want adopted", r)
	}
}

// go-plugin's client offers each protocol version once.
func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		in   layout.ProtocolVersions
		want string
	}{
		{layout.ProtocolVersions{1}, "1"},
		{layout.ProtocolVersions{2, 1, 2}, "2,1"},
		{layout.ProtocolVersions{3, 3, 3}, "3"},
	} {
		if got := versions(tc.in); got != tc.want {
			t.Errorf("versions(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Paths are built from the name and version: start refuses any that does
// not name one directory, before it reads anything.
func TestStartRefusesPathsForVersions(t *testing.T) {
	h := newHome(t, "")
	for _, nv := range [][2]string{{testName, ".."}, {testName, "."}, {testName, ""}, {testName, "a/b"}, {"..", testVersion}, {"Demo", testVersion}} {
		if p, why := start(h.home, nv[0], nv[1]); p != nil || !strings.Contains(why, "not a plugin name and version") {
			if p != nil {
				p.Kill("test")
			}
			t.Errorf("start(%q, %q): %v, %q", nv[0], nv[1], p, why)
		}
	}
}

func TestDuplicate(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, ""},
		{[]string{"A=1", "B=2"}, ""},
		{[]string{"A=1", "B=2", "A=3"}, "A"},
		{[]string{"PLUGIN_MIN_PORT=cookie", "PLUGIN_MIN_PORT=10000"}, "PLUGIN_MIN_PORT"},
	} {
		if got := duplicate(tc.env); got != tc.want {
			t.Errorf("duplicate(%q) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// A signal that ends plugctl before the command handles signals itself
// (between the fast path's init and cmd.Run) leaves nothing behind: the
// process is killed and reaped, its socket directory removed, and the
// signal then ends plugctl as it would have.
func TestSignalBeforeHandled(t *testing.T) {
	requireSIGINT(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			h := newHome(t, "")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PRESTART_TEST_HOME="+h.home)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			m := regexp.MustCompile(`^started .* early \(pid (\d+)\)$`).FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper: %q, %v", line, err)
			}
			pid, _ := strconv.Atoi(m[1])
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != sig {
				t.Errorf("helper: %v, want killed by %v", err, sig)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("plugin %d: kill 0: %v (state %q)", pid, err, procState(pid))
			}
			left, _ := filepath.Glob(filepath.Join(h.run, "plugin-dir*"))
			if len(left) > 0 {
				t.Errorf("left in run/: %v", left)
			}
		})
	}
}
