package rpcwire_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/runtime/internal/rpcwire"
)

var binDir string

// TestMain builds the example plugins once for the whole package.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rpcwire-plugins")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/plugctl/plugctl/testdata/plugins/greeter-netrpc",
		"github.com/plugctl/plugctl/testdata/plugins/kv-netrpc",
		"github.com/plugctl/plugctl/testdata/plugins/negotiated",
		"github.com/plugctl/plugctl/testdata/plugins/toolbox-netrpc",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test plugins:", err)
		return 1
	}
	return m.Run()
}

var (
	basic   = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"}
	plugctl = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PLUGCTL_PLUGIN", MagicCookieValue: "plugctl"}
)

type launch struct {
	bin      string
	hs       plugin.HandshakeConfig
	versions []int // VersionedPlugins, if set
	dir      string
	opts     rpcwire.Options
}

// start launches a plugin with go-plugin's own client, dials the address
// it reports and opens an rpcwire session on it.
func start(t *testing.T, l launch) (*rpcwire.Client, *plugin.Client) {
	t.Helper()
	pc, conn := startConn(t, l)
	c, err := rpcwire.NewWithOptions(conn, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, pc
}

// startConn launches a plugin with go-plugin's own client and dials the
// address it reports.
func startConn(t *testing.T, l launch) (*plugin.Client, net.Conn) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, l.bin))
	cmd.Dir = l.dir
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  l.hs,
		Plugins:          map[string]plugin.Plugin{},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           hclog.NewNullLogger(),
	}
	if l.versions != nil {
		cfg.Plugins = nil
		cfg.VersionedPlugins = map[int]plugin.PluginSet{}
		for _, v := range l.versions {
			cfg.VersionedPlugins[v] = plugin.PluginSet{}
		}
	}
	pc := plugin.NewClient(cfg)
	t.Cleanup(pc.Kill)
	addr, err := pc.Start()
	if err != nil {
		t.Fatalf("starting %s: %v", l.bin, err)
	}
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return pc, conn
}

func call(t *testing.T, c *rpcwire.Client, dispense, method, args string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	out, err := c.Call(ctx, dispense, method, []byte(args))
	if err != nil {
		t.Fatalf("%s.%s(%s): %v", dispense, method, args, err)
	}
	return string(out)
}

func TestGreeter(t *testing.T) {
	c, _ := start(t, launch{bin: "greeter-netrpc", hs: basic})
	for _, args := range []string{"", "null"} {
		if got := call(t, c, "greeter", "Greet", args); got != `"Hello!"` {
			t.Errorf("Greet(%q) = %s, want \"Hello!\"", args, got)
		}
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestKV(t *testing.T) {
	dir := t.TempDir()
	c, _ := start(t, launch{bin: "kv-netrpc", hs: basic, dir: dir})
	put := `{"$gob": "map[string]interface{}", "value": {"key": "hello", "value": {"$gob": "[]byte", "value": "` +
		base64.StdEncoding.EncodeToString([]byte("world")) + `"}}}`
	if got := call(t, c, "kv", "Put", put); got != "null" {
		t.Errorf("Put = %s, want null", got)
	}
	got := call(t, c, "kv", "Get", `"hello"`)
	want := `"` + base64.StdEncoding.EncodeToString([]byte("world\n\nWritten from plugin-go-netrpc")) + `"`
	if got != want {
		t.Errorf("Get = %s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "kv_hello")); err != nil {
		t.Errorf("the plugin did not write its file: %v", err)
	}
	// Without the explicit form the map is inferred as a struct, which the
	// plugin cannot decode into map[string]interface{}.
	_, err := c.Call(testCtx(t), "kv", "Put", []byte(`{"Key":"a"}`))
	var ae *rpcwire.ArgError
	if !errors.As(err, &ae) || ae.Expected != "map[string]interface {}" {
		t.Errorf("Put with an object: got %v, want an ArgError expecting map[string]interface {}", err)
	}
}

func TestNegotiatedNetRPC(t *testing.T) {
	dir := t.TempDir()
	c, _ := start(t, launch{bin: "negotiated", hs: basic, versions: []int{2}, dir: dir})
	call(t, c, "kv", "Put", `{"$gob":"map[string]interface{}","value":{"key":"k","value":{"$gob":"[]byte","value":"eA=="}}}`)
	got := call(t, c, "kv", "Get", `"k"`)
	want := `"` + base64.StdEncoding.EncodeToString([]byte("x\n\nWritten from plugin version 2\nRead by plugin version 2\n")) + `"`
	if got != want {
		t.Errorf("Get = %s, want %s", got, want)
	}
}

func TestToolbox(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	tests := []struct{ method, args, want string }{
		{"Upper", `"hello"`, `"HELLO"`},
		{"Bytes", `"hi"`, `"aGk="`},
		{"Describe", `{"Name":"Ann","Age":30,"Tags":["a","b"],"Meta":{"$gob":"map[string]string","value":{"y":"2","x":"1"}}}`,
			`{"Greeting":"Hello, Ann!","Adult":true,"TagCount":2,"MetaKeys":["x","y"],"Person":{"Name":"Ann","Age":30,"Tags":["a","b"],"Meta":{"x":"1","y":"2"}}}`},
		{"Describe", `{"Name":"Kid"}`,
			`{"Greeting":"Hello, Kid!","Adult":false,"TagCount":0,"MetaKeys":null,"Person":{"Name":"Kid","Age":0,"Tags":null,"Meta":null}}`},
		{"Sum", `[1,2,3,4]`, `10`},
		{"Sum", `{"$gob":"[]int","value":[]}`, `0`},
		{"Counter", `{"$gob":"uint","value":5}`, `5`},
		{"Counter", `{"$gob":"uint","value":2}`, `7`},
		{"Echo", `{"$gob":"interface{}","value":[1,2]}`, `[1,2]`},
		{"Echo", `null`, `null`},
	}
	for _, tt := range tests {
		if got := call(t, c, "toolbox", tt.method, tt.args); got != tt.want {
			t.Errorf("%s(%s) = %s, want %s", tt.method, tt.args, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	ctx := testCtx(t)

	_, err := c.Call(ctx, "toolbox", "Nope", nil)
	if !errors.Is(err, rpcwire.ErrUnknownMethod) || !strings.Contains(err.Error(), "rpc: can't find method Plugin.Nope") {
		t.Errorf("unknown method: %v", err)
	}
	_, err = c.Call(ctx, "nope", "Upper", []byte(`"x"`))
	if !errors.Is(err, rpcwire.ErrUnknownPlugin) || !strings.Contains(err.Error(), "unknown plugin type: nope") {
		t.Errorf("unknown plugin: %v", err)
	}

	_, err = c.Call(ctx, "toolbox", "Fail", []byte(`{"$gob":"interface{}","value":"why"}`))
	var me *rpcwire.MethodError
	if !errors.As(err, &me) || me.Method != "Plugin.Fail" || me.Message != "boom: why" {
		t.Errorf("Fail: %v", err)
	}

	argTests := []struct{ method, args, expected, given, hint string }{
		{"Upper", `5`, "string", "int", `{"$gob": "string"`},
		{"Counter", `5`, "uint", "int", `{"$gob": "uint"`},
		{"Fail", `"why"`, "interface {}", "string", `{"$gob": "interface{}"`},
		{"Sum", `["a"]`, "[]int", "[]string", `{"$gob": "[]int"`},
		{"Sum", `[]`, "[]int", "[]interface {}", `{"$gob": "[]int"`},
		{"Describe", `{"Nickname":"x"}`, "Person", "", "exported Go field names"},
		{"Describe", `"x"`, "main.Person", "", "exported Go field names"},
	}
	for _, tt := range argTests {
		_, err := c.Call(ctx, "toolbox", tt.method, []byte(tt.args))
		t.Logf("%s(%s): %v", tt.method, tt.args, err)
		var ae *rpcwire.ArgError
		if !errors.As(err, &ae) || ae.Expected != tt.expected || (tt.given != "" && ae.Given != tt.given) ||
			!strings.Contains(err.Error(), tt.hint) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s(%s): got %v, want an ArgError expecting %s given %s with hint %q", tt.method, tt.args, err, tt.expected, tt.given, tt.hint)
		}
	}
	_, err = c.Call(ctx, "toolbox", "Describe", []byte(`{"Name":5}`))
	t.Logf("Describe({\"Name\":5}): %v", err)
	if ae := (*rpcwire.ArgError)(nil); !errors.As(err, &ae) || ae.Field != "Name" || ae.Expected != "string" ||
		!strings.Contains(ae.Error(), `"Name": {"$gob": "string"`) {
		t.Errorf("field of the wrong type: %v", err)
	}
	_, err = c.Call(ctx, "toolbox", "Upper", []byte(`{"$gob":"int8","value":300}`))
	var ae *rpcwire.ArgError
	if !errors.As(err, &ae) || ae.Err == nil {
		t.Errorf("unencodable argument: %v", err)
	}

	// The session survives all of the above.
	if got := call(t, c, "toolbox", "Upper", `"still here"`); got != `"STILL HERE"` {
		t.Errorf("after errors: %s", got)
	}
}

func TestPanicLosesConnection(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	call(t, c, "toolbox", "Upper", `"x"`)
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	begin := time.Now()
	_, err := c.Call(ctx, "toolbox", "Panic", nil)
	if !errors.Is(err, rpcwire.ErrConnLost) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Panic: %v, want ErrConnLost", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("took %v to notice the crash", d)
	}
	if _, err := c.Call(ctx, "toolbox", "Upper", []byte(`"x"`)); err == nil {
		t.Error("call after the crash succeeded")
	}
	if err := c.Ping(ctx); err == nil {
		t.Error("Ping after the crash succeeded")
	}
}

func TestDeadline(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := c.Call(ctx, "toolbox", "Sleep", []byte(`5000`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("deadline honoured after %v", d)
	}
	// The timed-out stream is dropped; the next call dispenses a new one.
	if got := call(t, c, "toolbox", "Sleep", `1`); got != "1" {
		t.Errorf("Sleep after timeout = %s", got)
	}
}

func TestQuitAndClose(t *testing.T) {
	c, pc := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	call(t, c, "toolbox", "Counter", `{"$gob":"uint","value":3}`)
	// Close must not stop the plugin: a second session sees the same state.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(testCtx(t), "toolbox", "Upper", []byte(`"x"`)); !errors.Is(err, rpcwire.ErrClosed) {
		t.Errorf("call on a closed client: %v, want ErrClosed", err)
	}
	conn, err := net.Dial(pc.ReattachConfig().Addr.Network(), pc.ReattachConfig().Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := rpcwire.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := call(t, c2, "toolbox", "Counter", `{"$gob":"uint","value":1}`); got != "4" {
		t.Errorf("Counter after reconnecting = %s, want 4 (the plugin kept running)", got)
	}
	if err := c2.Quit(testCtx(t)); err != nil {
		t.Errorf("Quit: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !pc.Exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !pc.Exited() {
		t.Error("the plugin did not exit after Quit")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOutputStreams(t *testing.T) {
	var stdout, stderr syncBuffer
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl, opts: rpcwire.Options{Stdout: &stdout, Stderr: &stderr}})
	call(t, c, "toolbox", "Print", `"ping"`)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (!strings.Contains(stdout.String(), "stdout: ping") || !strings.Contains(stderr.String(), "stderr: ping")) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "stdout: ping") || !strings.Contains(stderr.String(), "stderr: ping") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestConcurrentCalls(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf(`"W%d"`, i)
			for range 20 {
				out, err := c.Call(testCtx(t), "toolbox", "Upper", []byte(fmt.Sprintf(`"w%d"`, i)))
				if err != nil || string(out) != want {
					t.Errorf("got %s, %v; want %s", out, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// testCtx bounds every call a test makes.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// BenchmarkCall measures one call on a warm session (the plugin running,
// the stream dispensed): what a reattached call costs beyond the dial.
func BenchmarkCall(b *testing.B) {
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugctl,
		Plugins:          map[string]plugin.Plugin{},
		Cmd:              exec.Command(filepath.Join(binDir, "toolbox-netrpc")),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           hclog.NewNullLogger(),
	})
	defer pc.Kill()
	addr, err := pc.Start()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, method, args string }{
		{"Upper", "Upper", `"hello"`},
		{"Describe", "Describe", `{"Name":"Ann","Age":30,"Tags":["a","b"],"Meta":{"$gob":"map[string]string","value":{"k":"v"}}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial(addr.Network(), addr.String())
			if err != nil {
				b.Fatal(err)
			}
			c, err := rpcwire.New(conn)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Call(ctx, "toolbox", bc.method, []byte(bc.args)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("NewSessionAndCall", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			conn, err := net.Dial(addr.Network(), addr.String())
			if err != nil {
				b.Fatal(err)
			}
			c, err := rpcwire.New(conn)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Call(ctx, "toolbox", "Upper", []byte(`"x"`)); err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
}

// TestDeadlineWhileWaiting: a call queued behind a slow one gives up at
// its own deadline, and the slow call is not disturbed.
func TestDeadlineWhileWaiting(t *testing.T) {
	c, _ := start(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	call(t, c, "toolbox", "Upper", `"x"`)
	done := make(chan string)
	go func() {
		out, err := c.Call(testCtx(t), "toolbox", "Sleep", []byte(`700`))
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(out)
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, "toolbox", "Upper", []byte(`"y"`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queued call: %v, want DeadlineExceeded", err)
	}
	if got := <-done; got != "700" {
		t.Errorf("slow call: %s", got)
	}
}

// heldCloseConn holds Close until release is closed. yamux's Session.Close
// closes its shutdown channel, then the connection, then waits for its
// receive loop: holding the connection's Close holds the session in the
// window where a reader of an idle stream used to spin.
type heldCloseConn struct {
	net.Conn
	once    sync.Once
	closing chan struct{}
	release chan struct{}
}

func (c *heldCloseConn) Close() error {
	c.once.Do(func() { close(c.closing) })
	<-c.release
	return c.Conn.Close()
}

// cpuTime is the CPU time (user and system) this test process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCloseDoesNotSpin: while the session closes, the goroutines draining
// the plugin's stdout and stderr streams must not busy-wait (they did, on
// yamux's closed shutdown channel, until the receive loop ended: about 8%
// of a warm plugctl call's CPU). Not parallel: CPU time is the process's.
func TestCloseDoesNotSpin(t *testing.T) {
	var stdout syncBuffer
	_, conn := startConn(t, launch{bin: "toolbox-netrpc", hs: plugctl})
	hc := &heldCloseConn{Conn: conn, closing: make(chan struct{}), release: make(chan struct{})}
	c, err := rpcwire.NewWithOptions(hc, rpcwire.Options{Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}
	call(t, c, "toolbox", "Print", `"before close"`)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stdout.String(), "before close") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case <-hc.closing:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not close the connection")
	}
	const window = 200 * time.Millisecond
	before := cpuTime(t)
	time.Sleep(window)
	used := cpuTime(t) - before
	close(hc.release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the connection closed")
	}
	// A spinning reader keeps a core busy for the whole window; an idle
	// process uses a few milliseconds at most.
	if used > window/2 {
		t.Errorf("%v of CPU used in %v while the session was closing: a reader is spinning", used, window)
	}
	if !strings.Contains(stdout.String(), "before close") {
		t.Errorf("stdout %q: output synced before Close was lost", stdout.String())
	}
}
