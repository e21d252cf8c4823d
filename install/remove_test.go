package install

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugctl/plugctl/store"
)

// currentIsInstalled fails t when name's current file names a version
// whose receipt is missing.
func currentIsInstalled(t *testing.T, p store.Paths, name, when string) {
	t.Helper()
	b, err := os.ReadFile(p.CurrentFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatalf("%s: read current: %v", when, err)
	}
	v := strings.TrimSpace(string(b))
	if _, err := os.Stat(p.ReceiptFile(name, v)); err != nil {
		t.Errorf("%s: current names %s, which is not installed: %v", when, v, err)
	}
}

// Removing the active version moves current first: at every step of the
// removal (where a kill -9 could stop it), current names an installed
// version or none.
func TestRemoveActiveMovesCurrentFirst(t *testing.T) {
	in, src, sum := testInstaller(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		if _, err := in.Install(ctx, Request{Name: "tool", Version: v, Source: src, SHA256: sum}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Use(ctx, "tool", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	var stages []string
	in.Hook = func(stage string) {
		stages = append(stages, stage)
		currentIsInstalled(t, in.Paths, "tool", "at "+stage)
	}
	rm, err := in.Remove(ctx, "tool", "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if rm.NewActive != "1.1.0" || !rm.WasActive {
		t.Errorf("Remove = %+v, want 1.1.0 active", rm)
	}
	if a, _ := in.Paths.Active("tool"); a != "1.1.0" {
		t.Errorf("active = %q, want 1.1.0", a)
	}
	// Every version at once: current goes before the versions do.
	if _, err := in.Remove(ctx, "tool", ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(stages, " "), "discarded") {
		t.Fatalf("the hook saw no version discarded: %v", stages)
	}
	if _, err := os.Stat(in.Paths.PluginDir("tool")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("plugin directory left after removing every version: %v", err)
	}
}

// The suite's check of the invariant under load: a loop installs, uses
// and removes the active version while a reader looks at current without
// pause. The reader holds current open while it checks the receipt and
// then checks that the path still is that file (a rename replaces it; the
// open descriptor keeps its inode from being reused), so a version removed
// after current moved on is not mistaken for a broken invariant.
func TestCurrentNeverNamesARemovedVersion(t *testing.T) {
	in, src, sum := testInstaller(t)
	p := in.Paths
	ctx := context.Background()
	req := func(v string) Request { return Request{Name: "tool", Version: v, Source: src, SHA256: sum} }
	if _, err := in.Install(ctx, req("1.0.0")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var looks, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			f, err := os.Open(p.CurrentFile("tool"))
			if err != nil {
				continue // none: allowed
			}
			fi, ferr := f.Stat()
			// Read through the descriptor: the content of this very file.
			buf := make([]byte, 256)
			n, _ := f.ReadAt(buf, 0)
			v := strings.TrimSpace(string(buf[:n]))
			_, rerr := os.Stat(p.ReceiptFile("tool", v))
			now, lerr := os.Stat(p.CurrentFile("tool"))
			f.Close()
			looks.Add(1)
			if rerr != nil && ferr == nil && lerr == nil && os.SameFile(fi, now) {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, "current named "+v+" while it was not installed")
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 40 && time.Now().Before(deadline); i++ {
		next := []string{"2.0.0", "3.0.0"}[i%2]
		if _, err := in.Install(ctx, req(next)); err != nil {
			t.Fatal(err)
		}
		active, _ := p.Active("tool")
		if _, err := in.Use(ctx, "tool", next); err != nil {
			t.Fatal(err)
		}
		// Back to the old one, then remove the active version.
		if _, err := in.Use(ctx, "tool", active); err != nil {
			t.Fatal(err)
		}
		if _, err := in.Remove(ctx, "tool", active); err != nil {
			t.Fatal(err)
		}
		if a, _ := p.Active("tool"); a != next {
			t.Fatalf("round %d: after removing the active %s, active is %q, want %s", i, active, a, next)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d of %d looks at current saw a removed version (first: %v)", n, looks.Load(), firstBad.Load())
	}
	if looks.Load() == 0 {
		t.Fatal("the reader never looked at current")
	}
}
