//go:build unix

package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugctl/plugctl/store"
)

// rogueGarbage is ../testdata/plugins/rogue built to print a line on stdout
// before it serves, built once per test binary.
var (
	rogueOnce sync.Once
	rogueBin  string
	rogueErr  error
)

func rogueGarbage(t *testing.T) string {
	t.Helper()
	rogueOnce.Do(func() {
		rogueBin = filepath.Join(filepath.Dir(goodBin), "rogue-garbage")
		c := exec.Command("go", "build", "-ldflags", "-X main.mode=garbage", "-o", rogueBin, "./testdata/plugins/rogue")
		c.Dir = ".."
		if out, err := c.CombinedOutput(); err != nil {
			rogueErr = errors.New(string(out))
		}
	})
	if rogueErr != nil {
		t.Fatalf("build rogue-garbage: %v", rogueErr)
	}
	return rogueBin
}

// homeWith is a home with bin installed as test@1.0.0 (plugctl's default
// handshake), and its Spec.
func homeWith(t *testing.T, bin string) (store.Paths, Spec) {
	t.Helper()
	home := store.Paths{Home: t.TempDir()}
	if err := installFake(home, bin, "test", "1.0.0", store.Protocol{}, true); err != nil {
		t.Fatal(err)
	}
	r, err := home.ReadReceipt("test", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	return home, SpecFromReceipt(home, r)
}

// startT starts spec and stops it at the end of the test.
func startT(t *testing.T, spec Spec, opt Options) *StartedPlugin {
	t.Helper()
	st, started, err := Start(ctxT(t, 30*time.Second), spec, opt)
	if err != nil || !started {
		t.Fatalf("Start: %v %v", started, err)
	}
	t.Cleanup(func() {
		if _, err := Stop(context.Background(), opt.Home, spec.Name, spec.Version); err != nil && !errors.Is(err, ErrNotStarted) {
			t.Errorf("Stop: %v", err)
		}
		if st.Alive() {
			t.Errorf("pid %d still runs after Stop", st.Pid)
		}
	})
	return st
}

// assertNotStarted checks that a failed Start left no record and no
// process behind.
func assertNotStarted(t *testing.T, home store.Paths) {
	t.Helper()
	if _, err := ReadStarted(home, "test", "1.0.0"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("a record was left: %v", err)
	}
}

// Start checks and executes the binary as Launch does: a file swapped in at
// the path between the check and the exec never runs.
func TestStartSwapBetweenCheckAndExec(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("executing the open file needs /proc/self/fd")
	}
	home, spec := homeWith(t, goodBin)
	dir := t.TempDir()
	ranSwapped := filepath.Join(dir, "swapped-ran")
	script := filepath.Join(dir, "evil")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho ran > "+ranSwapped+"\nexec sleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	afterCheckHook = func() {
		if err := os.Rename(script, spec.Exe); err != nil {
			t.Errorf("swap: %v", err)
		}
	}
	t.Cleanup(func() { afterCheckHook = nil })
	marker := filepath.Join(dir, "verified-ran")
	opt := Options{Home: home, Env: []string{"TESTPLUGIN_MARKER=" + marker}}
	st := startT(t, spec, opt)
	afterCheckHook = nil
	if st.Protocol != ProtocolGRPC {
		t.Errorf("protocol %q", st.Protocol)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the verified binary did not run: %v", err)
	}
	if _, err := os.Stat(ranSwapped); err == nil {
		t.Fatal("the file swapped in after the check ran")
	}
	// The started process is the verified binary: it answers.
	p, ok, err := Attach(ctxT(t, 10*time.Second), home, "test", "1.0.0", Options{})
	if err != nil || !ok {
		t.Fatalf("Attach: %v %v", ok, err)
	}
	if err := p.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	p.Close()

	// The next start checks the new file and refuses it.
	if _, err := Stop(ctxT(t, 10*time.Second), home, "test", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	_, _, err = Start(ctxT(t, 30*time.Second), spec, opt)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("start of the swapped file: %v", err)
	}
	assertNotStarted(t, home)
}

// StrictModes: Start runs nothing from a package directory that others
// can change.
func TestStartUnsafePkgDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   os.FileMode
		reason string
	}{
		{"world-writable", 0o777, "writable by other users"},
		{"group-writable", 0o775, "writable by group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home, spec := homeWith(t, goodBin)
			pkg := filepath.Dir(spec.Exe)
			if tc.mode&0o002 == 0 {
				fi, err := os.Stat(pkg)
				if err != nil {
					t.Fatal(err)
				}
				if privateGroup(fi.Sys().(*syscall.Stat_t).Gid) {
					t.Skip("the directory's group is the user's private group: group write is allowed")
				}
			}
			if err := os.Chmod(pkg, tc.mode); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "ran")
			_, _, err := Start(ctxT(t, 30*time.Second), spec, Options{Home: home, Env: []string{"TESTPLUGIN_MARKER=" + marker}})
			var up *UnsafePathError
			if !errors.As(err, &up) {
				t.Fatalf("want *UnsafePathError, got %v", err)
			}
			if up.Path != pkg || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q: want path %s and %q", err, pkg, tc.reason)
			}
			assertNotStarted(t, home)
			time.Sleep(50 * time.Millisecond)
			if _, err := os.Stat(marker); err == nil {
				t.Error("the plugin ran")
			}
		})
	}
}

// As strict as go-plugin: a plugin whose first line on stdout is not the
// handshake is refused by Start as by Launch, although a handshake follows.
func TestStartGarbageBeforeHandshake(t *testing.T) {
	t.Parallel()
	home, spec := homeWith(t, rogueGarbage(t))
	const want = `handshake failed: unrecognized first line on stdout "this is not a handshake"`

	_, err := Launch(ctxT(t, 30*time.Second), spec, Options{Home: home})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Launch: %v, want %q", err, want)
	}

	_, started, err := Start(ctxT(t, 30*time.Second), spec, Options{Home: home})
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpHandshake || started {
		t.Fatalf("Start: started=%v, want a handshake *PluginError, got %v", started, err)
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "stdout: "+OutFile(home, "test", "1.0.0")) {
		t.Errorf("Start: %q, want %q and the stdout file", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("not one line: %q", err)
	}
	assertNotStarted(t, home)
	// What it printed stays for plugctl logs, and its process is gone.
	out, err := os.ReadFile(OutFile(home, "test", "1.0.0"))
	if err != nil || !strings.HasPrefix(string(out), "this is not a handshake\n") {
		t.Errorf("stdout file: %q %v", out, err)
	}
	if pids := processesRunning(t, spec.Exe); len(pids) > 0 {
		t.Errorf("rogue-garbage still runs: %v", pids)
	}
}

// processesRunning returns the pids of live processes running the file exe
// (Linux only; nil elsewhere), after giving them a moment to go.
func processesRunning(t *testing.T, exe string) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	var pids []string
	for deadline := time.Now().Add(2 * time.Second); ; {
		pids = pids[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			link, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
			if err == nil && strings.TrimSuffix(link, " (deleted)") == exe {
				pids = append(pids, e.Name())
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A started plugin's stdout and stderr go to their own files: the
// handshake is the first line of the stdout file.
func TestStartOutputFiles(t *testing.T) {
	t.Parallel()
	home, spec := homeWith(t, goodBin)
	st := startT(t, spec, Options{Home: home})
	if st.Stdout != OutFile(home, "test", "1.0.0") || st.Log != LogFile(home, "test", "1.0.0") {
		t.Errorf("files %q %q", st.Stdout, st.Log)
	}
	out, err := os.ReadFile(st.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(first, "1|1|unix|") || !strings.HasSuffix(first, "|grpc|") {
		t.Errorf("first stdout line %q, want the handshake", first)
	}
	if _, err := os.Stat(st.Log); err != nil {
		t.Errorf("stderr file: %v", err)
	}
}

// Close on an attached plugin only drops the connection: the plugin is
// neither asked to exit nor killed, and keeps its state (gRPC and net/rpc).
func TestAttachedCloseLeavesItRunning(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	for _, tc := range []struct{ name, method, args, want string }{
		{"kv", "Get", `{"key":"k"}`, `{"value":"v"}`},
		{"hello", "Greet", ``, `"Hello!"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := home.ReadReceipt(tc.name, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			st := startT(t, SpecFromReceipt(home, r), Options{Home: home})
			for i := 0; i < 3; i++ {
				p, ok, err := Attach(ctxT(t, 10*time.Second), home, tc.name, "1.0.0", Options{})
				if err != nil || !ok {
					t.Fatalf("Attach %d: %v %v", i, ok, err)
				}
				if p.Pid() != st.Pid {
					t.Errorf("Pid %d, want %d", p.Pid(), st.Pid)
				}
				if tc.name == "kv" && i == 0 {
					mustCall(t, p, "Put", `{"key":"k","value":"v"}`, CallOptions{})
				}
				if out := mustCall(t, p, tc.method, tc.args, CallOptions{}); len(out) != 1 || out[0] != tc.want {
					t.Errorf("%s = %v, want %s", tc.method, out, tc.want)
				}
				if err := p.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
				if !st.Alive() {
					t.Fatalf("Close %d ended the started plugin", i)
				}
			}
		})
	}
}

// A call on an attached plugin whose process died meanwhile is a crash
// (*PluginError), not an unreachable socket.
func TestAttachedPluginDies(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	r, err := home.ReadReceipt("kv", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	st := startT(t, SpecFromReceipt(home, r), Options{Home: home})
	p, ok, err := Attach(ctxT(t, 10*time.Second), home, "kv", "1.0.0", Options{})
	if err != nil || !ok {
		t.Fatalf("Attach: %v %v", ok, err)
	}
	defer p.Close()
	killGroup(st.Pid)
	waitProcGone(st, 5*time.Second)
	time.Sleep(100 * time.Millisecond) // the watch notices within 50ms
	err = p.Call(ctxT(t, 5*time.Second), "Get", []byte(`{"key":"k"}`), CallOptions{}, func([]byte) error { return nil })
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpCall || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("got %v, want a call *PluginError saying the process is gone", err)
	}
}
