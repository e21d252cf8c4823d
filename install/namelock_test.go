package install

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// An install and a removal of every version of the same plugin, at once
// (two CI jobs sharing a home): the installed version is either removed by
// that removal, and said to be, or still installed afterwards, never lost
// silently; and current never names a version that is not installed.
func TestInstallAndRemoveAllTakeTurns(t *testing.T) {
	in, src, sum := testInstaller(t)
	p := in.Paths
	req := func(v string) Request {
		return Request{Name: "tool", Version: v, Source: src, SHA256: sum, Platform: "linux/amd64"}
	}
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		// Several versions, so that the removal takes a while.
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
			if _, err := in.Install(ctx, req(v)); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var installErr, removeErr error
		var rm *Removal
		wg.Add(2)
		go func() { defer wg.Done(); _, installErr = in.Install(ctx, req("2.0.0")) }()
		go func() { defer wg.Done(); rm, removeErr = in.Remove(ctx, "tool", "") }()
		wg.Wait()
		if removeErr != nil {
			t.Fatalf("round %d: remove: %v", i, removeErr)
		}
		_, readErr := p.ReadReceipt("tool", "2.0.0")
		if installErr == nil && readErr != nil && !slices.Contains(rm.Removed, "2.0.0") {
			t.Fatalf("round %d: install of 2.0.0 succeeded, the removal did not remove it, and it is gone: %v", i, readErr)
		}
		active, err := p.Active("tool")
		if err != nil {
			t.Fatal(err)
		}
		if active != "" {
			if _, err := p.ReadReceipt("tool", active); err != nil {
				t.Fatalf("round %d: current names %s, which is not installed: %v", i, active, err)
			}
		}
		if _, err := in.Remove(ctx, "tool", ""); err != nil && readErr == nil {
			t.Fatal(err)
		}
	}
}
