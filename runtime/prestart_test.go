package runtime

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/prestart"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// prestarted starts name@1.0.0 of home as plugctl's fast path does while
// plugctl initialises, and returns its pid.
func prestarted(t *testing.T, home store.Paths, name string) int {
	t.Helper()
	t.Cleanup(prestart.Discard)
	r, err := home.ReadReceipt(name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	spec := SpecFromReceipt(home, r)
	// install leaves the identity record; the example home has none.
	if _, err := verify.HashExecutable(spec.Exe, spec.RecordPath); err != nil {
		t.Fatal(err)
	}
	what := prestart.Start(home.Home, name, "1.0.0")
	m := regexp.MustCompile(`^started .* early \(pid (\d+)\)$`).FindStringSubmatch(what)
	if m == nil {
		t.Fatalf("prestart: %s", what)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
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

func specOf(t *testing.T, home store.Paths, name string) Spec {
	t.Helper()
	r, err := home.ReadReceipt(name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	return SpecFromReceipt(home, r)
}

func TestLaunchAdoptsPrestarted(t *testing.T) {
	home := exampleHome(t)
	pid := prestarted(t, home, "kv")
	ctx := ctxT(t, 30*time.Second)
	p := launch(t, ctx, specOf(t, home, "kv"), Options{Home: home})
	if p.Pid() != pid {
		t.Fatalf("launched pid %d, not the prestarted %d (%s)", p.Pid(), pid, prestart.Report())
	}
	if r := prestart.Report(); !strings.HasSuffix(r, ": adopted") {
		t.Errorf("report: %s", r)
	}
	mustCall(t, p, "Put", `{"key": "a", "value": "YQ=="}`, CallOptions{})
	if got := mustCall(t, p, "Get", `{"key": "a"}`, CallOptions{}); !equal(got, []string{`{"value":"YQ=="}`}) {
		t.Errorf("Get: %v", got)
	}
	// launch's cleanup checks that Close reaps it and removes the socket
	// directory the prestart made.
}

// A prestarted process that is not what the launch would start is killed,
// and the launch starts its own.
func TestLaunchKillsMismatchedPrestart(t *testing.T) {
	home := exampleHome(t)
	for _, tc := range []struct {
		name, plugin string
		opt          Options
		why          string
	}{
		{"env", "kv", Options{Home: home, Env: []string{"X=1"}}, "another environment"},
		{"dir", "kv", Options{Home: home, Dir: t.TempDir()}, "another working directory"},
		{"exe", "greeter", Options{Home: home}, "another executable: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid := prestarted(t, home, "kv")
			p := launch(t, ctxT(t, 30*time.Second), specOf(t, home, tc.plugin), tc.opt)
			if p.Pid() == pid {
				t.Fatalf("adopted the prestarted process")
			}
			if r := prestart.Report(); !strings.Contains(r, ": not adopted ("+tc.why) || !strings.HasSuffix(r, "), killed") {
				t.Errorf("report: %s", r)
			}
			assertGone(t, pid)
			if err := p.Ping(ctxT(t, 10*time.Second)); err != nil {
				t.Errorf("the launched plugin: %v", err)
			}
		})
	}
}

// Nothing of a process nobody adopts outlives Discard: the process, its
// pipes' readers, its socket directory.
func TestDiscardPrestarted(t *testing.T) {
	home := exampleHome(t)
	pid := prestarted(t, home, "hello")
	prestart.Discard()
	assertGone(t, pid)
	if r := prestart.Report(); !strings.HasSuffix(r, "not adopted (not launched), killed") {
		t.Errorf("report: %s", r)
	}
	assertNoSocketDirs(t, home)
	if _, err := os.Stat(home.Run()); err != nil {
		t.Errorf("run/: %v", err)
	}
}

// A launch cancelled between taking the process and starting its runner
// kills it rather than leave it to run until plugctl exits.
func TestCancelledAdoptionKills(t *testing.T) {
	home := exampleHome(t)
	pid := prestarted(t, home, "kv")
	pre := prestart.Take()
	if pre == nil || pre.Pid != pid {
		t.Fatalf("Take: %+v", pre)
	}
	r := adoptRunner("kv", pre)
	r.killed = new(atomic.Bool)
	r.killed.Store(true)
	if err := r.Start(context.Background()); err != context.Canceled {
		t.Fatalf("Start: %v, want context.Canceled", err)
	}
	assertGone(t, pid)
	if rep := prestart.Report(); !strings.HasSuffix(rep, "not adopted (cancelled), killed") {
		t.Errorf("report: %s", rep)
	}
	assertNoSocketDirs(t, home)
}
