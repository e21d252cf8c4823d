package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/batch"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// The runtime's test plugins, built once in TestMain: goodplugin (gRPC,
// with reflection) and rpcplugin (net/rpc).
var goodBin, rpcBin string

// keepEnv makes the test binary the keeper of the started plugin it names
// (HOME|NAME@VERSION): what plugctl's hidden keeper command runs.
const keepEnv = "RUNNER_TEST_KEEP"

func TestMain(m *testing.M) {
	if v := os.Getenv(keepEnv); v != "" {
		os.Exit(keeperMain(v))
	}
	dir, err := os.MkdirTemp("", "runner-test-plugins")
	if err != nil {
		panic(err)
	}
	c := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"../../runtime/testdata/plugins/goodplugin", "../../runtime/testdata/plugins/rpcplugin")
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test plugins:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goodBin, rpcBin = filepath.Join(dir, "goodplugin"), filepath.Join(dir, "rpcplugin")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func keeperMain(v string) int {
	home, ref, _ := strings.Cut(v, "|")
	p := store.Paths{Home: home}
	name, version, err := store.ParseRef(ref, true)
	if err == nil {
		var rc *store.Receipt
		if rc, err = p.ReadReceipt(name, version); err == nil {
			err = runtime.Keep(context.Background(), p, rc, runtime.Options{Home: p})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keeper:", err)
		return 1
	}
	return 0
}

// install puts bin into home as name@1.0.0, active, the way plugctl
// install leaves it.
func install(t *testing.T, home store.Paths, bin, name string) {
	t.Helper()
	pkg := home.PkgDir(name, "1.0.0")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(pkg, name)
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := verify.FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := store.MarshalReceipt(&store.Receipt{
		Schema: store.ReceiptSchema, Name: name, Version: "1.0.0", Bin: name, BinSHA256: sum,
		ArtifactSHA256: sum, InstalledAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(home.ReceiptFile(name, "1.0.0"), rb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := home.SetActive(name, "1.0.0"); err != nil {
		t.Fatal(err)
	}
}

// remarks records what a Runner remarks.
type remarks struct {
	mu sync.Mutex
	b  strings.Builder
}

func (r *remarks) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.b, format, args...)
}

func (r *remarks) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

// newRunner is a Runner of a fresh home with goodplugin as test@1.0.0 and
// rpcplugin as rpc@1.0.0, whose keepers are this test binary; at the end
// of the test every started plugin is stopped.
func newRunner(t *testing.T) (*Runner, *remarks) {
	t.Helper()
	home := store.Paths{Home: t.TempDir()}
	install(t, home, goodBin, "test")
	install(t, home, rpcBin, "rpc")
	rm := &remarks{}
	r := &Runner{Home: home, Remark: rm.add, KeeperCmd: func(st *runtime.StartedPlugin) (*exec.Cmd, error) {
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), keepEnv+"="+home.Home+"|"+st.Name+"@"+st.Version)
		return c, nil
	}}
	t.Cleanup(func() {
		running, _ := runtime.Started(home)
		for _, s := range running {
			if _, err := runtime.Stop(context.Background(), home, s.Name, s.Version); err != nil {
				t.Errorf("stop %s@%s: %v", s.Name, s.Version, err)
			}
		}
	})
	return r, rm
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitGone waits until no process has pid (a launched plugin is our
// child, reaped by Close).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still there after 10s", pid)
		}
	}
}

func TestFlagsCheck(t *testing.T) {
	for _, tc := range []struct {
		f    Flags
		want string // "" for no error
	}{
		{Flags{}, ""},
		{Flags{MTLS: "auto", Env: []string{"A", "B=1", "C_*", "D=x=y"}}, ""},
		{Flags{MTLS: "maybe"}, `--mtls "maybe": want auto, true or false`},
		{Flags{Env: []string{"BAD NAME"}}, `--env "BAD NAME": want NAME, NAME* or NAME=VALUE`},
		{Flags{Env: []string{"P*=1"}}, `--env "P*=1": want NAME, NAME* or NAME=VALUE`},
	} {
		err := tc.f.Check()
		var fe *FlagError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.f, err)
		case tc.want != "" && (!errors.As(err, &fe) || err.Error() != tc.want):
			t.Errorf("%+v: %v, want a *FlagError %q", tc.f, err, tc.want)
		}
	}
}

// Options: config.yaml's plugins.NAME.env first, then --env; a bad entry
// of either is a *FlagError naming where it is.
func TestOptionsEnv(t *testing.T) {
	r, _ := newRunner(t)
	r.InheritEnv = true
	if err := os.WriteFile(r.Home.Config(), []byte("plugins:\n  test:\n    env: [A, B=1]\n  other:\n    env: [Z=9]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt, err := r.Options("test", Flags{MTLS: "true", Env: []string{"C=2", "D_*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opt.Env, []string{"B=1", "C=2"}) || !slices.Equal(opt.AllowEnv, []string{"A", "D_*"}) {
		t.Errorf("Env %q, AllowEnv %q; want [B=1 C=2] and [A D_*]", opt.Env, opt.AllowEnv)
	}
	if opt.MTLS != store.MTLSTrue || !opt.InheritEnv || opt.RunDir != r.Home.Run() || opt.Home != r.Home {
		t.Errorf("options %+v", opt)
	}
	if fi, err := os.Stat(r.Home.Run()); err != nil || !fi.IsDir() {
		t.Errorf("run directory: %v", err)
	}
	if err := os.WriteFile(r.Home.Config(), []byte("plugins:\n  test:\n    env: [\"BAD NAME\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = r.Options("test", Flags{})
	var fe *FlagError
	if !errors.As(err, &fe) || fe.Where != "config.yaml plugins.test.env" {
		t.Errorf("bad config.yaml entry: %v, want a *FlagError naming config.yaml", err)
	}
}

// AttachOrLaunch launches a plugin that was not started, and attaches to
// the started process of a version that was.
func TestAttachOrLaunch(t *testing.T) {
	r, rm := newRunner(t)
	ctx := ctxT(t)
	rc, err := r.Resolve("test", Flags{})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := r.Options(rc.Name, Flags{})
	if err != nil {
		t.Fatal(err)
	}
	pl, warm, err := r.AttachOrLaunch(ctx, rc, opt)
	if err != nil || warm {
		t.Fatalf("cold: warm %v, %v", warm, err)
	}
	pid := pl.Pid()
	if err := pl.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	pl.Close()
	waitGone(t, pid)

	r.KeeperCmd = nil // attach rather than call through a keeper
	st, started, err := r.Start(ctx, "test", Flags{}, t.TempDir())
	if err != nil || !started {
		t.Fatalf("Start: started %v, %v", started, err)
	}
	pl, warm, err = r.AttachOrLaunch(ctx, rc, opt)
	if err != nil || !warm || pl.Pid() != st.Pid {
		t.Fatalf("started: warm %v, pid %d (started %d), %v", warm, pl.Pid(), st.Pid, err)
	}
	pl.Close() // drops the connection only
	if !st.Alive() {
		t.Errorf("closing an attached plugin ended its process")
	}
	if !strings.Contains(rm.String(), fmt.Sprintf("reattached to test@1.0.0 (pid %d)", st.Pid)) {
		t.Errorf("remarks %q", rm.String())
	}
	if _, started, err := r.Start(ctx, "test@1.0.0", Flags{}, t.TempDir()); err != nil || started {
		t.Errorf("second Start: started %v, %v", started, err)
	}
}

// Resolve refuses --env for a version that runs started without it, and
// anything not installed.
func TestResolve(t *testing.T) {
	r, _ := newRunner(t)
	r.KeeperCmd = nil
	if _, err := r.Resolve("nope", Flags{}); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("not installed: %v", err)
	}
	if _, err := r.Resolve("test", Flags{MTLS: "bogus"}); err == nil {
		t.Errorf("bad --mtls: no error")
	}
	if _, err := r.Resolve("test", Flags{Env: []string{"X=1"}}); err != nil {
		t.Errorf("--env, not started: %v", err)
	}
	if _, _, err := r.Start(ctxT(t), "test", Flags{}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	var em *runtime.EnvMismatchError
	if _, err := r.Resolve("test", Flags{Env: []string{"X=1"}}); !errors.As(err, &em) {
		t.Errorf("--env for a started version: %v, want *runtime.EnvMismatchError", err)
	}
	if _, err := r.Resolve("test", Flags{}); err != nil {
		t.Errorf("no --env for a started version: %v", err)
	}
}

// Call goes through a started version's keeper when it has one, and
// attaches when the flags ask for a process of their own (--mtls) or a
// plugin was launched cold.
func TestCall(t *testing.T) {
	r, rm := newRunner(t)
	ctx := ctxT(t)
	call := func(f Flags) (string, error) {
		rc, err := r.Resolve("test", f)
		if err != nil {
			return "", err
		}
		var out []string
		err = r.Call(ctx, rc, f, "test.v1.Echo/Echo", []byte(`{"message": "hi"}`), f.CallOptions(nil), func(doc []byte) error {
			out = append(out, string(doc))
			return nil
		})
		return strings.Join(out, "\n"), err
	}
	if got, err := call(Flags{}); err != nil || !strings.Contains(got, `"hi"`) {
		t.Fatalf("cold call: %q, %v", got, err)
	}
	if strings.Contains(rm.String(), "keeper") || strings.Contains(rm.String(), "reattached") {
		t.Errorf("a cold call remarks %q", rm.String())
	}
	st, _, err := r.Start(ctx, "test", Flags{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st.Keeper(r.Home) == "" {
		t.Fatalf("Start left no keeper listening (log: %s)", st.Log)
	}
	if got, err := call(Flags{}); err != nil || !strings.Contains(got, `"hi"`) {
		t.Fatalf("warm call: %q, %v", got, err)
	}
	if !strings.Contains(rm.String(), "called through its keeper") {
		t.Errorf("warm call: remarks %q, want it through the keeper", rm.String())
	}
	rm.b.Reset()
	if got, err := call(Flags{MTLS: "false"}); err != nil || !strings.Contains(got, `"hi"`) {
		t.Fatalf("--mtls false: %q, %v", got, err)
	}
	if s := rm.String(); strings.Contains(s, "keeper") || !strings.Contains(s, "reattached") {
		t.Errorf("--mtls false: remarks %q, want an attach without the keeper", s)
	}
	if !st.Alive() {
		t.Errorf("a call ended the started process")
	}
}

// Health checks all targets at once and reports each in order; launched
// plugins are gone afterwards.
func TestHealth(t *testing.T) {
	r, _ := newRunner(t)
	hs := r.Health(ctxT(t), []string{"test", "nope", "rpc@1.0.0", "test@9.9.9", "Bad/Name"}, Flags{})
	want := []struct{ name, version, status string }{
		{"test", "1.0.0", Healthy},
		{"nope", "", NotInstalled},
		{"rpc", "1.0.0", Healthy},
		{"test", "", NotInstalled},
		{"Bad/Name", "", Unhealthy},
	}
	if len(hs) != len(want) {
		t.Fatalf("%d results, want %d", len(hs), len(want))
	}
	for i, h := range hs {
		w := want[i]
		if h.Name != w.name || h.Version != w.version || h.Status != w.status {
			t.Errorf("result %d: %+v, want %s@%s %s", i, h, w.name, w.version, w.status)
		}
		if h.Status == Healthy {
			if h.Pid == 0 || h.Warm || h.Err != nil {
				t.Errorf("%s: %+v", h.Name, h)
			}
			waitGone(t, h.Pid)
		}
	}
	if hs[4].Err == nil {
		t.Errorf("unhealthy without an error: %+v", hs[4])
	}
}

// StopRunning refuses a running version without force, and stops it with.
func TestStopRunning(t *testing.T) {
	r, _ := newRunner(t)
	ctx := ctxT(t)
	st, _, err := r.Start(ctx, "test", Flags{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	running, idle, err := r.Targets([]string{"test", "rpc"}, false)
	if err != nil || len(running) != 1 || running[0].Pid != st.Pid || !slices.Equal(idle, []string{"rpc"}) {
		t.Errorf("Targets: %v, %q, %v", running, idle, err)
	}
	if _, _, err := r.Targets([]string{"nope"}, false); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("Targets of nothing installed: %v", err)
	}
	stopped, err := r.StopRunning(ctx, "test", "", false)
	var re *RunningError
	if !errors.As(err, &re) || re.Pid != st.Pid || re.Version != "1.0.0" || len(stopped) != 0 {
		t.Fatalf("without force: %v, %v; want a *RunningError", stopped, err)
	}
	if !st.Alive() {
		t.Fatal("refused, and yet stopped")
	}
	stopped, err = r.StopRunning(ctx, "test", "1.0.0", true)
	if err != nil || len(stopped) != 1 || stopped[0].Pid != st.Pid {
		t.Fatalf("with force: %v, %v", stopped, err)
	}
	if st.Alive() {
		t.Error("still alive after StopRunning with force")
	}
	if left, _ := runtime.Started(r.Home); len(left) != 0 {
		t.Errorf("still started: %v", left)
	}
}

// A batch's Conn is the keeper's when it has one and the batch may use it,
// else a session of its own on an attached process.
func TestBatchOpener(t *testing.T) {
	r, _ := newRunner(t)
	ctx := ctxT(t)
	st, _, err := r.Start(ctx, "test", Flags{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st.Keeper(r.Home) == "" {
		t.Fatalf("Start left no keeper listening (log: %s)", st.Log)
	}
	rc, err := r.Resolve("test", Flags{})
	if err != nil {
		t.Fatal(err)
	}
	open, err := r.BatchOpener(ctx, rc, Flags{})
	if err != nil {
		t.Fatal(err)
	}
	for _, keeper := range []bool{true, false} {
		c, err := open(ctx, keeper)
		if err != nil {
			t.Fatalf("open(keeper %v): %v", keeper, err)
		}
		if _, own := c.(closeWith); own == keeper {
			t.Errorf("open(keeper %v) gave %T", keeper, c)
		}
		var got string
		if _, err := c.Call(ctx, "test.v1.Echo/Echo", []byte(`{"message": "b"}`), runtime.CallOptions{}, func(doc []byte) error {
			got = string(doc)
			return nil
		}); err != nil || !strings.Contains(got, `"b"`) {
			t.Errorf("keeper %v: %q, %v", keeper, got, err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if !st.Alive() {
		t.Error("closing a batch's session ended the started process")
	}
	// --proto is a schema of this batch's own: no keeper.
	open, err = r.BatchOpener(ctx, rc, Flags{Protoset: "x.protoset"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := open(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, own := c.(closeWith); !own {
		t.Errorf("with --protoset: %T, want a session of its own", c)
	}
	var _ batch.Conn = c
}
