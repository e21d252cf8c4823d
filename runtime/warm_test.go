//go:build unix

package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugctl/plugctl/store"
)

// startedTB starts name@1.0.0 of home detached and stops it when tb ends.
func startedTB(tb testing.TB, home store.Paths, name string) *StartedPlugin {
	tb.Helper()
	r, err := home.ReadReceipt(name, "1.0.0")
	if err != nil {
		tb.Fatal(err)
	}
	st, started, err := Start(ctxT(tb, 30*time.Second), SpecFromReceipt(home, r), Options{Home: home})
	if err != nil || !started {
		tb.Fatalf("Start: %v %v", started, err)
	}
	tb.Cleanup(func() {
		if _, err := Stop(context.Background(), home, name, "1.0.0"); err != nil && !errors.Is(err, ErrNotStarted) {
			tb.Errorf("Stop: %v", err)
		}
	})
	return st
}

// BenchmarkWarmCallPhases splits what plugctl call does with a started
// plugin (attach, call, close), in wall time, for net/rpc and gRPC.
func BenchmarkWarmCallPhases(b *testing.B) {
	home := exampleHome(b)
	for _, tc := range []struct{ name, method, args string }{
		{"hello", "Greet", ``},
		{"kv", "Put", `{"key":"k","value":"v"}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			startedTB(b, home, tc.name)
			var attachD, schemaD, callD, closeD time.Duration
			n := 0
			for b.Loop() {
				ctx := ctxT(b, 10*time.Second)
				t0 := time.Now()
				p, ok, err := Attach(ctx, home, tc.name, "1.0.0", Options{Home: home})
				if err != nil || !ok {
					b.Fatalf("Attach: %v %v", ok, err)
				}
				t1 := time.Now()
				if p.Protocol() == ProtocolGRPC {
					// From the reflection cache after the first call.
					if _, err := p.schemaFor(ctx, CallOptions{}, tc.method); err != nil {
						b.Fatal(err)
					}
				}
				ts := time.Now()
				mustCall(b, p, tc.method, tc.args, CallOptions{})
				t2 := time.Now()
				p.Close()
				t3 := time.Now()
				attachD += t1.Sub(t0)
				schemaD += ts.Sub(t1)
				callD += t2.Sub(ts)
				closeD += t3.Sub(t2)
				n++
			}
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
			b.ReportMetric(per(attachD), "attach-ms")
			b.ReportMetric(per(schemaD), "schema-ms")
			b.ReportMetric(per(callD), "call-ms")
			b.ReportMetric(per(closeD), "close-ms")
		})
	}
}

// A record whose process is gone is stale: Attach says not attached (the
// caller launches a fresh process) and removes it.
func TestAttachStaleRecord(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	for _, name := range []string{"kv", "hello"} {
		t.Run(name, func(t *testing.T) {
			st := startedTB(t, home, name)
			killGroup(st.Pid)
			if !waitProcGone(st, 5*time.Second) {
				t.Fatalf("pid %d still runs", st.Pid)
			}
			p, ok, err := Attach(ctxT(t, 10*time.Second), home, name, "1.0.0", Options{})
			if err != nil || ok || p != nil {
				t.Fatalf("Attach = %v, %v, %v; want not attached, no error", p, ok, err)
			}
			if _, err := ReadStarted(home, name, "1.0.0"); !errors.Is(err, ErrNotStarted) {
				t.Errorf("the stale record was left: %v", err)
			}
		})
	}
}

// A process that runs but whose socket is dead is not attached to either:
// its group is killed and its record removed.
func TestAttachDeadSocket(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	for _, name := range []string{"kv", "hello"} {
		t.Run(name, func(t *testing.T) {
			st := startedTB(t, home, name)
			if err := os.Remove(st.Address); err != nil {
				t.Fatal(err)
			}
			p, ok, err := Attach(ctxT(t, 10*time.Second), home, name, "1.0.0", Options{})
			if err != nil || ok || p != nil {
				t.Fatalf("Attach = %v, %v, %v; want not attached, no error", p, ok, err)
			}
			if !waitProcGone(st, 5*time.Second) {
				t.Errorf("pid %d still runs", st.Pid)
			}
			if _, err := ReadStarted(home, name, "1.0.0"); !errors.Is(err, ErrNotStarted) {
				t.Errorf("the record was left: %v", err)
			}
		})
	}
}

// unixProxy listens on a unix socket and forwards every connection to
// target, counting them.
type unixProxy struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

func newUnixProxy(t *testing.T, target string) *unixProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "px")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	px := &unixProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); px.wg.Wait() })
	px.wg.Add(1)
	go func() {
		defer px.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			px.conns.Add(1)
			u, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			px.wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer px.wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	return px
}

// A warm call connects to the plugin once: the connection that tells a
// dead socket is the one calls use (net/rpc and gRPC).
func TestAttachConnectsOnce(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	for _, tc := range []struct{ name, method, args, want string }{
		{"kv", "Put", `{"key":"k","value":"v"}`, `{}`},
		{"hello", "Greet", ``, `"Hello!"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := startedTB(t, home, tc.name)
			// Point the record at a counting proxy of the plugin's socket.
			px := newUnixProxy(t, st.Address)
			rec := *st
			rec.Address = px.ln.Addr().String()
			if err := writeState(home, &rec); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = writeState(home, st) }) // for Stop's cleanup
			for i := range 2 {
				p, ok, err := Attach(ctxT(t, 10*time.Second), home, tc.name, "1.0.0", Options{})
				if err != nil || !ok {
					t.Fatalf("Attach: %v %v", ok, err)
				}
				if out := mustCall(t, p, tc.method, tc.args, CallOptions{}); len(out) != 1 || out[0] != tc.want {
					t.Errorf("%s = %v, want %s", tc.method, out, tc.want)
				}
				p.Close()
				if got := px.conns.Load(); got != int32(i+1) {
					t.Errorf("after %d warm calls: %d connections, want %d", i+1, got, i+1)
				}
			}
		})
	}
}
