package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/store"
	kvproto "github.com/plugctl/plugctl/testdata/plugins/kv/proto"
	"github.com/plugctl/plugctl/verify"
)

// The example plugins of ../testdata/plugins, built once per test binary
// (beside TestMain's, which removes them) by the first test that needs them.
var (
	examplesOnce sync.Once
	examplesDir  string
	examplesErr  error
)

func examplePlugins() (string, error) {
	examplesOnce.Do(func() {
		examplesDir = filepath.Join(filepath.Dir(goodBin), "examples")
		run := func(args ...string) error {
			c := exec.Command("go", args...)
			c.Dir = ".."
			out, err := c.CombinedOutput()
			if err != nil {
				return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return nil
		}
		examplesErr = run("build", "-o", examplesDir+string(filepath.Separator),
			"./testdata/plugins/greeter", "./testdata/plugins/kv", "./testdata/plugins/greeter-netrpc")
		if examplesErr == nil {
			examplesErr = run("build", "-ldflags", "-X main.version=2.0.0", "-o", filepath.Join(examplesDir, "greeter-v2"), "./testdata/plugins/greeter")
		}
	})
	return examplesDir, examplesErr
}

// installFake puts bin into home as name@version with a receipt, the way
// plugctl install leaves it, and makes it active when active is set.
func installFake(home store.Paths, bin, name, version string, proto store.Protocol, active bool) error {
	pkg := home.PkgDir(name, version)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pkg, name), b, 0o755); err != nil {
		return err
	}
	sum, err := verify.FileSHA256(filepath.Join(pkg, name))
	if err != nil {
		return err
	}
	rb, err := store.MarshalReceipt(&store.Receipt{
		Schema: store.ReceiptSchema, Name: name, Version: version, Bin: name, BinSHA256: sum,
		ArtifactSHA256: sum, Protocol: proto, InstalledAt: time.Now().UTC(),
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(home.ReceiptFile(name, version), rb, 0o644); err != nil {
		return err
	}
	if active {
		return home.SetActive(name, version)
	}
	return nil
}

// exampleHome is a home with greeter 1.0.0 (active) and 2.0.0, kv 1.0.0 and
// hello 1.0.0 (go-plugin's net/rpc Greeter) installed.
func exampleHome(t testing.TB) store.Paths {
	t.Helper()
	dir, err := examplePlugins()
	if err != nil {
		t.Fatal(err)
	}
	home := store.Paths{Home: t.TempDir()}
	if err := installExamples(home, dir); err != nil {
		t.Fatal(err)
	}
	return home
}

func openManager(t *testing.T, home store.Paths, o ManagerOptions) *Manager {
	t.Helper()
	m, err := OpenManager(home, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mgrCall(t *testing.T, m *Manager, name, method, args string) string {
	t.Helper()
	out, err := m.Call(ctxT(t, 20*time.Second), name, method, []byte(args), CallOptions{})
	if err != nil {
		t.Fatalf("Call %s %s: %v", name, method, err)
	}
	return string(out)
}

func getPid(t *testing.T, m *Manager, name string) int {
	t.Helper()
	c, err := m.Get(ctxT(t, 20*time.Second), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	return c.Pid()
}

func TestManagerLazyLaunchAndReuse(t *testing.T) {
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1})
	if s := m.Status(); len(s) != 0 {
		t.Fatalf("launched before Get: %+v", s)
	}
	pid := getPid(t, m, "kv")
	if got := mgrCall(t, m, "kv", "Put", `{"key":"a","value":"1"}`); got != `{}` {
		t.Fatalf("Put = %s", got)
	}
	// The same process: the in-memory store kept the value.
	if got := mgrCall(t, m, "kv", "Get", `{"key":"a"}`); got != `{"value":"1"}` {
		t.Fatalf("Get = %s", got)
	}
	if got := getPid(t, m, "kv"); got != pid {
		t.Fatalf("pid %d, then %d: not reused", pid, got)
	}
	if got := mgrCall(t, m, "kv", "Count", `{"n":2}`); got != `[{"i":1},{"i":2}]` {
		t.Fatalf("Count = %s", got)
	}
	if got := mgrCall(t, m, "hello", "Greet", ``); got != `"Hello!"` {
		t.Fatalf("net/rpc Greet = %s", got)
	}
	if _, err := m.Get(ctxT(t, 5*time.Second), "nope"); !errors.Is(err, store.ErrNotInstalled) {
		t.Fatalf("Get of a plugin not installed: %v", err)
	}
	hpid := getPid(t, m, "hello")
	m.Close()
	assertGone(t, pid)
	assertGone(t, hpid)
	if _, err := m.Get(context.Background(), "kv"); !errors.Is(err, ErrManagerClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestManagerRecoversFromKill(t *testing.T) {
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1, BackoffMin: 10 * time.Millisecond})
	c, err := m.Get(ctxT(t, 20*time.Second), "greeter")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	// The Client of the dead process fails as the plugin's fault...
	var pe *PluginError
	if err := c.Call(ctxT(t, 5*time.Second), "Greet", []byte(`"x"`), CallOptions{}, func([]byte) error { return nil }); !errors.As(err, &pe) {
		t.Fatalf("call on a killed plugin: %v", err)
	}
	// ...and the next Get launches a new one.
	if got := mgrCall(t, m, "greeter", "Greet", `"again"`); got != `"Hello, again!"` {
		t.Fatalf("Greet after the kill = %s", got)
	}
	if got := getPid(t, m, "greeter"); got == pid {
		t.Fatalf("same pid %d after kill -9", pid)
	}
	if s := m.Status(); len(s) != 1 || !s[0].Healthy || s[0].Failures != 0 {
		t.Fatalf("status after recovery: %+v", s)
	}
}

func TestManagerHealthCheckDetectsFailure(t *testing.T) {
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: 50 * time.Millisecond, HealthTimeout: time.Second, BackoffMin: 10 * time.Millisecond})
	pid := getPid(t, m, "kv")
	// Stopped, the plugin cannot answer its probe: the Manager retires it
	// without anyone calling it.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := m.Status()
		if len(s) == 1 && s[0].Version == "" && s[0].Failures == 1 {
			if s[0].LastErr == nil {
				t.Fatalf("no error recorded: %+v", s[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unhealthy plugin not detected: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	assertGone(t, pid) // retired: killed even though stopped
	if got := getPid(t, m, "kv"); got == pid {
		t.Fatal("not relaunched")
	}
}

func TestManagerBackoffAndClearError(t *testing.T) {
	home := exampleHome(t)
	// A binary that exits at once: every launch fails.
	if err := installFake(home, "/bin/true", "broken", "1.0.0", store.Protocol{}, true); err != nil {
		t.Fatal(err)
	}
	m := openManager(t, home, ManagerOptions{HealthInterval: -1, BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond, Attempts: 3})
	start := time.Now()
	_, err := m.Get(ctxT(t, 20*time.Second), "broken")
	var pe *PluginError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "3 launches failed") {
		t.Fatalf("Get of a plugin that never starts: %v", err)
	}
	// Two waits: 20ms, then 40ms.
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("3 attempts took %v: no backoff", d)
	}
	if s := m.Status(); s[0].Failures != 3 || s[0].LastErr == nil {
		t.Fatalf("status: %+v", s)
	}
}

func TestManagerSwitchesActiveVersion(t *testing.T) {
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1})
	c1, err := m.Get(ctxT(t, 20*time.Second), "greeter")
	if err != nil {
		t.Fatal(err)
	}
	old := c1.Pid()
	// A slow call in flight on the old version while the switch happens.
	slow := make(chan error, 1)
	if err := c1.inst.acquire(); err != nil { // as a call in flight does
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := call(context.Background(), c1.inst.plugin, "Greet", `"slow"`, CallOptions{})
		c1.inst.release()
		slow <- err
	}()
	if err := home.SetActive("greeter", "2.0.0"); err != nil { // plugctl use, from anywhere
		t.Fatal(err)
	}
	if got := mgrCall(t, m, "greeter", "Greet", `"x"`); got != `"Hi there, x!"` {
		t.Fatalf("after the switch: %s", got)
	}
	if c2 := getPid(t, m, "greeter"); c2 == old {
		t.Fatal("same process after the switch")
	}
	// Drained: the call in flight finished on the old process...
	if err := <-slow; err != nil {
		t.Fatalf("call in flight during the switch: %v", err)
	}
	// ...which is then stopped.
	assertGone(t, old)
	if err := c1.Call(context.Background(), "Greet", nil, CallOptions{}, func([]byte) error { return nil }); !errors.Is(err, ErrRetired) {
		t.Fatalf("call on a retired client: %v", err)
	}
}

// kvHostPlugin is the host's side of kv's plugin map entry, as a go-plugin
// host compiles it in.
type kvHostPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (kvHostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host side only")
}

func (kvHostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return kvproto.NewKVClient(c), nil
}

func TestManagerDispense(t *testing.T) {
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1})
	ctx := ctxT(t, 20*time.Second)
	raw, err := m.Dispense(ctx, "kv", plugin.PluginSet{"kv": kvHostPlugin{}})
	if err != nil {
		t.Fatal(err)
	}
	kv := raw.(kvproto.KVClient)
	if _, err := kv.Put(ctx, &kvproto.PutRequest{Key: "k", Value: "typed"}); err != nil {
		t.Fatal(err)
	}
	// The same process serves the untyped Call.
	if got := mgrCall(t, m, "kv", "Get", `{"key":"k"}`); got != `{"value":"typed"}` {
		t.Fatalf("Get = %s", got)
	}
	if _, err := m.Dispense(ctx, "kv", plugin.PluginSet{"other": kvHostPlugin{}}); err == nil || !strings.Contains(err.Error(), `no "kv"`) {
		t.Fatalf("dispense with a set missing the name: %v", err)
	}
}

// greeterHostPlugin is the host's side of hello's (net/rpc) plugin map
// entry: the bare *rpc.Client is enough to call it.
type greeterHostPlugin struct{}

func (greeterHostPlugin) Server(*plugin.MuxBroker) (any, error) {
	return nil, errors.New("host side only")
}
func (greeterHostPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) { return c, nil }

// Dispensing a net/rpc plugin is refused only when the connection really
// is mTLS: --mtls false overrides a receipt's mtls true.
func TestManagerDispenseNetRPCMTLS(t *testing.T) {
	home := exampleHome(t)
	dir, err := examplePlugins()
	if err != nil {
		t.Fatal(err)
	}
	proto := store.Protocol{Kind: store.KindNetRPC, CookieKey: "BASIC_PLUGIN", CookieValue: "hello", Dispense: "greeter", MTLS: store.MTLSTrue}
	if err := installFake(home, filepath.Join(dir, "greeter-netrpc"), "hello", "1.0.0", proto, true); err != nil {
		t.Fatal(err)
	}
	set := plugin.PluginSet{"greeter": greeterHostPlugin{}}
	ctx := ctxT(t, 20*time.Second)

	m := openManager(t, home, ManagerOptions{HealthInterval: -1})
	if _, err := m.Dispense(ctx, "hello", set); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("dispense over mTLS: %v", err)
	}

	m = openManager(t, home, ManagerOptions{HealthInterval: -1, Launch: Options{MTLS: store.MTLSFalse}})
	raw, err := m.Dispense(ctx, "hello", set)
	if err != nil {
		t.Fatalf("dispense with --mtls false: %v", err)
	}
	var greeting string
	if err := raw.(*rpc.Client).Call("Plugin.Greet", new(any), &greeting); err != nil || greeting == "" {
		t.Fatalf("Greet = %q, %v", greeting, err)
	}
}

func TestManagerUsesStartedPlugin(t *testing.T) {
	home := exampleHome(t)
	r, err := home.ReadReceipt("kv", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	st, started, err := Start(ctxT(t, 20*time.Second), SpecFromReceipt(home, r), Options{Home: home})
	if err != nil || !started {
		t.Fatalf("Start: %v %v", started, err)
	}
	t.Cleanup(func() { Stop(context.Background(), home, "kv", "1.0.0") })
	m := openManager(t, home, ManagerOptions{HealthInterval: -1, UseStarted: true})
	if got := getPid(t, m, "kv"); got != st.Pid {
		t.Fatalf("Manager launched pid %d instead of reattaching to %d", got, st.Pid)
	}
	mgrCall(t, m, "kv", "Put", `{"key":"w","value":"warm"}`)
	m.Close()
	// Close left the started plugin running, with its data.
	if !st.Alive() {
		t.Fatal("Close stopped a started plugin")
	}
	p, ok, err := Attach(ctxT(t, 5*time.Second), home, "kv", "1.0.0", Options{})
	if err != nil || !ok {
		t.Fatalf("Attach: %v %v", ok, err)
	}
	if out := mustCall(t, p, "Get", `{"key":"w"}`, CallOptions{}); len(out) != 1 || out[0] != `{"value":"warm"}` {
		t.Fatalf("Get = %v", out)
	}
	p.Close()
	if _, err := Stop(ctxT(t, 10*time.Second), home, "kv", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if st.Alive() {
		t.Fatal("Stop left it running")
	}
}

// BenchmarkManagerCall is the per-call latency of Manager.Call on a warm
// plugin (launched once, before the timer).
func BenchmarkManagerCall(b *testing.B) {
	home := exampleHome(b)
	m, err := OpenManager(home, ManagerOptions{HealthInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	for _, bc := range []struct{ name, plugin, method, args string }{
		{"grpc", "greeter", "Greet", `"bench"`},
		{"netrpc", "hello", "Greet", ``},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := m.Call(ctx, bc.plugin, bc.method, []byte(bc.args), CallOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Call(ctx, bc.plugin, bc.method, []byte(bc.args), CallOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestManagerShutdown: Shutdown stops a plugin with a call in flight once
// ctx ends, rather than draining for DrainTimeout, and the process is gone
// when it returns; later calls get ErrManagerClosed.
func TestManagerShutdown(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1, DrainTimeout: time.Minute})
	pid := getPid(t, m, "kv")
	first := make(chan struct{})
	callErr := make(chan error, 1)
	go func() {
		n := 0
		callErr <- m.CallStream(context.Background(), "kv", "Count", []byte(`{"n": 1000, "intervalMs": 50}`), CallOptions{}, func([]byte) error {
			if n++; n == 1 {
				close(first)
			}
			return nil
		})
	}()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("waited 20s for the first message of kv Count")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want context.DeadlineExceeded (a call was in flight)", err)
	}
	// The drain would take a minute; stopping takes its bounded grace.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	assertGone(t, pid)
	select {
	case err := <-callErr:
		if err == nil {
			t.Error("the call in flight succeeded although its plugin was stopped")
		}
	case <-time.After(10 * time.Second):
		t.Error("the call in flight did not end within 10s of Shutdown")
	}
	if _, err := m.Get(context.Background(), "kv"); !errors.Is(err, ErrManagerClosed) {
		t.Errorf("Get after Shutdown: %v", err)
	}
	// Again: nothing left to wait for.
	if err := m.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestManagerShutdownDrains: a call in flight at Shutdown finishes before
// its plugin is stopped (the Manager's launch contexts used to be cancelled
// at once, killing it mid-call).
func TestManagerShutdownDrains(t *testing.T) {
	t.Parallel()
	m := openManager(t, exampleHome(t), ManagerOptions{HealthInterval: -1})
	pid := getPid(t, m, "kv")
	first := make(chan struct{})
	callErr := make(chan error, 1)
	var n atomic.Int32
	go func() {
		callErr <- m.CallStream(context.Background(), "kv", "Count", []byte(`{"n": 5, "intervalMs": 100}`), CallOptions{}, func([]byte) error {
			if n.Add(1) == 1 {
				close(first)
			}
			return nil
		})
	}()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("waited 20s for the first message of kv Count")
	}
	if err := m.Shutdown(ctxT(t, 20*time.Second)); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-callErr; err != nil || n.Load() != 5 {
		t.Errorf("call in flight at Shutdown: %d messages, %v; want 5, nil", n.Load(), err)
	}
	assertGone(t, pid)
}

// TestManagerShutdownIdle: with nothing in flight Shutdown returns nil and
// every process it launched is gone.
func TestManagerShutdownIdle(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1})
	pids := []int{getPid(t, m, "kv"), getPid(t, m, "hello")}
	if err := m.Shutdown(ctxT(t, 20*time.Second)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, pid := range pids {
		assertGone(t, pid)
	}
}

// TestManagerCallOptions: Manager.Call sends CallOptions' metadata.
func TestManagerCallOptions(t *testing.T) {
	t.Parallel()
	m := openManager(t, exampleHome(t), ManagerOptions{HealthInterval: -1})
	out, err := m.Call(ctxT(t, 20*time.Second), "kv", "Whoami", nil, CallOptions{Metadata: metadata.MD{"X-User": {"ann"}}})
	if err != nil || string(out) != `{"user":"ann"}` {
		t.Errorf("Whoami with x-user: %s, %v", out, err)
	}
	_, err = m.Call(ctxT(t, 20*time.Second), "kv", "Whoami", nil, CallOptions{})
	var me *MethodError
	if !errors.As(err, &me) || me.Code != codes.Unauthenticated {
		t.Errorf("Whoami without metadata: %v", err)
	}
}

// TestManagerLogger: the plugin's hclog lines reach the Launch options'
// Logger at their level, under the plugin's name.
func TestManagerLogger(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	m := openManager(t, exampleHome(t), ManagerOptions{HealthInterval: -1, Launch: Options{Logger: testLogger(&logged, hclog.Debug)}})
	if out, err := m.Call(ctxT(t, 20*time.Second), "hello", "Greet", nil, CallOptions{}); err != nil || string(out) != `"Hello!"` {
		t.Fatalf("hello Greet: %s, %v", out, err)
	}
	re := regexp.MustCompile(`(?m)^\[DEBUG\] hello\.hello: message from GreeterHello\.Greet`)
	for deadline := time.Now().Add(10 * time.Second); !re.MatchString(logged.String()); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for the plugin's debug line in the log:\n%s", logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// installExamples installs the example plugins built in dir into home:
// greeter 1.0.0 (active) and 2.0.0, kv 1.0.0, and hello 1.0.0 (go-plugin's
// net/rpc Greeter).
func installExamples(home store.Paths, dir string) error {
	for _, in := range []struct {
		bin, name, version string
		proto              store.Protocol
		active             bool
	}{
		{"greeter", "greeter", "1.0.0", store.Protocol{}, true},
		{"greeter-v2", "greeter", "2.0.0", store.Protocol{}, false},
		{"kv", "kv", "1.0.0", store.Protocol{Kind: store.KindGRPC}, true},
		{"greeter-netrpc", "hello", "1.0.0", store.Protocol{Kind: store.KindNetRPC, CookieKey: "BASIC_PLUGIN", CookieValue: "hello", Dispense: "greeter"}, true},
	} {
		if err := installFake(home, filepath.Join(dir, in.bin), in.name, in.version, in.proto, in.active); err != nil {
			return err
		}
	}
	return nil
}
