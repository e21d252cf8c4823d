//go:build unix

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/plugctl/plugctl/internal/keepwire"
	"github.com/plugctl/plugctl/store"
)

// keep runs Keep for name@1.0.0 of home until the test ends and returns
// the started plugin once its keeper listens.
func keep(t testing.TB, home store.Paths, name string) (*StartedPlugin, *store.Receipt, func(time.Duration) (error, bool)) {
	t.Helper()
	st := startedTB(t, home, name)
	r, err := home.ReadReceipt(name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var kerr error
	go func() { kerr = Keep(ctx, home, r, Options{Home: home}); close(done) }()
	// wait waits at most d for Keep to return, and returns its error.
	wait := func(d time.Duration) (error, bool) {
		select {
		case <-done:
			return kerr, true
		case <-time.After(d):
			return nil, false
		}
	}
	t.Cleanup(func() {
		cancel()
		if _, ok := wait(5 * time.Second); !ok {
			t.Error("Keep did not return after its context ended")
		}
	})
	// Ready when it answers: its socket file exists from bind, before
	// listen, and a busy machine can run a call in between.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, err := keepwire.Dial(keeperSocket(home, st)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no keeper answers on %s", keeperSocket(home, st))
		}
	}
	return st, r, wait
}

type outcome struct {
	docs []string
	err  error
}

func kept(t *testing.T, home store.Paths, st *StartedPlugin, r *store.Receipt, method, args string) outcome {
	t.Helper()
	var o outcome
	used, err := st.CallKeeper(ctxT(t, 20*time.Second), home, r, method, []byte(args), CallOptions{}, func(doc []byte) error {
		o.docs = append(o.docs, string(doc))
		return nil
	})
	if !used {
		t.Fatalf("CallKeeper %s: the keeper was not used", method)
	}
	o.err = err
	return o
}

func direct(t *testing.T, home store.Paths, r *store.Receipt, method, args string) outcome {
	t.Helper()
	p, attached, err := AttachReceipt(ctxT(t, 20*time.Second), home, r, Options{Home: home})
	if err != nil || !attached {
		t.Fatalf("AttachReceipt: %v %v", attached, err)
	}
	defer p.Close()
	var o outcome
	o.err = p.Call(ctxT(t, 20*time.Second), method, []byte(args), CallOptions{}, func(doc []byte) error {
		o.docs = append(o.docs, string(doc))
		return nil
	})
	return o
}

// A call through the keeper returns what a call on the attached plugin
// returns: the same documents, and errors of the same types, wrapping the
// same sentinels, with the same text (the CLI's exit codes and hints come
// from them).
func TestKeeperCallsAsAttached(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	cases := map[string][][2]string{
		"kv": {
			{"Put", `{"key": "k", "value": "MQ=="}`},
			{"Get", `{"key": "k"}`},
			{"Get", `{"key": "missing"}`}, // the plugin's error: *MethodError
			{"Nope", `{}`},                // ErrMethodNotFound
			{"Put", `{"bad": 1}`},         // *ArgError
			{"Put", ``},                   // no argument: an empty request
		},
		"hello": {
			{"Greet", ``},
			{"Nope", ``},
			{"Greet", `{"$gob": "nosuch", "value": 1}`},
		},
	}
	for name, calls := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, r, _ := keep(t, home, name)
			for _, c := range calls {
				got, want := kept(t, home, st, r, c[0], c[1]), direct(t, home, r, c[0], c[1])
				if !reflect.DeepEqual(got.docs, want.docs) {
					t.Errorf("%s %s: documents %q through the keeper, %q attached", c[0], c[1], got.docs, want.docs)
				}
				if (got.err == nil) != (want.err == nil) {
					t.Fatalf("%s %s: error %v through the keeper, %v attached", c[0], c[1], got.err, want.err)
				}
				if want.err == nil {
					continue
				}
				if got.err.Error() != want.err.Error() {
					t.Errorf("%s %s: error text\n %q through the keeper\n %q attached", c[0], c[1], got.err, want.err)
				}
				for _, target := range []any{new(*MethodError), new(*ArgError), new(*PluginError)} {
					if errors.As(got.err, target) != errors.As(want.err, target) {
						t.Errorf("%s %s: errors.As(%T) differs: %v through the keeper, %v attached", c[0], c[1], target, got.err, want.err)
					}
				}
				for s := range keptSentinels {
					if errors.Is(got.err, keptSentinels[s]) != errors.Is(want.err, keptSentinels[s]) {
						t.Errorf("%s %s: errors.Is(%s) differs", c[0], c[1], s)
					}
				}
			}
		})
	}
}

// No keeper, a keeper of another binary's process, and the plugin
// stopping: CallKeeper says when it was not used, and the keeper ends with
// its plugin, its socket removed.
func TestKeeperLifecycle(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	st := startedTB(t, home, "hello")
	r, err := home.ReadReceipt("hello", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if used, err := st.CallKeeper(ctxT(t, 5*time.Second), home, r, "Greet", nil, CallOptions{}, func([]byte) error { return nil }); used || err != nil {
		t.Fatalf("CallKeeper without a keeper = %v, %v; want not used", used, err)
	}
	if k := st.Keeper(home); k != "" {
		t.Fatalf("Keeper without a keeper = %q, want none", k)
	}

	st, r, wait := keep(t, home, "kv")
	if k := st.Keeper(home); k != keeperSocket(home, st) || k == "" {
		t.Fatalf("Keeper = %q, want %q", k, keeperSocket(home, st))
	}
	// A second keeper for the same plugin (two starts at once) steps aside
	// and leaves the first one's socket in place.
	if err := Keep(ctxT(t, 5*time.Second), home, r, Options{Home: home}); err != nil {
		t.Fatalf("second Keep: %v", err)
	}
	if used, err := st.CallKeeper(ctxT(t, 5*time.Second), home, r, "Put", []byte(`{"key": "k", "value": "MQ=="}`), CallOptions{}, func([]byte) error { return nil }); !used || err != nil {
		t.Fatalf("CallKeeper after a second keeper = %v, %v; want the first keeper used", used, err)
	}
	// Arguments too large for one request go by attaching.
	if used, _ := st.CallKeeper(ctxT(t, 5*time.Second), home, r, "Put", make([]byte, keepwire.MaxRequest/2+1), CallOptions{}, func([]byte) error { return nil }); used {
		t.Fatal("CallKeeper took arguments larger than a keeper request")
	}
	other := *r
	other.BinSHA256 = strings.Repeat("0", 64)
	if used, _ := st.CallKeeper(ctxT(t, 5*time.Second), home, &other, "Get", nil, CallOptions{}, func([]byte) error { return nil }); used {
		t.Fatal("CallKeeper for another binary used the keeper")
	}
	// The keeper makes the same checks itself, whatever a caller checked:
	// another target, or a receipt that names another binary, is declined
	// before anything runs.
	declined := func(target string) bool {
		t.Helper()
		c, err := keepwire.Dial(keeperSocket(home, st))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ran := false
		err = keepwire.Call(ctxT(t, 5*time.Second), c, keepwire.Request{Target: target, Method: "Get", Args: rawJSON(`{"key": "k"}`)}, func([]byte) error { ran = true; return nil })
		var d *keepwire.DeclinedError
		if errors.As(err, &d) == ran {
			t.Fatalf("keeper call for %s: ran %v, error %v", target, ran, err)
		}
		return !ran
	}
	if declined("kv@1.0.0") {
		t.Fatal("the keeper declined its own target")
	}
	if !declined("kv@2.0.0") {
		t.Error("the keeper served another version")
	}
	rf := home.ReceiptFile("kv", "1.0.0")
	orig, err := os.ReadFile(rf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rf, []byte(strings.ReplaceAll(string(orig), r.BinSHA256, strings.Repeat("0", 64))), 0o644); err != nil {
		t.Fatal(err)
	}
	if !declined("kv@1.0.0") {
		t.Error("the keeper served a plugin whose receipt names another binary")
	}
	if err := os.WriteFile(rf, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Stop(context.Background(), home, "kv", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	err, ok := wait(5 * time.Second)
	if !ok {
		t.Fatal("Keep still runs after its plugin stopped")
	}
	if err != nil {
		t.Errorf("Keep after its plugin stopped = %v, want nil", err)
	}
	if _, err := os.Stat(keeperSocket(home, st)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("keeper socket after stop: %v", err)
	}
	if k := st.Keeper(home); k != "" {
		t.Errorf("Keeper after stop = %q, want none", k)
	}
}

// Errors the keeper carries keep their type, fields, sentinels and text: a
// timeout is still a *PluginError wrapping context.DeadlineExceeded (exit 5,
// "raise --timeout").
func TestKeptErrorRoundTrip(t *testing.T) {
	for _, err := range []error{
		&PluginError{Name: "kv", Op: OpCall, Err: fmt.Errorf("call proto.KV/Get: %w", context.DeadlineExceeded), Panic: "panic: boom"},
		&MethodError{Method: "proto.KV/Get", Code: codes.NotFound, Message: "no such key"},
		&ArgError{Method: "Plugin.Greet", Type: "string", Err: errors.New("gob: want a string")},
		&ArgError{Err: &withSentinel{errors.New("argument for Plugin.Upper: the plugin expects string but got int"), ErrGobType}},
		fmt.Errorf("plugin kv has no method Nope: %w", ErrMethodNotFound),
		fmt.Errorf("%w: Get is in proto.KV and proto.Other", ErrAmbiguousMethod),
	} {
		b, jerr := json.Marshal(encodeKeptError(err))
		if jerr != nil {
			t.Fatal(jerr)
		}
		var ke keepwire.Error
		if jerr := json.Unmarshal(b, &ke); jerr != nil {
			t.Fatal(jerr)
		}
		got := keptError("kv", &ke)
		if got.Error() != err.Error() {
			t.Errorf("text %q, want %q", got, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(err) && !strings.HasPrefix(reflect.TypeOf(err).String(), "*fmt.") {
			t.Errorf("type %T, want %T", got, err)
		}
		for name, s := range keptSentinels {
			if errors.Is(got, s) != errors.Is(err, s) {
				t.Errorf("%v: errors.Is(%s) = %v, want %v", err, name, errors.Is(got, s), errors.Is(err, s))
			}
		}
	}
}

// BenchmarkKeptCall is a call of a started plugin through its keeper, as a
// warm `plugctl call` makes it: connect, one request, the reply.
func BenchmarkKeptCall(b *testing.B) {
	home := exampleHome(b)
	for _, tc := range []struct{ name, method, args string }{{"hello", "Greet", ""}, {"kv", "Get", `{"key": "k"}`}} {
		b.Run(tc.name, func(b *testing.B) {
			st, r, _ := keep(b, home, tc.name)
			if tc.name == "kv" {
				if _, err := st.CallKeeper(context.Background(), home, r, "Put", []byte(`{"key": "k", "value": "MQ=="}`), CallOptions{}, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < b.N; i++ {
				used, err := st.CallKeeper(context.Background(), home, r, tc.method, []byte(tc.args), CallOptions{}, func([]byte) error { return nil })
				if !used || err != nil {
					b.Fatalf("CallKeeper: %v %v", used, err)
				}
			}
		})
	}
}

func rawJSON(s string) *json.RawMessage {
	r := json.RawMessage(s)
	return &r
}

// The keeper's socket is run/NAME@VERSION.sock (removed by that name with
// the version), unless that path is too long for a unix socket: then k<pid>
// beside the plugin's own socket (which Launch keeps short); for a plugin on
// TCP, k<pid> in the private directory Start made when run/ is too deep,
// else none.
func TestKeeperSocket(t *testing.T) {
	short := store.Paths{Home: "/h"}
	long := store.Paths{Home: "/" + strings.Repeat("d", 100)}
	st := &StartedPlugin{Name: "kv", Version: "1.0.0", Pid: 42, Network: "unix", Address: "/tmp/sock-dir/plugin1"}
	if got := keeperSocket(short, st); got != "/h/run/kv@1.0.0.sock" {
		t.Errorf("short home: %q", got)
	}
	if got := keeperSocket(long, st); got != "/tmp/sock-dir/k42" {
		t.Errorf("long home: %q", got)
	}
	tcp := *st
	tcp.Network, tcp.Address = "tcp", "127.0.0.1:1234"
	if got := keeperSocket(short, &tcp); got != "/h/run/kv@1.0.0.sock" {
		t.Errorf("tcp: %q", got)
	}
	if got := keeperSocket(long, &tcp); got != "" {
		t.Errorf("tcp, long home, no socket directory: %q", got)
	}
	tcp.SocketDir = "/tmp/sock-dir"
	if got := keeperSocket(long, &tcp); got != "/tmp/sock-dir/k42" {
		t.Errorf("tcp, long home: %q", got)
	}
}

// A caller that connects and says nothing is dropped after
// keptRequestTimeout, and the keeper goes on serving.
func TestKeeperDropsSilentCaller(t *testing.T) {
	// Restored after the keeper has stopped (cleanups run last first).
	saved := keptRequestTimeout
	t.Cleanup(func() { keptRequestTimeout = saved })
	keptRequestTimeout = 200 * time.Millisecond
	home := exampleHome(t)
	st, r, _ := keep(t, home, "hello")
	c, err := keepwire.Dial(keeperSocket(home, st))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent caller: read %d, %v; want the keeper to hang up", n, err)
	}
	if used, err := st.CallKeeper(ctxT(t, 5*time.Second), home, r, "Greet", nil, CallOptions{}, func([]byte) error { return nil }); !used || err != nil {
		t.Fatalf("CallKeeper after a silent caller: %v, %v", used, err)
	}
}
