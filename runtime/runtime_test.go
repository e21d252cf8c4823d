package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Test plugins, built once in TestMain.
var (
	goodBin, rawBin, rpcBin string
	binSHA                  = map[string]string{}
	testProto               = filepath.Join("testdata", "plugins", "testsvc", "test.proto")
)

func TestMain(m *testing.M) {
	if os.Getenv("RUNTIME_TEST_HELPER") != "" {
		os.Exit(helperMain())
	}
	dir, err := os.MkdirTemp("", "runtime-test-plugins")
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./testdata/plugins/goodplugin", "./testdata/plugins/rawplugin", "./testdata/plugins/rpcplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test plugins:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goodBin, rawBin, rpcBin = filepath.Join(dir, "goodplugin"), filepath.Join(dir, "rawplugin"), filepath.Join(dir, "rpcplugin")
	for _, b := range []string{goodBin, rawBin, rpcBin} {
		binSHA[b], err = verify.FileSHA256(b)
		if err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the plugin's goroutines.
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

func specFor(t testing.TB, bin string) Spec {
	return Spec{
		Name:       "test",
		Version:    "1.0.0",
		Exe:        bin,
		SHA256:     binSHA[bin],
		RecordPath: filepath.Join(t.TempDir(), verify.RecordFile),
	}
}

// optsFor are launch options in a fresh home, with a logger at Warn: the
// buffer holds what it logged.
func optsFor(t testing.TB, env ...string) (Options, *syncBuffer) {
	home := store.Paths{Home: t.TempDir()}
	var logged syncBuffer
	return Options{Home: home, Logger: testLogger(&logged, hclog.Warn), Env: env}, &logged
}

func testLogger(w io.Writer, level hclog.Level) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: level, DisableTime: true})
}

// launch starts a plugin and, at the end of the test, closes it and checks
// that its process is gone.
func launch(t testing.TB, ctx context.Context, spec Spec, opt Options) *Plugin {
	t.Helper()
	p, err := Launch(ctx, spec, opt)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	pid := p.Pid()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertGone(t, pid)
		// go-plugin's socket directory is gone too.
		if opt.Home.Home != "" {
			assertNoSocketDirs(t, opt.Home)
		}
	})
	return p
}

// assertGone checks that no process has pid (reaped, not a zombie): for
// the plugin, our child.
func assertGone(t testing.TB, pid int) {
	t.Helper()
	waitGone(t, pid, false)
}

// assertDead checks that a grandchild is dead (a zombie left to init counts).
func assertDead(t testing.TB, pid int) {
	t.Helper()
	waitGone(t, pid, true)
}

func waitGone(t testing.TB, pid int, zombieOK bool) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no pid")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) || zombieOK && isZombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still exists (kill 0: %v)", pid, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isZombie: a dead grandchild is reparented to init, whose reaping is not
// ours to wait for (in a container it may never come).
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func call(ctx context.Context, p *Plugin, method, args string, co CallOptions) ([]string, error) {
	var out []string
	err := p.Call(ctx, method, []byte(args), co, func(b []byte) error {
		out = append(out, string(b))
		return nil
	})
	return out, err
}

func mustCall(t testing.TB, p *Plugin, method, args string, co CallOptions) []string {
	t.Helper()
	out, err := call(context.Background(), p, method, args, co)
	if err != nil {
		t.Fatalf("Call %s: %v", method, err)
	}
	return out
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestCallUnaryAndStreaming(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	if p.Protocol() != ProtocolGRPC {
		t.Fatalf("protocol %q", p.Protocol())
	}
	got := mustCall(t, p, "test.v1.Echo/Echo", `{"message":"hi","color":"RED","tags":["a","b"],"labels":{"k":"v"},"inner":{"note":"x","next":{"note":"y"}},"big":"7"}`, CallOptions{})
	if want := []string{`{"message":"hi","n":"2","color":"RED"}`}; !equal(got, want) {
		t.Errorf("unary: got %q, want %q", got, want)
	}
	got = mustCall(t, p, "Count", `{"n":3}`, CallOptions{})
	if want := []string{`{"n":"1"}`, `{"n":"2"}`, `{"n":"3"}`}; !equal(got, want) {
		t.Errorf("streaming: got %q, want %q", got, want)
	}
	// Empty argument: empty request; empty response renders as {}.
	got = mustCall(t, p, "Ping", "", CallOptions{})
	if want := []string{`{}`}; !equal(got, want) {
		t.Errorf("empty: got %q, want %q", got, want)
	}
	// An emit error ends a stream and comes back as is.
	stop := errors.New("stop")
	n := 0
	err := p.Call(context.Background(), "Count", []byte(`{"n":100}`), CallOptions{}, func([]byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("emit error: got %v after %d messages", err, n)
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// go-plugin's own services are callable by full name.
	got = mustCall(t, p, "grpc.health.v1.Health/Check", `{"service":"plugin"}`, CallOptions{})
	if want := []string{`{"status":"SERVING"}`}; !equal(got, want) {
		t.Errorf("health: got %q, want %q", got, want)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestMethodNames(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	for _, name := range []string{"Count", "Echo/Count", "test.v1.Echo/Count", "test.v1.Echo.Count", "/test.v1.Echo/Count", "v1.Echo/Count"} {
		if got := mustCall(t, p, name, `{"n":1}`, CallOptions{}); !equal(got, []string{`{"n":"1"}`}) {
			t.Errorf("%s: got %q", name, got)
		}
	}
	if got := mustCall(t, p, "Other/Echo", `{"message":"m"}`, CallOptions{}); !equal(got, []string{`{"message":"other: m"}`}) {
		t.Errorf("Other/Echo: got %q", got)
	}

	_, err := call(context.Background(), p, "Echo", `{}`, CallOptions{})
	if !errors.Is(err, ErrAmbiguousMethod) || !strings.Contains(err.Error(), "test.v1.Echo/Echo and test.v1.Other/Echo") {
		t.Errorf("ambiguous: %v", err)
	}
	_, err = call(context.Background(), p, "Cuont", `{}`, CallOptions{})
	var nf *NotFoundError
	if !errors.Is(err, ErrMethodNotFound) || !errors.As(err, &nf) || len(nf.Suggestions) == 0 || nf.Suggestions[0] != "test.v1.Echo/Count" {
		t.Errorf("misspelt: %v", err)
	}
	for _, name := range []string{"nope.Svc/Count", "test.v1.Echo/Nope", "Check"} {
		if _, err := call(context.Background(), p, name, `{}`, CallOptions{}); !errors.Is(err, ErrMethodNotFound) {
			t.Errorf("%s: want ErrMethodNotFound, got %v", name, err)
		}
	}
}

func TestMetadataAndErrors(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	got := mustCall(t, p, "Meta", "", CallOptions{Metadata: metadata.MD{"x-one": {"1", "2"}, "X-Two": {"b"}}})
	if want := []string{`{"metadata":["x-one=1,2","x-two=b"]}`}; !equal(got, want) {
		t.Errorf("metadata: got %q, want %q", got, want)
	}
	var ae *ArgError
	for _, k := range []string{"", "bad key", "grpc-timeout", "ü"} {
		_, err := call(context.Background(), p, "Meta", "", CallOptions{Metadata: metadata.MD{k: {"x"}}})
		if !errors.As(err, &ae) || !errors.Is(err, ErrBadMetadata) {
			t.Errorf("key %q: want *ArgError wrapping ErrBadMetadata, got %v", k, err)
		}
	}
	for _, arg := range []string{`{`, `{"nope":1}`, `{"color":"BLUE"}`, `[]`, `{"tags":"x"}`} {
		_, err := call(context.Background(), p, "test.v1.Echo/Echo", arg, CallOptions{})
		if !errors.As(err, &ae) || ae.Type != "test.v1.EchoRequest" {
			t.Errorf("arg %s: want *ArgError, got %v", arg, err)
		}
	}
	_, err := call(context.Background(), p, "Fail", `{"message":"k"}`, CallOptions{})
	var me *MethodError
	if !errors.As(err, &me) || me.Code != codes.NotFound || me.Message != "no such thing: k" || me.Method != "test.v1.Echo/Fail" {
		t.Errorf("Fail: %v", err)
	}
	// A call's own deadline: *PluginError wrapping DeadlineExceeded.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = call(ctx, p, "Sleep", `{"n":5000}`, CallOptions{})
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpCall || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	// The plugin survives its caller's timeout.
	mustCall(t, p, "Ping", "", CallOptions{})
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	d, err := p.Describe(context.Background(), CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDescription(t, d, SchemaReflection)
	b, _ := json.Marshal(d)
	for _, s := range []string{
		`"name":"test","version":"1.0.0","protocol":"grpc","schema":"reflection"`,
		`{"name":"Count","fullName":"test.v1.Echo/Count","request":"test.v1.CountRequest","response":"test.v1.EchoReply","clientStreaming":false,"serverStreaming":true,"kind":"server-streaming"}`,
		`{"name":"Chat","fullName":"test.v1.Echo/Chat","request":"test.v1.EchoRequest","response":"test.v1.EchoReply","clientStreaming":true,"serverStreaming":true,"kind":"bidirectional"}`,
		`{"name":"Collect","fullName":"test.v1.Echo/Collect","request":"test.v1.EchoRequest","response":"test.v1.EchoReply","clientStreaming":true,"serverStreaming":false,"kind":"client-streaming"}`,
		`{"name":"labels","jsonName":"labels","number":2,"type":"map","map":{"key":"string","value":"string"}}`,
		`{"name":"color","jsonName":"color","number":3,"type":"enum","enum":"test.v1.Color"}`,
		`{"name":"tags","jsonName":"tags","number":4,"type":"string","repeated":true}`,
		`{"name":"next","jsonName":"next","number":2,"type":"message","message":"test.v1.Inner"}`,
		`{"name":"big","jsonName":"big","number":6,"type":"int64","optional":true}`,
		`{"name":"a","jsonName":"a","number":7,"type":"string","oneof":"choice"}`,
		`"google.protobuf.Empty":{"fields":[]}`,
	} {
		if !strings.Contains(string(b), s) {
			t.Errorf("describe JSON lacks %s", s)
		}
	}
	if testing.Verbose() {
		var buf bytes.Buffer
		json.Indent(&buf, b, "", "  ")
		t.Logf("describe -o json:\n%s", buf.String())
	}
}

func checkDescription(t *testing.T, d *Description, source string) {
	t.Helper()
	if d.Schema != source {
		t.Errorf("schema source %q, want %q", d.Schema, source)
	}
	var names []string
	for _, s := range d.Services {
		names = append(names, s.Name)
	}
	if want := "test.v1.Echo,test.v1.Other"; strings.Join(names, ",") != want {
		t.Errorf("services %v, want %s (go-plugin's own left out)", names, want)
	}
	if _, ok := d.Messages["test.v1.Inner"]; !ok {
		t.Errorf("nested message test.v1.Inner missing")
	}
	if e := d.Enums["test.v1.Color"]; e == nil || len(e.Values) != 3 {
		t.Errorf("enum Color: %+v", e)
	}
}

// writeProtoset compiles test.proto into a FileDescriptorSet with imports.
func writeProtoset(t testing.TB) string {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{filepath.Dir(testProto)}})}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(files[0])
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test.protoset")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNoReflection(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	spec := specFor(t, rawBin)
	p := launch(t, ctxT(t, 30*time.Second), spec, opt)

	if err := p.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	_, err := call(context.Background(), p, "Count", `{"n":1}`, CallOptions{})
	if !errors.Is(err, ErrNoReflection) || !strings.Contains(err.Error(), ".proto files or a protoset") {
		t.Fatalf("without schema: %v", err)
	}
	protoset := writeProtoset(t)
	for name, co := range map[string]CallOptions{
		"proto":             {ProtoFiles: []string{testProto}},
		"proto+import-path": {ProtoFiles: []string{"test.proto"}, ImportPaths: []string{filepath.Dir(testProto)}},
		"protoset":          {Protoset: protoset},
	} {
		if got, err := call(context.Background(), p, "Count", `{"n":2}`, co); err != nil || !equal(got, []string{`{"n":"1"}`, `{"n":"2"}`}) {
			t.Errorf("%s: got %q, %v", name, got, err)
		}
		d, err := p.Describe(context.Background(), co)
		if err != nil {
			t.Fatalf("%s: describe: %v", name, err)
		}
		checkDescription(t, d, map[string]string{"proto": SchemaProto, "proto+import-path": SchemaProto, "protoset": SchemaProtoset}[name])
	}
	// The health service is served, and a schema names it.
	if got := mustCall(t, p, "Count", `{"n":1}`, CallOptions{ProtoFiles: []string{testProto}}); len(got) != 1 {
		t.Errorf("got %q", got)
	}

	// The spec's protoset (an index's protocol.schema), checked by hash.
	sum, _ := verify.FileSHA256(protoset)
	spec.Protoset, spec.ProtosetSHA256 = protoset, sum
	opt, _ = optsFor(t) // one plugin per home: the cleanup checks run/
	p2 := launch(t, ctxT(t, 30*time.Second), spec, opt)
	if got := mustCall(t, p2, "Other/Echo", `{"message":"x"}`, CallOptions{}); !equal(got, []string{`{"message":"other: x"}`}) {
		t.Errorf("spec protoset: got %q", got)
	}
	// Loaded once per Plugin, not read and hashed again at every call.
	if err := os.Rename(protoset, protoset+".moved"); err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, p2, "Other/Echo", `{"message":"y"}`, CallOptions{}); !equal(got, []string{`{"message":"other: y"}`}) {
		t.Errorf("spec protoset, second call: got %q", got)
	}
	if err := os.Rename(protoset+".moved", protoset); err != nil {
		t.Fatal(err)
	}
	spec.ProtosetSHA256 = strings.Repeat("0", 64)
	opt, _ = optsFor(t)
	p3 := launch(t, ctxT(t, 30*time.Second), spec, opt)
	var mm *verify.MismatchError
	if _, err := call(context.Background(), p3, "Count", `{}`, CallOptions{}); !errors.As(err, &mm) {
		t.Errorf("tampered protoset: %v", err)
	}
}

func TestHashMismatchNeverRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "plugin")
	copyFile(t, goodBin, exe)
	spec := specFor(t, goodBin)
	spec.Exe = exe
	// Verified once (the record is written), then replaced by another binary.
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), spec, opt)
	p.Close()
	copyFile(t, rawBin, exe)

	marker := filepath.Join(dir, "ran")
	opt.Env = []string{"TESTPLUGIN_MARKER=" + marker}
	_, err := Launch(ctxT(t, 30*time.Second), spec, opt)
	var mm *verify.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("want *verify.MismatchError, got %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the tampered binary ran")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		bin   string
		proto store.Protocol
		env   []string
		want  string
		panic string
	}{
		{name: "cookie", bin: goodBin, proto: store.Protocol{CookieValue: "other"},
			want: "plugin test: handshake failed: the plugin expects a different magic cookie (protocol.cookieKey/cookieValue in the index)"},
		{name: "cookie-raw", bin: rawBin, proto: store.Protocol{CookieKey: "OTHER_COOKIE"},
			want: "plugin test: handshake failed: the plugin expects a different magic cookie (protocol.cookieKey/cookieValue in the index)"},
		{name: "version", bin: goodBin, proto: store.Protocol{Versions: store.ProtocolVersions{2, 3}},
			want: "plugin test: handshake failed: incompatible API version: the plugin speaks protocol version 1, plugctl offered 2,3 (protocol.version in the index)"},
		{name: "kind", bin: goodBin, proto: store.Protocol{Kind: store.KindNetRPC},
			want: "plugin test: handshake failed: the plugin speaks grpc, but protocol.kind is netrpc"},
		{name: "unasked-cert", bin: rawBin, env: []string{"TESTPLUGIN_MODE=unasked-cert"},
			want: "plugin test: handshake failed: the plugin sent a TLS certificate although mtls is off"},
		{name: "panic", bin: goodBin, env: []string{"TESTPLUGIN_MODE=panic-start"},
			want: "plugin test: plugin exited before the handshake (exit status 2): panic: test plugin panics at start", panic: "panic: test plugin panics at start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := specFor(t, tc.bin)
			spec.Protocol = tc.proto
			opt, _ := optsFor(t, tc.env...)
			_, err := Launch(ctxT(t, 30*time.Second), spec, opt)
			var pe *PluginError
			if !errors.As(err, &pe) {
				t.Fatalf("want *PluginError, got %v", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", err.Error(), tc.want)
			}
			if pe.Panic != tc.panic {
				t.Errorf("panic line %q, want %q", pe.Panic, tc.panic)
			}
		})
	}
}

func TestNeverHandshakesKilledAtDeadline(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "pid")
	opt, _ := optsFor(t, "TESTPLUGIN_MODE=hang", "TESTPLUGIN_PIDFILE="+pidfile)
	// The deadline must come while Launch waits for the handshake, after
	// the process started: on a loaded machine (make check under -race, with
	// other jobs) starting it took longer than 700ms.
	const deadline = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := Launch(ctx, specFor(t, goodBin), opt)
	elapsed := time.Since(start)
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpHandshake || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want handshake *PluginError with DeadlineExceeded, got %v", err)
	}
	if elapsed > deadline+10*time.Second {
		t.Errorf("Launch took %v past a %v deadline", elapsed-deadline, deadline)
	}
	assertGone(t, readPid(t, pidfile))
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestPanicMidCall(t *testing.T) {
	t.Parallel()
	opt, stderr := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	start := time.Now()
	_, err := call(context.Background(), p, "Panic", "", CallOptions{})
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpCall {
		t.Fatalf("want *PluginError, got %v", err)
	}
	if pe.Panic != "panic: test plugin asked to panic" {
		t.Errorf("panic line %q", pe.Panic)
	}
	if err := p.Ping(context.Background()); !errors.As(err, &pe) {
		t.Errorf("Ping after crash: %v", err)
	}
	if want := "plugin test: crashed during test.v1.Echo/Panic (exit status 2): panic: test plugin asked to panic"; err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v", d)
	}
	// go-plugin logs the panic (at Error) to the host's logger.
	if !strings.Contains(stderr.String(), "panic: test plugin asked to panic") {
		t.Errorf("logged %q", stderr.String())
	}
	assertGone(t, p.Pid())
}

func TestCancelKillsPlugin(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := launch(t, ctx, specFor(t, goodBin), opt)
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	_, err := call(ctx, p, "Sleep", `{"n":10000}`, CallOptions{})
	var pe *PluginError
	if !errors.As(err, &pe) || !errors.Is(err, context.Canceled) {
		t.Errorf("want *PluginError wrapping Canceled, got %v", err)
	}
	// The process ends with ctx, before Close.
	assertGone(t, p.Pid())
}

func TestGrandchildHoldingPipes(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "pid")
	opt, _ := optsFor(t, "TESTPLUGIN_MODE=grandchild", "TESTPLUGIN_PIDFILE="+pidfile)
	t0 := time.Now()
	p, err := Launch(ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Launch took %v", time.Since(t0))
	mustCall(t, p, "Ping", "", CallOptions{})
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	} else {
		t.Logf("Close took %v", d)
	}
	assertGone(t, p.Pid())
	assertDead(t, readPid(t, pidfile))
}

// A grandchild in its own session escapes the group kill; it must not keep
// Close (or a failed start) waiting on the pipes it holds.
func TestSetsidGrandchildHoldingPipes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"grandchild-setsid", "grandchild-setsid,exit-start"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			pidfile := filepath.Join(t.TempDir(), "pid")
			opt, _ := optsFor(t, "TESTPLUGIN_MODE="+mode, "TESTPLUGIN_PIDFILE="+pidfile)
			start := time.Now()
			p, err := Launch(ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
			if err == nil {
				mustCall(t, p, "Ping", "", CallOptions{})
				start = time.Now()
				p.Close()
				assertGone(t, p.Pid())
			} else if !strings.Contains(err.Error(), "exited before the handshake (exit status 3)") {
				t.Errorf("Launch: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			// Not ours to leave behind: the test started it.
			gc := readPid(t, pidfile)
			_ = syscall.Kill(gc, syscall.SIGKILL)
		})
	}
}

func TestStdinIsDevNull(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/fd/0"); err != nil {
		t.Skip("no /proc")
	}
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	if got := mustCall(t, p, "Stdin", "", CallOptions{}); !equal(got, []string{`{"stdin":"/dev/null"}`}) {
		t.Errorf("plugin's stdin: %q", got)
	}
}

// TestNothingOnStdout runs a helper process that launches a plugin printing
// to stdout and stderr before and during a call, verbose, with a pipe as
// stdin: its stdout must hold only what it printed itself.
func TestNothingOnStdout(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNTIME_TEST_HELPER=1", "HELPER_EXE="+goodBin, "HELPER_SHA="+binSHA[goodBin], "HELPER_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader("our stdin\n")
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	if want := "result: {\"message\":\"quiet result\"}\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	for _, s := range []string{
		"noise on stderr before serving",
		"noise on os.Stdout during the call",
		"noise on os.Stderr during the call",
		"noise on fd 2 during the call",
	} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("verbose stderr lacks %q", s)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !logLine.MatchString(l) {
			t.Errorf("stderr line not logged under the plugin's name: %q", l)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("helper stderr:\n%s", stderr.String())
	}
}

// logLine is a line of testLogger's under the name of specFor's plugin.
var logLine = regexp.MustCompile(`^\[(TRACE|DEBUG|INFO|WARN|ERROR)\] +test[.:]`)

func helperMain() int {
	spec := Spec{Name: "test", Version: "1", Exe: os.Getenv("HELPER_EXE"), SHA256: os.Getenv("HELPER_SHA"),
		RecordPath: filepath.Join(os.Getenv("HELPER_HOME"), verify.RecordFile)}
	opt := Options{Home: store.Paths{Home: os.Getenv("HELPER_HOME")}, Logger: testLogger(os.Stderr, hclog.Debug),
		Env: []string{"TESTPLUGIN_MODE=stderr-before"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Launch(ctx, spec, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test: helper:", err)
		return 1
	}
	defer p.Close()
	err = p.Call(ctx, "Noisy", nil, CallOptions{}, func(b []byte) error {
		fmt.Printf("result: %s\n", b)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test: helper:", err)
		return 1
	}
	// Let the stdio stream deliver what was printed during the call.
	time.Sleep(200 * time.Millisecond)
	return 0
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	opt.MTLS = store.MTLSTrue
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	mustCall(t, p, "Ping", "", CallOptions{})
	certFile := filepath.Join(opt.Home.Run(), HostCertFile)
	fi, err := os.Stat(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host cert mode %v", fi.Mode())
	}
	before, _ := os.ReadFile(certFile)
	p.Close()

	p2 := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	mustCall(t, p2, "Ping", "", CallOptions{})
	after, _ := os.ReadFile(certFile)
	if !bytes.Equal(before, after) {
		t.Error("host certificate changed between launches")
	}

	// A plugin that does not speak go-plugin's mTLS.
	_, err = Launch(ctxT(t, 30*time.Second), specFor(t, rawBin), opt)
	var pe *PluginError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "sent no certificate") {
		t.Errorf("raw plugin with mtls: %v", err)
	}
}

func TestPlainTCPWarning(t *testing.T) {
	t.Parallel()
	opt, stderr := optsFor(t, "TESTPLUGIN_MODE=tcp")
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, rawBin), opt)
	if got := mustCall(t, p, "Ping", "", CallOptions{ProtoFiles: []string{testProto}}); !equal(got, []string{"{}"}) {
		t.Errorf("got %q", got)
	}
	if s := stderr.String(); !strings.HasPrefix(s, "[WARN]  test: the plugin listens on plain TCP (127.0.0.1:") || strings.Count(s, "\n") != 1 {
		t.Errorf("warning %q", s)
	}
}

// BenchmarkColdCallPhases splits a cold call (launch, connect, reflection,
// call, close) and reports each phase, plus what reading a protoset costs
// instead of the reflection round trips (what the reflection cache saves,
// roughly: runtime/doc.go).
func BenchmarkColdCallPhases(b *testing.B) {
	opt, _ := optsFor(b)
	spec := specFor(b, goodBin)
	protoset := writeProtoset(b)
	var launchD, connD, reflD, callD, closeD, psD time.Duration
	n := 0
	for b.Loop() {
		ctx := ctxT(b, 30*time.Second)
		t0 := time.Now()
		p := launch(b, ctx, spec, opt)
		tl := time.Now()
		// gRPC connects lazily: the first RPC pays for the connection.
		if err := p.conn.Invoke(ctx, "/grpc.health.v1.Health/Check", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := p.schemaFor(ctx, CallOptions{}, "Count"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		mustCall(b, p, "Count", `{"n":1}`, CallOptions{})
		t3 := time.Now()
		p.Close()
		t4 := time.Now()
		if _, err := readProtoset(protoset, ""); err != nil {
			b.Fatal(err)
		}
		psD += time.Since(t4)
		launchD += tl.Sub(t0)
		connD += t1.Sub(tl)
		reflD += t2.Sub(t1)
		callD += t3.Sub(t2)
		closeD += t4.Sub(t3)
		n++
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(per(launchD), "launch-ms")
	b.ReportMetric(per(connD), "connect-ms")
	b.ReportMetric(per(reflD), "reflection-ms")
	b.ReportMetric(per(callD), "call-ms")
	b.ReportMetric(per(closeD), "close-ms")
	b.ReportMetric(per(psD), "protoset-ms")
}

func TestNetRPC(t *testing.T) {
	t.Parallel()
	for _, mtls := range []store.MTLSMode{store.MTLSAuto, store.MTLSTrue} {
		t.Run(string(mtls), func(t *testing.T) {
			t.Parallel()
			opt, stderr := optsFor(t)
			opt.MTLS = mtls
			p := launch(t, ctxT(t, 30*time.Second), specFor(t, rpcBin), opt)
			if p.Protocol() != ProtocolNetRPC {
				t.Fatalf("protocol %q", p.Protocol())
			}
			if err := p.Ping(context.Background()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			for _, m := range []string{"Upper", "Plugin.Upper"} {
				if got := mustCall(t, p, m, `"hi"`, CallOptions{}); !equal(got, []string{`"HI"`}) {
					t.Errorf("%s: got %q", m, got)
				}
			}
			_, err := call(context.Background(), p, "Nope", `"x"`, CallOptions{})
			if !errors.Is(err, ErrMethodNotFound) {
				t.Errorf("unknown method: %v", err)
			}
			_, err = call(context.Background(), p, "Fail", `"x"`, CallOptions{})
			var me *MethodError
			if !errors.As(err, &me) || me.Message != "failed: x" || me.Method != "Plugin.Fail" {
				t.Errorf("Fail: %v", err)
			}
			_, err = call(context.Background(), p, "Upper", `{"$gob":"int","value":1}`, CallOptions{})
			var ae *ArgError
			if !errors.As(err, &ae) || !errors.Is(err, ErrGobType) {
				t.Errorf("bad argument: %v, want an *ArgError wrapping ErrGobType", err)
			}
			_, err = call(context.Background(), p, "Upper", `{"$gob":"nosuchtype","value":1}`, CallOptions{})
			if !errors.As(err, &ae) || !errors.Is(err, ErrGobType) {
				t.Errorf("bad $gob type: %v, want an *ArgError wrapping ErrGobType", err)
			}
			if _, err := p.Describe(context.Background(), CallOptions{}); !errors.Is(err, ErrUnsupported) {
				t.Errorf("describe: %v", err)
			}
			_, err = call(context.Background(), p, "Panic", `"x"`, CallOptions{})
			var pe *PluginError
			if !errors.As(err, &pe) || pe.Panic != "panic: net/rpc plugin asked to panic" {
				t.Errorf("panic: %v", err)
			}
			if !strings.Contains(stderr.String(), "panic: net/rpc plugin asked to panic") {
				t.Errorf("logged %q", stderr.String())
			}
		})
	}
}

func TestSpecFromReceipt(t *testing.T) {
	p := store.Paths{Home: "/h"}
	r := &store.Receipt{Name: "kv", Version: "1.2.0", Bin: "bin/kv", BinSHA256: "ab",
		Protocol: store.Protocol{Kind: store.KindGRPC, Schema: &store.Schema{Path: "schema/kv.protoset", SHA256: "cd"}}}
	s := SpecFromReceipt(p, r)
	want := Spec{Name: "kv", Version: "1.2.0", Exe: "/h/plugins/kv/1.2.0/pkg/bin/kv", SHA256: "ab",
		RecordPath: "/h/plugins/kv/1.2.0/.verified", Root: "/h", Protoset: "/h/plugins/kv/1.2.0/schema/kv.protoset", ProtosetSHA256: "cd",
		ReflectionCache: "/h/plugins/kv/1.2.0/.reflection.cache",
		Steering:        []string{"/h/plugins/kv/1.2.0/receipt.json", "/h/config.yaml", "/h/plugins/kv/1.2.0/.reflection.cache", "/h/plugins/kv/1.2.0/schema/kv.protoset"}}
	got := s
	got.Protocol = store.Protocol{}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if s.Protocol.Dispense != "kv" || s.Protocol.CookieKey != "PLUGCTL_PLUGIN" || s.Protocol.MTLS != store.MTLSAuto {
		t.Errorf("defaults not applied: %+v", s.Protocol)
	}
}

func TestWouldNotStart(t *testing.T) {
	t.Parallel()
	exe := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(exe, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, _ := verify.FileSHA256(exe)
	spec := specFor(t, exe)
	spec.SHA256 = sum
	opt, _ := optsFor(t)
	_, err := Launch(ctxT(t, 30*time.Second), spec, opt)
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Op != OpStart || !strings.Contains(err.Error(), "would not start") || !errors.Is(err, os.ErrPermission) {
		t.Errorf("got %v", err)
	}
}

// A launch cancelled before its process starts leaves no socket directory:
// go-plugin's Kill removes it only once a process has started.
func TestCancelBeforeStartLeavesNoSocketDir(t *testing.T) {
	opt, _ := optsFor(t)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		afterCheckHook = cancel // between the checks and go-plugin's start
		_, err := Launch(ctx, specFor(t, goodBin), opt)
		afterCheckHook = nil
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Launch: %v, want context.Canceled", err)
		}
	}
	assertNoSocketDirs(t, opt.Home)
}

// assertNoSocketDirs checks that no plugin socket directory is left in
// home's run/.
func assertNoSocketDirs(t testing.TB, home store.Paths) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(home.Run(), "plugin-dir*"))
	if len(left) > 0 {
		t.Errorf("left in run/: %v", left)
	}
}

// CloseAtExit kills the whole group and removes the socket directory
// without asking the plugin to exit: a grandchild in the group dies too,
// and a second Close does nothing more.
func TestCloseAtExit(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "pid")
	opt, _ := optsFor(t, "TESTPLUGIN_MODE=grandchild", "TESTPLUGIN_PIDFILE="+pidfile)
	p, err := Launch(ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, p, "Ping", "", CallOptions{})
	if p.socketDir == "" {
		t.Fatal("Launch recorded no socket directory")
	}
	p.CloseAtExit()
	if _, err := os.Stat(p.socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory %s: %v", p.socketDir, err)
	}
	assertNoSocketDirs(t, opt.Home)
	assertDead(t, p.Pid())
	assertDead(t, readPid(t, pidfile))
	_ = p.Close()
	if _, err := call(context.Background(), p, "Ping", "", CallOptions{}); err == nil {
		t.Error("a call after CloseAtExit succeeded")
	}
}

// With the plugin's output shown, CloseAtExit lets it drain: what the
// plugin wrote to its stderr during the call is all there once it returns.
// (What a Go plugin writes to os.Stderr travels over go-plugin's stdio
// stream instead, from a goroutine of the plugin's: a line still inside the
// plugin when it is killed is lost, so the test waits for that one first;
// docs/host-library.md says so.)
func TestCloseAtExitDrainsShownOutput(t *testing.T) {
	t.Parallel()
	opt, stderr := optsFor(t)
	opt.Logger = testLogger(stderr, hclog.Debug)
	p, err := Launch(ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, p, "Noisy", "", CallOptions{})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "noise on os.Stderr during the call"); {
		if time.Now().After(deadline) {
			t.Fatalf("the os.Stderr line never came over go-plugin's stdio stream:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.CloseAtExit()
	if want := "noise on fd 2 during the call"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	assertGone(t, p.Pid())
	assertNoSocketDirs(t, opt.Home)
}
